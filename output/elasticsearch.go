package output

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("elasticsearch", Kind{FlagArg: "url", Open: fromSpec(OpenElasticsearch)})
}

var _ Sink = (*Elasticsearch)(nil)

// Elasticsearch indexes batches through the _bulk API of Elasticsearch or
// OpenSearch (Elasticsearch reference, "Bulk API"):
//
//	outputs:
//	  - type: elasticsearch
//	    url: https://es:9200                 # /_bulk is appended
//	    format: ecs                          # documents: any JSON format
//	    index: audit-%Y.%m.%d                # from the event's time, UTC
//	    api_key: <encoded>                   # or username/password
//
// Each event is a "create" with _id = the event id, so a batch sent again
// after a lost reply does not duplicate anything: Elasticsearch answers
// 409 (version conflict) for the events it already has, which count as
// delivered.
//
// The reply is read per item: 2xx and 409 are delivered; 429 (the
// es_rejected_execution_exception of a full write queue) and 5xx are
// retried; any other item status (mapper_parsing_exception,
// index_not_found_exception, ...) is permanent with Elasticsearch's reason.
// Write then returns *ItemErrors listing only the failed events. A whole
// request that fails follows the shared classification (408/429/5xx
// retried, other 4xx permanent), except 413: the batch is over the
// cluster's http.max_content_length (100mb by default). Splitting batches
// is out of scope, so it is permanent (the events reach the dead-letter
// file rather than blocking the output for good) and the log says to
// lower the output's batch size.
type Elasticsearch struct {
	*httpClient
	format   format.Format
	index    string // a pattern: literal text with %Y %m %d %H %%
	bulkURL  string // url with the filter_path that trims the reply
	size     bodySize
	hourless bool // index has no %H: one name per day
}

type esOptions struct {
	httpOptions `yaml:",inline"`
	// Index names the index (or data stream) of each event, with %Y, %m,
	// %d and %H from the event's time in UTC and %% for a percent sign.
	// "" means auditproxy-%Y.%m.%d.
	Index string `yaml:"index"`
	// APIKey is an Elasticsearch API key, sent as "Authorization: ApiKey
	// <key>": the "encoded" value the create API key call returns, or
	// "id:api_key", which is encoded here. Not with username/password.
	APIKey string `yaml:"api_key"`
}

// bulkFilter asks for only what Write reads (Elasticsearch reference,
// "Response filtering", which OpenSearch shares): a reply for 500 events
// shrinks from about 100 KB to a few.
const bulkFilter = "filter_path=errors,items.*.status,items.*.error"

// OpenElasticsearch builds the elasticsearch sink a spec describes.
func OpenElasticsearch(s Spec) (*Elasticsearch, error) {
	var o esOptions
	if err := s.DecodeOptions(&o); err != nil {
		return nil, err
	}
	f, err := format.Get(s.Format)
	if err != nil {
		return nil, err
	}
	if !isJSONFormat(f) {
		return nil, fmt.Errorf("format: elasticsearch indexes JSON documents, but %s writes text (%s); use json, ecs, ocsf or cloudevents", f.Name(), f.ContentType())
	}
	if o.Index == "" {
		o.Index = "auditproxy-%Y.%m.%d"
	}
	if err := checkIndexPattern(o.Index); err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	es := &Elasticsearch{format: f, index: o.Index, hourless: !strings.Contains(o.Index, "%H")}
	if es.httpClient, err = newHTTPClient(s, "elasticsearch", o.httpOptions, "/_bulk"); err != nil {
		return nil, err
	}
	if o.APIKey != "" {
		key := o.APIKey
		if strings.Contains(key, ":") { // id:api_key, not yet encoded
			key = base64.StdEncoding.EncodeToString([]byte(key))
		}
		es.addSecret(o.APIKey)
		if err := es.setAuthorization("ApiKey "+key, "api_key"); err != nil {
			return nil, err
		}
	}
	es.bulkURL = es.url + "?" + bulkFilter
	if strings.Contains(es.url, "?") {
		es.bulkURL = es.url + "&" + bulkFilter
	}
	return es, nil
}

// checkIndexPattern accepts only the directives indexName knows, and only
// patterns whose names Elasticsearch accepts (lowercase; none of
// \ / * ? " < > | , # or space; not starting with - _ +; at most 255
// bytes).
func checkIndexPattern(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] == '%' {
			if i+1 == len(p) || !strings.ContainsRune("YmdH%", rune(p[i+1])) {
				return fmt.Errorf("%q: only %%Y, %%m, %%d, %%H and %%%% may follow %%", p)
			}
			i++
		}
	}
	name := indexName(nil, p, time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC))
	switch {
	case bytes.ContainsAny(name, `\/*?"<>|,# `) || !bytes.Equal(bytes.ToLower(name), name):
		return fmt.Errorf("%q: Elasticsearch index names are lowercase, without \\ / * ? \" < > | , # or spaces", p)
	case len(name) == 0 || strings.ContainsRune("-_+", rune(name[0])) || string(name) == "." || string(name) == "..":
		return fmt.Errorf("%q: Elasticsearch index names do not start with - _ or + and are not . or ..", p)
	case len(name) > 255:
		return fmt.Errorf("%q: Elasticsearch index names are at most 255 bytes", p)
	}
	return nil
}

