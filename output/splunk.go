package output

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("splunk", Kind{FlagArg: "url", Open: fromSpec(OpenSplunk)})
}

var _ Sink = (*Splunk)(nil)

// Splunk sends batches to Splunk's HTTP Event Collector (POST
// /services/collector/event; Splunk docs, "Format events for HTTP Event
// Collector" and "HTTP Event Collector REST API endpoints"):
//
//	outputs:
//	  - type: splunk
//	    url: https://splunk:8088          # /services/collector/event is appended
//	    token: 12345678-1234-1234-1234-123456789012
//	    sourcetype: auditproxy:audit      # the default
//	    index: audit                      # host, source, index: "" = the token's defaults
//	    ack: true                         # wait for indexer acknowledgement
//
// The body is one JSON object per event, {"time": <epoch seconds with
// milliseconds>, "host", "source", "sourcetype", "index", "event": the
// record}, the record as a JSON object for JSON formats and as a string for
// text ones (cef, text).
//
// HEC answers {"text": ..., "code": n} with an HTTP status that goes with
// the code (Splunk docs, "Troubleshoot HTTP Event Collector", status codes
// table), so the status decides: 500 (code 8, internal error) and 503
// (code 9 server busy, 18-20 unhealthy) are retried, 503 after its
// Retry-After; 400, 401 and 403 are permanent. The error carries HEC's
// text and code, and a hint for the ones a setting fixes: 1-4 (token
// disabled, missing, malformed or unknown: check token), 7 (index not
// allowed for the token), 10, 11 and 14 (indexer acknowledgement and
// ack: disagree). For 6, 12 and 13 (invalid event) HEC names the first bad
// event (invalid-event-number); the error names its id. HEC does not say
// what it did with the events around it, so the whole batch is permanent:
// the dead-letter file gets it all, rather than risk losing some.
//
// With ack: true (Splunk Enterprise, "About HTTP Event Collector Indexer
// Acknowledgment"), requests carry a channel (X-Splunk-Request-Channel, a
// UUID per sink) and Write returns only once /services/collector/ack says
// the batch's ackId is indexed, polling every ack_interval. No answer
// within ack_timeout is a retryable error: the batch goes again, and may
// then be in Splunk twice (HEC has no dedup by id).
type Splunk struct {
	*httpClient
	format      format.Format
	jsonRecords bool   // records are JSON objects, not strings
	meta        []byte // `,"host":...,"sourcetype":...` shared by every event
	header      http.Header
	ack         bool
	ackURL      string
	ackTimeout  time.Duration
	ackInterval time.Duration
	size        bodySize
}

type splunkOptions struct {
	httpOptions `yaml:",inline"`
	// Token is the HEC token, sent as "Authorization: Splunk <token>".
	Token string `yaml:"token"`
	// Host, Source and Index are set on every event; "" leaves them to
	// the token's defaults.
	Host   string `yaml:"host"`
	Source string `yaml:"source"`
	Index  string `yaml:"index"`
	// Sourcetype of every event; "" means auditproxy:audit.
	Sourcetype string `yaml:"sourcetype"`
	// Ack waits for indexer acknowledgement; the token must have it on.
	Ack bool `yaml:"ack"`
	// AckTimeout bounds the wait for one batch's acknowledgement; 0 means
	// 2 minutes.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// AckInterval is the time between two polls; 0 means 1 second.
	AckInterval time.Duration `yaml:"ack_interval"`
}

// OpenSplunk builds the splunk sink a spec describes.
func OpenSplunk(s Spec) (*Splunk, error) {
	var o splunkOptions
	if err := s.DecodeOptions(&o); err != nil {
		return nil, err
	}
	f, err := format.Get(s.Format)
	if err != nil {
		return nil, err
	}
	if o.Token == "" {
		return nil, errors.New("token: required (the HEC token)")
	}
	if o.AckTimeout < 0 || o.AckInterval < 0 {
		return nil, errors.New("ack_timeout, ack_interval: must not be negative")
	}
	sp := &Splunk{format: f, jsonRecords: isJSONFormat(f), ack: o.Ack, ackTimeout: o.AckTimeout, ackInterval: o.AckInterval}
	if sp.ackTimeout == 0 {
		sp.ackTimeout = 2 * time.Minute
	}
	if sp.ackInterval == 0 {
		sp.ackInterval = time.Second
	}
	if o.Sourcetype == "" {
		o.Sourcetype = "auditproxy:audit"
	}
	for _, kv := range [][2]string{{"host", o.Host}, {"source", o.Source}, {"sourcetype", o.Sourcetype}, {"index", o.Index}} {
		if kv[1] != "" {
			sp.meta = append(sp.meta, `,"`+kv[0]+`":`...)
			sp.meta = appendJSONString(sp.meta, kv[1])
		}
	}
	if sp.httpClient, err = newHTTPClient(s, "splunk", o.httpOptions, "/services/collector/event"); err != nil {
		return nil, err
	}
	sp.addSecret(o.Token)
	if err := sp.setAuthorization("Splunk "+o.Token, "token"); err != nil {
		return nil, err
	}
	if sp.ack {
		u, _ := url.Parse(sp.url) // newHTTPClient made it
		u.Path = strings.TrimSuffix(u.Path, "/event") + "/ack"
		sp.ackURL = u.String()
		sp.header = http.Header{}
		sp.header.Set("X-Splunk-Request-Channel", event.NewID())
	}
	return sp, nil
}

