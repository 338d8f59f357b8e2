package output

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("loki", Kind{FlagArg: "url", Open: fromSpec(OpenLoki)})
}

var _ Sink = (*Loki)(nil)

// Loki pushes batches to Grafana Loki's push API (POST /loki/api/v1/push
// with a JSON body; Loki HTTP API reference, "Ingest logs"):
//
//	outputs:
//	  - type: loki
//	    url: http://loki:3100            # /loki/api/v1/push is appended
//	    tenant_id: team-a                # X-Scope-OrgID, for multi-tenant Loki
//	    labels: {env: prod}              # static labels; job defaults to auditproxy
//
// Each stream is one label set: the static labels, plus app (the event's,
// left out when empty) and severity (info when empty). Nothing else
// becomes a label: Loki indexes labels, and every distinct value set is a
// stream of its own, so actions, users or paths as labels would make
// thousands of tiny streams (Loki's "label best practices"). They are all
// in the line, where LogQL's json parser reads them.
//
// Loki answers 204 on success. Per its docs and the behaviour of its own
// clients (Promtail, Alloy): 429 (rate limits) and 5xx are retried, 429
// after its Retry-After; a 400 is permanent. A 400 ("entry out of order",
// "entry too far behind", "line too long", ...) does not name the entries
// it refused, and Loki keeps the ones it took: the whole batch is reported
// Permanent, so the refused events reach the dead-letter file with Loki's
// reason, next to copies of the accepted ones.
type Loki struct {
	*httpClient
	format format.Format
	static []lokiLabel // sorted by name
	header http.Header // X-Scope-OrgID, or nil
	size   bodySize
}

type lokiLabel struct{ name, value string }

type lokiOptions struct {
	httpOptions `yaml:",inline"`
	// Labels are added to every stream. job is "auditproxy" unless set
	// here; app and severity come from each event and cannot be set.
	Labels map[string]string `yaml:"labels"`
	// TenantID is sent as X-Scope-OrgID; "" for a single-tenant Loki.
	TenantID string `yaml:"tenant_id"`
}

// lokiLabelName is Prometheus' label name syntax, which Loki enforces.
var lokiLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// OpenLoki builds the loki sink a spec describes.
func OpenLoki(s Spec) (*Loki, error) {
	var o lokiOptions
	if err := s.DecodeOptions(&o); err != nil {
		return nil, err
	}
	f, err := format.Get(s.Format)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{"job": "auditproxy"}
	for _, name := range slices.Sorted(maps.Keys(o.Labels)) {
		switch {
		case !lokiLabelName.MatchString(name) || strings.HasPrefix(name, "__"):
			return nil, fmt.Errorf("labels: %q is not a Loki label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", name)
		case name == "app" || name == "severity":
			return nil, fmt.Errorf("labels: %s comes from each event and cannot be set", name)
		case o.Labels[name] == "":
			return nil, fmt.Errorf("labels: %s is empty (Loki drops empty labels)", name)
		}
		labels[name] = o.Labels[name]
	}
	l := &Loki{format: f}
	for _, name := range slices.Sorted(maps.Keys(labels)) {
		l.static = append(l.static, lokiLabel{name, labels[name]})
	}
	if o.TenantID != "" {
		l.header = http.Header{}
		l.header.Set("X-Scope-OrgID", o.TenantID)
	}
	if l.httpClient, err = newHTTPClient(s, "loki", o.httpOptions, "/loki/api/v1/push"); err != nil {
		return nil, err
	}
	return l, nil
}

// Write pushes the batch in one request.
func (l *Loki) Write(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	body := l.encode(l.size.buffer(len(events)), events)
	l.size.learn(body, len(events))
	r, err := l.post(ctx, l.url, "application/json", l.header, body)
	if err == nil && !r.ok() {
		err = l.statusError(r, string(r.body), retryableStatus) // Loki's errors are plain text
	}
	if err != nil {
		return fmt.Errorf("sending %d events to %s: %w", len(events), l.where, err)
	}
	return nil
}

// lokiStreamKey is what, besides the static labels, tells streams apart.
type lokiStreamKey struct{ app, severity string }

// encode writes the push request: {"streams":[{"stream":{labels},
// "values":[["<unix ns>","<line>"],...]},...]}, streams in the order of
// their first event, entries in time order within a stream (Loki before
// 2.4, and Loki with unordered_writes off, refuse a push that goes back in
// time within a stream).
func (l *Loki) encode(dst []byte, events []event.Event) []byte {
	var keys []lokiStreamKey
	streams := map[lokiStreamKey][]int{}
	for i := range events {
		k := lokiStreamKey{events[i].App, string(events[i].Severity)}
		if k.severity == "" {
			k.severity = string(event.SeverityInfo)
		}
		if _, seen := streams[k]; !seen {
			keys = append(keys, k)
		}
		streams[k] = append(streams[k], i)
	}
	var rec []byte
	dst = append(dst, `{"streams":[`...)
	for si, k := range keys {
		if si > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"stream":{`...)
		for i, lb := range l.static {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, lb.name)
			dst = append(dst, ':')
			dst = appendJSONString(dst, lb.value)
		}
		if k.app != "" {
			dst = append(dst, `,"app":`...)
			dst = appendJSONString(dst, k.app)
		}
		dst = append(dst, `,"severity":`...)
		dst = appendJSONString(dst, k.severity)
		dst = append(dst, `},"values":[`...)
		idx := streams[k]
		slices.SortStableFunc(idx, func(a, b int) int { return events[a].Time.Compare(events[b].Time) })
		for j, i := range idx {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `["`...)
			dst = strconv.AppendInt(dst, events[i].Time.UnixNano(), 10)
			dst = append(dst, `",`...)
			rec = l.format.Append(rec[:0], &events[i])
			dst = appendJSONString(dst, rec)
			dst = append(dst, ']')
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, "]}"...)
}
