package output

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("otlp", Kind{FlagArg: "url", Open: fromSpec(OpenOTLP)})
}

var _ Sink = (*OTLP)(nil)

// OTLP exports batches as OpenTelemetry logs over OTLP/HTTP with JSON
// encoding (POST /v1/logs, an ExportLogsServiceRequest; OTLP
// specification, "OTLP/HTTP" and "JSON Protobuf Encoding"):
//
//	outputs:
//	  - type: otlp
//	    url: http://otel-collector:4318     # /v1/logs is appended
//	    headers: {Authorization: Bearer ...}
//	    resource_attributes: {deployment.environment.name: prod}
//
// Events are grouped by app into resourceLogs with service.name = the app
// (events without one: the resource_attributes' service.name, else
// "auditproxy"), under one scope named "auditproxy". Each log record has
// the event's time, the time of sending as observed time, a severity
// (debug 5, info 9, notice 10, warning 13, error 17, critical 21: the
// DEBUG, INFO, INFO2, WARN, ERROR and FATAL ranges of the logs data model),
// the record of the output's format as a string body, and the fields worth
// querying as attributes named after the OpenTelemetry semantic
// conventions where one exists (event.name = action, log.record.uid = the
// event id, which the conventions make the dedup key for duplicates,
// user.*, http.*, url.*, client.address, ...) and auditproxy.* otherwise.
//
// Per the OTLP/HTTP spec ("Failures"), 429, 502, 503 and 504 are retried,
// 429 and 503 after their Retry-After ("Throttling"); every other 4xx and
// 5xx is permanent ("MUST NOT be retried"), with the google.rpc.Status
// message of the reply. A 200 may carry partialSuccess with a count of
// rejected records, but not which: the spec says not to retry it. When
// all were rejected the batch is Permanent (it reaches the dead-letter
// file); when some were, Write returns nil and logs an error with the
// count and the collector's message, the one report possible.
type OTLP struct {
	*httpClient
	format   format.Format
	resource []byte // the static resource attributes, each preceded by a comma
	service  string // service.name of events without an app
	size     bodySize
}

type otlpOptions struct {
	httpOptions `yaml:",inline"`
	// ResourceAttributes are added to every resource. Their service.name,
	// if any, names the service of events without an app.
	ResourceAttributes map[string]string `yaml:"resource_attributes"`
}

// otlpRetryable is the OTLP/HTTP list of retryable statuses.
func otlpRetryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// OpenOTLP builds the otlp sink a spec describes.
func OpenOTLP(s Spec) (*OTLP, error) {
	var o otlpOptions
	if err := s.DecodeOptions(&o); err != nil {
		return nil, err
	}
	f, err := format.Get(s.Format)
	if err != nil {
		return nil, err
	}
	x := &OTLP{format: f, service: "auditproxy"}
	for _, k := range slices.Sorted(maps.Keys(o.ResourceAttributes)) {
		if k == "service.name" {
			x.service = o.ResourceAttributes[k]
			continue
		}
		x.resource = append(x.resource, ',')
		x.resource = appendStringAttr(x.resource, k, o.ResourceAttributes[k])
	}
	if x.httpClient, err = newHTTPClient(s, "otlp", o.httpOptions, "/v1/logs"); err != nil {
		return nil, err
	}
	return x, nil
}

// Write exports the batch in one request.
func (x *OTLP) Write(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	body := x.encode(x.size.buffer(len(events)), events, time.Now())
	x.size.learn(body, len(events))
	r, err := x.post(ctx, x.url, "application/json", nil, body)
	switch {
	case err != nil:
	case !r.ok():
		err = x.statusError(r, otlpStatusMessage(r.body), otlpRetryable)
	default:
		err = x.partialSuccess(r, len(events))
	}
	if err != nil {
		return fmt.Errorf("sending %d events to %s: %w", len(events), x.where, err)
	}
	return nil
}

// jsonInt64 reads an int64 written either way the protobuf JSON mapping
// allows: a string (as it writes them) or a number.
type jsonInt64 int64

func (n *jsonInt64) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = jsonInt64(v)
	return err
}