// hecReply is what HEC answers to every request.
type hecReply struct {
	Text         string `json:"text"`
	Code         *int   `json:"code"`
	InvalidEvent *int   `json:"invalid-event-number"`
	AckID        *int64 `json:"ackId"`
}

// Write sends the batch in one request and, with ack: true, waits until
// Splunk has indexed it.
func (sp *Splunk) Write(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil // HEC refuses an empty body (code 5, "No data")
	}
	body := sp.encode(sp.size.buffer(len(events)), events)
	sp.size.learn(body, len(events))
	r, err := sp.post(ctx, sp.url, "application/json", sp.header, body)
	if err == nil {
		var hr hecReply
		json.Unmarshal(r.body, &hr) // a proxy's page leaves it empty
		switch {
		case !r.ok():
			err = sp.statusError(r, hecDetail(r.body, hr, events), retryableStatus)
		case sp.ack && hr.AckID == nil:
			sp.log.Warn().Msg("splunk: ack: true, but HEC gave no ackId (indexer acknowledgement is off for this token): events count as delivered on receipt")
		case sp.ack:
			err = sp.waitAck(ctx, *hr.AckID)
		}
	}
	if err != nil {
		return fmt.Errorf("sending %d events to %s: %w", len(events), sp.where, err)
	}
	return nil
}

// encode writes the events as concatenated JSON objects, one per line.
func (sp *Splunk) encode(dst []byte, events []event.Event) []byte {
	var rec []byte
	for i := range events {
		dst = append(dst, `{"time":`...)
		dst = strconv.AppendFloat(dst, float64(events[i].Time.UnixMilli())/1000, 'f', 3, 64) // exact: ms epochs fit a float64's 53 bits
		dst = append(dst, sp.meta...)
		dst = append(dst, `,"event":`...)
		if sp.jsonRecords {
			dst = sp.format.Append(dst, &events[i])
		} else {
			rec = sp.format.Append(rec[:0], &events[i])
			dst = appendJSONString(dst, rec)
		}
		dst = append(dst, "}\n"...)
	}
	return dst
}

// hecHints are what to do about the HEC codes a setting fixes.
var hecHints = map[int]string{
	1:  "check token: it is disabled",
	2:  "check token",
	3:  "check token",
	4:  "check token: HEC does not know it",
	7:  "check index: the token may not write to it",
	10: "the token has indexer acknowledgement on: set ack: true",
	11: "the token has indexer acknowledgement on: set ack: true",
	14: "the token has indexer acknowledgement off: set ack: false",
}

// hecDetail is HEC's text and code, the hint for the code, and the id of
// the event HEC found invalid.
func hecDetail(body []byte, hr hecReply, events []event.Event) string {
	if hr.Code == nil {
		return string(body) // not HEC's reply: a proxy's
	}
	s := fmt.Sprintf("%s (code %d)", hr.Text, *hr.Code)
	if hint := hecHints[*hr.Code]; hint != "" {
		s += "; " + hint
	}
	if n := hr.InvalidEvent; n != nil && *n >= 0 && *n < len(events) {
		s += fmt.Sprintf("; first invalid event: number %d, id %s", *n, events[*n].ID)
	}
	return s
}

// waitAck polls the ack endpoint until Splunk says ackID is indexed, the
// ack timeout passes, or ctx ends. A failed poll is tried again until the
// timeout, unless Splunk says it never will work (a permanent status).
func (sp *Splunk) waitAck(ctx context.Context, ackID int64) error {
	deadline := time.Now().Add(sp.ackTimeout)
	body := []byte(`{"acks":[` + strconv.FormatInt(ackID, 10) + `]}`)
	key := strconv.FormatInt(ackID, 10)
	var last error
	t := time.NewTimer(sp.ackInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for indexer acknowledgement (ackId %d): %w", ackID, ctx.Err())
		case <-t.C:
		}
		r, err := sp.post(ctx, sp.ackURL, "application/json", sp.header, body)
		switch {
		case err != nil:
			last = err
		case !r.ok():
			var hr hecReply
			json.Unmarshal(r.body, &hr)
			last = sp.statusError(r, hecDetail(r.body, hr, nil), retryableStatus)
			if IsPermanent(last) {
				return fmt.Errorf("asking for indexer acknowledgement (ackId %d): %w", ackID, last)
			}
		default:
			var acks struct {
				Acks map[string]bool `json:"acks"`
			}
			if err := json.Unmarshal(r.body, &acks); err != nil {
				last = fmt.Errorf("reading the ack reply: %w", err)
			} else if acks.Acks[key] {
				return nil
			}
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("not acknowledged by the indexers within %v (ackId %d)", sp.ackTimeout, ackID)
			if last != nil {
				err = fmt.Errorf("%w; last poll: %w", err, last)
			}
			return err
		}
		t.Reset(sp.ackInterval)
	}
}
