package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

// scrape reads /metrics as Prometheus would, through the text parser.
func scrape(t *testing.T, s *Server) map[string]*dto.MetricFamily {
	t.Helper()
	w := get(s.Handler(), "GET", "/metrics")
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body:\n%s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value finds the sample of family name whose labels are exactly labels.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, m := range families[name].GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && label(m, k) == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := value(families, name, labels)
	if !ok {
		t.Fatalf("no sample %s%v in /metrics", name, labels)
	}
	return v
}

func TestOutputMetrics(t *testing.T) {
	outputs := []OutputSnapshot{
		{Name: "siem", Depth: 12, BytesOnDisk: 4096, Delivered: 1000, Retried: 7, Dropped: 2, DeadLettered: 1,
			OldestUndelivered: 90 * time.Second, Healthy: false},
		{Name: "stdout", Delivered: 5, Healthy: true},
	}
	s := newServer(t, Config{Outputs: func() []OutputSnapshot { return outputs }})
	got := scrape(t, s)
	for _, c := range []struct {
		name   string
		typ    dto.MetricType
		siem   float64
		stdout float64
	}{
		{"auditproxy_output_queue_depth", dto.MetricType_GAUGE, 12, 0},
		{"auditproxy_output_bytes_on_disk", dto.MetricType_GAUGE, 4096, 0},
		{"auditproxy_output_delivered_total", dto.MetricType_COUNTER, 1000, 5},
		{"auditproxy_output_retried_total", dto.MetricType_COUNTER, 7, 0},
		{"auditproxy_output_dropped_total", dto.MetricType_COUNTER, 2, 0},
		{"auditproxy_output_dead_lettered_total", dto.MetricType_COUNTER, 1, 0},
		{"auditproxy_output_oldest_undelivered_seconds", dto.MetricType_GAUGE, 90, 0},
		{"auditproxy_output_healthy", dto.MetricType_GAUGE, 0, 1},
	} {
		if typ := got[c.name].GetType(); typ != c.typ {
			t.Errorf("%s is a %v, want a %v", c.name, typ, c.typ)
		}
		if v := mustValue(t, got, c.name, map[string]string{"output": "siem"}); v != c.siem {
			t.Errorf("%s{output=siem} = %v, want %v", c.name, v, c.siem)
		}
		if v := mustValue(t, got, c.name, map[string]string{"output": "stdout"}); v != c.stdout {
			t.Errorf("%s{output=stdout} = %v, want %v", c.name, v, c.stdout)
		}
	}

	// Read at every scrape, not once.
	outputs[1].Delivered = 6
	if v := mustValue(t, scrape(t, s), "auditproxy_output_delivered_total", map[string]string{"output": "stdout"}); v != 6 {
		t.Errorf("after the output delivered one more, delivered_total{output=stdout} = %v, want 6", v)
	}
}

// Two outputs with one name are a config mistake; the scrape still serves
// everything else.
func TestOutputMetricsDuplicateName(t *testing.T) {
	s := newServer(t, Config{Outputs: func() []OutputSnapshot {
		return []OutputSnapshot{{Name: "a", Depth: 1}, {Name: "a", Depth: 2}}
	}})
	got := scrape(t, s)
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("go_goroutines missing from a scrape with a duplicate output")
	}
}

func TestRuntimeCollectors(t *testing.T) {
	got := scrape(t, newServer(t, Config{}))
	want := []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "auditproxy_requests_total"}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		want = append(want, "process_start_time_seconds", "process_resident_memory_bytes")
	}
	for _, name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
}