// partialSuccess reads an ExportLogsServiceResponse: nil unless the
// collector rejected records.
func (x *OTLP) partialSuccess(r *reply, n int) error {
	var resp struct {
		PartialSuccess struct {
			RejectedLogRecords jsonInt64 `json:"rejectedLogRecords"`
			ErrorMessage       string    `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if len(r.body) == 0 || json.Unmarshal(r.body, &resp) != nil {
		return nil // an empty (or not JSON) 200 is a full success
	}
	ps := resp.PartialSuccess
	msg := x.scrub(shorten(ps.ErrorMessage, maxDetail))
	switch {
	case int(ps.RejectedLogRecords) >= n:
		return Permanent(fmt.Errorf("the collector rejected all %d log records: %s", n, msg))
	case ps.RejectedLogRecords > 0:
		x.log.Error().Int64("rejected", int64(ps.RejectedLogRecords)).Int("sent", n).Str("reason", msg).
			Msg("otlp: the collector accepted a batch but rejected some of its log records; OTLP does not say which, so they are lost")
	case msg != "":
		x.log.Warn().Str("message", msg).Msg("otlp: the collector accepted a batch with a warning")
	}
	return nil
}

// otlpStatusMessage reads the google.rpc.Status an OTLP/HTTP server puts in
// an error reply, falling back to the raw text (a proxy's).
func otlpStatusMessage(body []byte) string {
	var st struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return st.Message
	}
	return string(body)
}

// otlpSeverity maps our severities to the logs data model's numbers.
var otlpSeverity = map[event.Severity]int{
	event.SeverityDebug:    5,
	event.SeverityInfo:     9,
	event.SeverityNotice:   10,
	event.SeverityWarning:  13,
	event.SeverityError:    17,
	event.SeverityCritical: 21,
}

// encode writes the ExportLogsServiceRequest, as the protobuf JSON mapping
// that OTLP/JSON uses says: lowerCamelCase names, 64-bit integers as
// strings, enums as numbers.
func (x *OTLP) encode(dst []byte, events []event.Event, now time.Time) []byte {
	var apps []string
	byApp := map[string][]int{}
	for i := range events {
		app := events[i].App
		if _, seen := byApp[app]; !seen {
			apps = append(apps, app)
		}
		byApp[app] = append(byApp[app], i)
	}
	observed := strconv.AppendInt(nil, now.UnixNano(), 10)
	var rec []byte
	dst = append(dst, `{"resourceLogs":[`...)
	for ai, app := range apps {
		if ai > 0 {
			dst = append(dst, ',')
		}
		service := app
		if service == "" {
			service = x.service
		}
		dst = append(dst, `{"resource":{"attributes":[`...)
		dst = appendStringAttr(dst, "service.name", service)
		dst = append(dst, x.resource...)
		dst = append(dst, `]},"scopeLogs":[{"scope":{"name":"auditproxy"},"logRecords":[`...)
		for j, i := range byApp[app] {
			if j > 0 {
				dst = append(dst, ',')
			}
			ev := &events[i]
			sev := ev.Severity
			if sev == "" {
				sev = event.SeverityInfo
			}
			dst = append(dst, `{"timeUnixNano":"`...)
			dst = strconv.AppendInt(dst, ev.Time.UnixNano(), 10)
			dst = append(dst, `","observedTimeUnixNano":"`...)
			dst = append(dst, observed...)
			dst = append(dst, `","severityNumber":`...)
			dst = strconv.AppendInt(dst, int64(otlpSeverity[sev]), 10)
			dst = append(dst, `,"severityText":`...)
			dst = appendJSONString(dst, string(sev))
			dst = append(dst, `,"body":{"stringValue":`...)
			rec = x.format.Append(rec[:0], ev)
			dst = appendJSONString(dst, rec)
			dst = append(dst, `},"attributes":[`...)
			dst = appendEventAttrs(dst, ev)
			dst = append(dst, "]}"...)
		}
		dst = append(dst, "]}]}"...)
	}
	return append(dst, "]}"...)
}

// appendEventAttrs writes the attributes of one event, leaving out the
// empty ones. The first two are never empty, so every other one starts
// with a comma.
func appendEventAttrs(dst []byte, ev *event.Event) []byte {
	dst = appendStringAttr(dst, "event.name", ev.Action)
	dst = append(dst, ',')
	dst = appendStringAttr(dst, "log.record.uid", ev.ID)
	str := func(key, val string) {
		if val != "" {
			dst = append(dst, ',')
			dst = appendStringAttr(dst, key, val)
		}
	}
	str("auditproxy.outcome", string(ev.Outcome))
	str("auditproxy.area", ev.Area)
	str("auditproxy.rule", ev.Rule)
	str("user.id", ev.Actor.ID)
	str("user.name", ev.Actor.Name)
	if len(ev.Actor.Roles) > 0 {
		dst = append(dst, `,{"key":"user.roles","value":{"arrayValue":{"values":[`...)
		for i, role := range ev.Actor.Roles {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"stringValue":`...)
			dst = appendJSONString(dst, role)
			dst = append(dst, '}')
		}
		dst = append(dst, "]}}}"...)
	}
	str("auditproxy.actor.type", ev.Actor.Type)
	str("auditproxy.target.type", ev.Target.Type)
	str("auditproxy.target.id", ev.Target.ID)
	str("auditproxy.target.name", ev.Target.Name)
	str("http.request.method", ev.HTTP.Method)
	if ev.HTTP.Status != 0 {
		dst = append(dst, `,{"key":"http.response.status_code","value":{"intValue":"`...)
		dst = strconv.AppendInt(dst, int64(ev.HTTP.Status), 10)
		dst = append(dst, `"}}`...)
	}
	str("server.address", ev.HTTP.Host)
	str("url.path", ev.HTTP.Path)
	str("url.query", ev.HTTP.Query)
	str("auditproxy.request_id", ev.HTTP.RequestID)
	str("client.address", ev.Source.IP)
	str("geo.country.iso_code", ev.Source.Country)
	str("user_agent.original", ev.Source.UserAgent)
	return dst
}

// appendStringAttr writes one KeyValue with a string value.
func appendStringAttr(dst []byte, key, val string) []byte {
	dst = append(dst, `{"key":`...)
	dst = appendJSONString(dst, key)
	dst = append(dst, `,"value":{"stringValue":`...)
	dst = appendJSONString(dst, val)
	return append(dst, "}}"...)
}