// indexName appends the index for an event at t, in UTC.
func indexName(dst []byte, pattern string, t time.Time) []byte {
	t = t.UTC()
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' || i+1 == len(pattern) {
			dst = append(dst, c)
			continue
		}
		i++
		switch pattern[i] {
		case 'Y':
			dst = appendPadded(dst, t.Year(), 4)
		case 'm':
			dst = appendPadded(dst, int(t.Month()), 2)
		case 'd':
			dst = appendPadded(dst, t.Day(), 2)
		case 'H':
			dst = appendPadded(dst, t.Hour(), 2)
		default: // %%
			dst = append(dst, pattern[i])
		}
	}
	return dst
}

func appendPadded(dst []byte, n, width int) []byte {
	for s := strconv.Itoa(n); width > len(s); width-- {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// Write indexes the batch in one _bulk request. A batch Elasticsearch
// took in part returns *ItemErrors naming the events it did not take.
func (es *Elasticsearch) Write(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	body := es.encode(es.size.buffer(len(events)), events)
	es.size.learn(body, len(events))
	r, err := es.post(ctx, es.bulkURL, "application/x-ndjson", nil, body)
	switch {
	case err != nil:
	case r.status == 413:
		es.log.Warn().Int("events", len(events)).Int("bytes", len(body)).Msg("elasticsearch refused a batch as too large (http.max_content_length): lower this output's batch size")
		err = Permanent(fmt.Errorf("413 Request Entity Too Large: a batch of %d bytes is over the cluster's http.max_content_length; lower the output's batch size", len(body)))
	case !r.ok():
		err = es.statusError(r, esErrorDetail(r.body), retryableStatus)
	default:
		err = es.itemErrors(r.body, len(events))
	}
	if err != nil {
		return fmt.Errorf("sending %d events to %s: %w", len(events), es.where, err)
	}
	return nil
}

// encode writes the _bulk body: per event a create action line with
// _index and _id, then the document line.
func (es *Elasticsearch) encode(dst []byte, events []event.Event) []byte {
	var name []byte
	var nameFor time.Time // name is the index for times in the same day (or hour)
	for i := range events {
		t := events[i].Time.UTC()
		period := t.Truncate(time.Hour)
		if es.hourless {
			period = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		}
		if name == nil || !period.Equal(nameFor) {
			name, nameFor = indexName(name[:0], es.index, t), period
		}
		dst = append(dst, `{"create":{"_index":`...)
		dst = appendJSONString(dst, name)
		dst = append(dst, `,"_id":`...)
		dst = appendJSONString(dst, events[i].ID)
		dst = append(dst, "}}\n"...)
		dst = es.format.Append(dst, &events[i])
		dst = append(dst, '\n')
	}
	return dst
}

// bulkItem is one entry of a _bulk reply's items, keyed by the action.
type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// itemErrors reads a 2xx _bulk reply: nil when every item was created or
// already there (409), else the failed items.
func (es *Elasticsearch) itemErrors(body []byte, n int) error {
	var head struct {
		Errors *bool `json:"errors"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.Errors == nil {
		// Not a _bulk reply (a proxy's page?): nothing says what was
		// indexed, so all of it goes again; the ids keep it single.
		return fmt.Errorf("reading the _bulk reply: not a bulk response: %s", es.scrub(shorten(string(body), 200)))
	}
	if !*head.Errors {
		return nil
	}
	var reply struct {
		Items []map[string]bulkItem `json:"items"`
	}
	if err := json.Unmarshal(body, &reply); err != nil || len(reply.Items) != n {
		return fmt.Errorf("reading the _bulk reply: %d items for %d events (%v)", len(reply.Items), n, err)
	}
	var failed []ItemError
	for i, item := range reply.Items {
		for _, it := range item { // one key: the action, "create"
			if it.Status/100 == 2 || it.Status == 409 {
				continue
			}
			err := fmt.Errorf("status %d: %s", it.Status, shorten(esErrorText(it.Error), maxDetail))
			if !retryableStatus(it.Status) {
				err = Permanent(err)
			}
			failed = append(failed, ItemError{Index: i, Err: err})
		}
	}
	if failed == nil {
		return nil // errors: true for 409s only: all delivered
	}
	return &ItemErrors{Items: failed}
}

// esErrorDetail reads Elasticsearch's error reply, {"error":{"type":...,
// "reason":...},"status":N}, falling back to the raw text (a proxy's).
func esErrorDetail(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		return esErrorText(e.Error)
	}
	return string(body)
}

// esErrorText turns an error object into "type: reason (caused by type:
// reason)"; very old versions sent a plain string.
func esErrorText(raw json.RawMessage) string {
	type cause struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	var e struct {
		cause
		CausedBy *cause `json:"caused_by"`
	}
	if err := json.Unmarshal(raw, &e); err == nil && e.Type != "" {
		s := e.Type + ": " + e.Reason
		if e.CausedBy != nil {
			s += " (caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason + ")"
		}
		return s
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if len(raw) == 0 {
		return "no reason given"
	}
	return string(raw)
}