func TestReadyz(t *testing.T) {
	waiting := OutputSnapshot{Name: "siem", Depth: 12, OldestUndelivered: 90 * time.Second, Healthy: false}
	for _, c := range []struct {
		name    string
		ready   func() error
		outputs []OutputSnapshot
		code    int
		lines   []string
	}{
		{name: "no checks", code: 200, lines: []string{"ok"}},
		{name: "ready", ready: func() error { return nil },
			outputs: []OutputSnapshot{{Name: "stdout", Healthy: true}}, code: 200, lines: []string{"ok"}},
		{name: "healthy with a backlog", outputs: []OutputSnapshot{{Name: "siem", Depth: 500, Healthy: true}},
			code: 200, lines: []string{"ok"}},
		{name: "failing with nothing waiting", outputs: []OutputSnapshot{{Name: "siem", Healthy: false}},
			code: 200, lines: []string{"ok"}},
		{name: "rules not loaded", ready: func() error { return errors.New("rules not loaded") },
			code: 503, lines: []string{"rules not loaded"}},
		{name: "failing with events waiting", outputs: []OutputSnapshot{{Name: "stdout", Healthy: true}, waiting},
			code: 503, lines: []string{`output "siem": delivery failing, 12 events waiting, oldest 1m30s`}},
		{name: "every reason", ready: func() error { return errors.New("rules not loaded") },
			outputs: []OutputSnapshot{waiting, {Name: "loki", Depth: 1, OldestUndelivered: 1500 * time.Millisecond}},
			code:    503, lines: []string{
				"rules not loaded",
				`output "siem": delivery failing, 12 events waiting, oldest 1m30s`,
				`output "loki": delivery failing, 1 events waiting, oldest 2s`,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, Config{Ready: c.ready, Outputs: func() []OutputSnapshot { return c.outputs }})
			w := get(s.Handler(), "GET", "/readyz")
			if w.Code != c.code {
				t.Errorf("status %d, want %d", w.Code, c.code)
			}
			if got, want := w.Body.String(), strings.Join(c.lines, "\n")+"\n"; got != want {
				t.Errorf("body:\n%s\nwant:\n%s", got, want)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want text/plain", ct)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	// Liveness ignores readiness: a process waiting for its collector must
	// not be restarted for it.
	s := newServer(t, Config{Ready: func() error { return errors.New("not ready") }})
	w := get(s.Handler(), "GET", "/healthz")
	if w.Code != 200 || w.Body.String() != "ok\n" {
		t.Errorf("GET /healthz: %d %q, want 200 \"ok\\n\"", w.Code, w.Body)
	}
}

func TestMethods(t *testing.T) {
	s := newServer(t, Config{})
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if w := get(s.Handler(), "HEAD", path); w.Code != 200 {
			t.Errorf("HEAD %s: status %d, want 200", path, w.Code)
		}
		for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
			w := get(s.Handler(), method, path)
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", method, path, w.Code)
			}
			if allow := w.Header().Get("Allow"); !strings.Contains(allow, "GET") {
				t.Errorf("%s %s: Allow %q, want GET listed", method, path, allow)
			}
		}
	}
	if w := get(s.Handler(), "GET", "/nothing"); w.Code != http.StatusNotFound {
		t.Errorf("GET /nothing: status %d, want 404", w.Code)
	}
}

func TestHandle(t *testing.T) {
	s := newServer(t, Config{})
	s.Handle("GET /api/events", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "[]")
	}))
	if w := get(s.Handler(), "GET", "/api/events"); w.Code != 200 || w.Body.String() != "[]" {
		t.Errorf("GET /api/events: %d %q, want 200 \"[]\"", w.Code, w.Body)
	}
	if w := get(s.Handler(), "POST", "/api/events"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/events: status %d, want 405", w.Code)
	}
}

func TestServeAndShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, Config{Addr: ln.Addr().String()})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("GET /healthz over TCP: %d %q", resp.StatusCode, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown returned %v, want nil", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"", "no address"},
		{"9090", `admin listener address "9090"`},
	} {
		_, err := New(Config{Addr: c.addr})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(Addr: %q) = %v, want an error containing %q", c.addr, err, c.want)
		}
	}
}

func Example() {
	m := NewMetrics()
	s, err := New(Config{
		Addr:    "127.0.0.1:9090",
		Metrics: m,
		Outputs: func() []OutputSnapshot {
			return []OutputSnapshot{{Name: "siem", Depth: 3, OldestUndelivered: time.Minute}}
		},
	})
	if err != nil {
		panic(err)
	}
	m.Request(true) // from the request path

	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	fmt.Print(w.Code, " ", w.Body)
	// Output: 503 output "siem": delivery failing, 3 events waiting, oldest 1m0s
}
