package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

// fakeOTLP is an OTLP/HTTP logs receiver: it decodes each request with the
// collector's own pdata, strictly (unknown fields are errors), keeps the
// logs, and answers an ExportLogsServiceResponse in JSON, with
// partialSuccess when rejected says so. A body pdata cannot read gets 400
// with a google.rpc.Status, as the collector's receiver answers.
type fakeOTLP struct {
	mu       sync.Mutex
	logs     []plog.Logs
	rejected int64
	message  string
}

func (f *fakeOTLP) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.URL.Path != "/v1/logs" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		otlpStatus(w, http.StatusUnsupportedMediaType, 3, "unsupported content type")
		return
	}
	u := plog.JSONUnmarshaler{DisallowUnknownFields: true}
	logs, err := u.UnmarshalLogs(body)
	if err != nil {
		otlpStatus(w, http.StatusBadRequest, 3, err.Error())
		return
	}
	f.mu.Lock()
	f.logs = append(f.logs, logs)
	rejected, message := f.rejected, f.message
	f.mu.Unlock()
	resp := plogotlp.NewExportResponse()
	if rejected > 0 || message != "" {
		resp.PartialSuccess().SetRejectedLogRecords(rejected)
		resp.PartialSuccess().SetErrorMessage(message)
	}
	out, _ := resp.MarshalJSON()
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// otlpStatus writes a google.rpc.Status error reply in JSON.
func otlpStatus(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg})
}

func TestOTLPLogs(t *testing.T) {
	recv := &fakeOTLP{}
	fake := newFakeCollector(t, recv.handle)
	s := openSink(t, "otlp", map[string]any{"url": fake.URL, "headers": map[string]any{"Authorization": "Bearer t"}, "resource_attributes": map[string]any{"deployment.environment.name": "prod"}})
	full, minimal := eventtest.Full(), eventtest.Minimal()
	shop := eventtest.Full()
	shop.ID, shop.App, shop.Severity = "shop-1", "shop", event.SeverityCritical
	before := time.Now()
	if err := s.Write(context.Background(), []event.Event{full, minimal, shop}); err != nil {
		t.Fatal(err)
	}
	if len(recv.logs) != 1 {
		t.Fatalf("%d exports, want 1", len(recv.logs))
	}
	if r := fake.requests()[0]; r.header.Get("Authorization") != "Bearer t" {
		t.Errorf("Authorization %q", r.header.Get("Authorization"))
	}
	logs := recv.logs[0]
	if logs.LogRecordCount() != 3 || logs.ResourceLogs().Len() != 3 {
		t.Fatalf("%d records in %d resources, want 3 in 3 (billing, no app, shop)", logs.LogRecordCount(), logs.ResourceLogs().Len())
	}
	records := map[string]plog.LogRecord{}
	for i := range logs.ResourceLogs().Len() {
		rl := logs.ResourceLogs().At(i)
		attrs := rl.Resource().Attributes()
		if env, _ := attrs.Get("deployment.environment.name"); env.Str() != "prod" {
			t.Errorf("resource %d: deployment.environment.name = %q", i, env.Str())
		}
		svc, _ := attrs.Get("service.name")
		sl := rl.ScopeLogs().At(0)
		if sl.Scope().Name() != "auditproxy" || rl.ScopeLogs().Len() != 1 {
			t.Errorf("resource %d: scope %q", i, sl.Scope().Name())
		}
		for j := range sl.LogRecords().Len() {
			lr := sl.LogRecords().At(j)
			uid, _ := lr.Attributes().Get("log.record.uid")
			records[svc.Str()+"/"+uid.Str()] = lr
		}
	}
	lr, ok := records["billing/"+full.ID]
	if !ok {
		t.Fatalf("no record for the full event under service billing: %v", keysOf(records))
	}
	if !lr.Timestamp().AsTime().Equal(full.Time) {
		t.Errorf("time %v, want %v", lr.Timestamp().AsTime(), full.Time)
	}
	if obs := lr.ObservedTimestamp().AsTime(); obs.Before(before) || obs.After(time.Now()) {
		t.Errorf("observed time %v is not the time of sending", obs)
	}
	if lr.SeverityNumber() != plog.SeverityNumberInfo2 || lr.SeverityText() != "notice" {
		t.Errorf("severity %v %q, want INFO2 notice", lr.SeverityNumber(), lr.SeverityText())
	}
	var body event.Event
	if lr.Body().Type() != pcommon.ValueTypeStr || json.Unmarshal([]byte(lr.Body().Str()), &body) != nil || body.ID != full.ID || body.Description != full.Description {
		t.Errorf("body %s: want the native record as a string", lr.Body().AsString())
	}
	want := map[string]any{
		"event.name":                "user.created",
		"log.record.uid":            full.ID,
		"auditproxy.outcome":        "success",
		"auditproxy.area":           "users",
		"auditproxy.rule":           "create-user",
		"user.id":                   "42",
		"user.name":                 "alice",
		"user.roles":                []any{"admin", "ops"},
		"auditproxy.actor.type":     "user",
		"auditproxy.target.type":    "user",
		"auditproxy.target.id":      "43",
		"auditproxy.target.name":    "bob@example.com",
		"http.request.method":       "POST",
		"http.response.status_code": int64(201),
		"server.address":            "app.example.com",
		"url.path":                  "/api/users",
		"url.query":                 "notify=1",
		"auditproxy.request_id":     "req-7f3a",
		"client.address":            "81.2.69.142",
		"geo.country.iso_code":      "GB",
		"user_agent.original":       "Mozilla/5.0 (X11; Linux x86_64)",
	}
	if got := lr.Attributes().AsRaw(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("attributes\n%v\nwant\n%v", got, want)
	}

	// The minimal event: the fallback service, info, no empty attributes.
	lr, ok = records["auditproxy/"+minimal.ID]
	if !ok {
		t.Fatalf("no record for the minimal event under service auditproxy: %v", keysOf(records))
	}
	if lr.SeverityNumber() != plog.SeverityNumberInfo || lr.SeverityText() != "info" {
		t.Errorf("minimal: severity %v %q, want INFO info", lr.SeverityNumber(), lr.SeverityText())
	}
	if _, has := lr.Attributes().Get("user.id"); has || lr.Attributes().Len() != 8 {
		t.Errorf("minimal: attributes %v", lr.Attributes().AsRaw())
	}
	if lr = records["shop/shop-1"]; lr.SeverityNumber() != plog.SeverityNumberFatal {
		t.Errorf("critical: severity %v, want FATAL", lr.SeverityNumber())
	}
}

func keysOf(m map[string]plog.LogRecord) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestOTLPServiceNameFallback(t *testing.T) {
	recv := &fakeOTLP{}
	fake := newFakeCollector(t, recv.handle)
	s := openSink(t, "otlp", map[string]any{"url": fake.URL + "/v1/logs", "resource_attributes": map[string]any{"service.name": "edge-proxy"}})
	if err := s.Write(context.Background(), []event.Event{eventtest.Minimal()}); err != nil {
		t.Fatal(err)
	}
	attrs := recv.logs[0].ResourceLogs().At(0).Resource().Attributes()
	if svc, _ := attrs.Get("service.name"); svc.Str() != "edge-proxy" || attrs.Len() != 1 {
		t.Errorf("resource %v, want service.name edge-proxy only", attrs.AsRaw())
	}
}

func TestOTLPPartialSuccess(t *testing.T) {
	for _, tt := range []struct {
		rejected  int64
		message   string
		permanent bool
		log       string // in the log, "" for nothing
	}{
		{0, "", false, ""},
		{2, "2 records over the attribute limit", false, `"level":"error","rejected":2,"sent":5,"reason":"2 records over the attribute limit"`},
		{0, "body truncated to 1 KiB", false, `"level":"warn","message":"body truncated to 1 KiB"`},
		{5, "schema mismatch", true, ""},
	} {
		recv := &fakeOTLP{rejected: tt.rejected, message: tt.message}
		fake := newFakeCollector(t, recv.handle)
		x, err := OpenOTLP(Spec{Name: "otlp", Type: "otlp", Options: map[string]any{"url": fake.URL}})
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		x.SetLogger(zerolog.New(&log))
		err = x.Write(context.Background(), batch("p", 5))
		switch {
		case tt.permanent && (!IsPermanent(err) || !strings.Contains(err.Error(), "the collector rejected all 5 log records: schema mismatch")):
			t.Errorf("rejected %d: %v, want permanent", tt.rejected, err)
		case !tt.permanent && err != nil:
			t.Errorf("rejected %d: %v, want nil", tt.rejected, err)
		}
		if tt.log != "" && !strings.Contains(log.String(), tt.log) || tt.log == "" && log.Len() > 0 {
			t.Errorf("rejected %d, %q: logged %q, want %q", tt.rejected, tt.message, log.String(), tt.log)
		}
	}
}

func TestOTLPErrors(t *testing.T) {
	status := func(code int, msg string, header ...string) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			otlpStatus(w, code, 0, msg)
		}
	}
	for _, tt := range []struct {
		name      string
		reply     func(http.ResponseWriter, *http.Request, []byte)
		permanent bool
		after     time.Duration
		wantErr   string
	}{
		{"bad request", status(400, "ReadObject: expect { or n, but found x"), true, 0, "400 Bad Request: ReadObject: expect { or n, but found x"},
		{"unauthorized", status(401, "missing or invalid credentials"), true, 0, "401 Unauthorized: missing or invalid credentials"},
		{"internal", status(500, "storage failed"), true, 0, "500 Internal Server Error: storage failed"}, // OTLP: not retryable
		{"request timeout", status(408, "timeout"), true, 0, "408 Request Timeout"},
		{"throttled", status(429, "memory limiter", "Retry-After", "2"), false, 2 * time.Second, "429 Too Many Requests: memory limiter"},
		{"unavailable", status(503, "pipeline busy", "Retry-After", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)), false, time.Minute, "503 Service Unavailable: pipeline busy"},
		{"bad gateway", replyWith(502, "<html>bad gateway</html>"), false, 0, "502 Bad Gateway: <html>bad gateway</html>"},
		{"gateway timeout", replyWith(504, ""), false, 0, "504 Gateway Timeout"},
	} {
		fake := newFakeCollector(t, tt.reply)
		err := openSink(t, "otlp", map[string]any{"url": fake.URL}).Write(context.Background(), batch("e", 3))
		if err == nil || IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v (permanent %v), want %q (permanent %v)", tt.name, err, IsPermanent(err), tt.wantErr, tt.permanent)
		}
		if after, _ := RetryAfterOf(err); after > tt.after || after < tt.after-2*time.Second {
			t.Errorf("%s: retry after %v, want %v", tt.name, after, tt.after)
		}
	}
}

func BenchmarkOTLPSink(b *testing.B) {
	benchSink(b, "otlp", map[string]any{}, replyWith(http.StatusOK, "{}", "Content-Type", "application/json"))
}
