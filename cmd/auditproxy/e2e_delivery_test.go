package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/output"
)

// TestDeliveryThroughACollectorOutage: a webhook collector that answers
// 503 for a while still gets every event once it recovers (disk buffer,
// retries), and the admin listener's metrics say so.
func TestDeliveryThroughACollectorOutage(t *testing.T) {
	var failing atomic.Int64
	failing.Store(5) // the first five posts fail
	var mu sync.Mutex
	got := map[string]int{}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var evs []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&evs); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		for _, ev := range evs {
			got[ev["id"].(string)]++
		}
		mu.Unlock()
	}))
	defer collector.Close()

	up := issueUpstream(t)
	h := startProxy(t, up.URL, issueRules, func(c *config) {
		var hook output.Spec
		hook.Type, hook.Name = "http", "siem"
		hook.Options = map[string]any{"url": collector.URL}
		hook.Retry.Initial, hook.Retry.Max = 10*time.Millisecond, 50*time.Millisecond
		c.Outputs = append(c.Outputs, hook)
		c.Admin = "127.0.0.1:0"
	})
	for range 20 {
		do(t, "POST", h.URL+"/login", `{"username":"u"}`, nil)
	}
	addr := regexp.MustCompile(`"admin":"([^"]+)"`).FindStringSubmatch(h.logText())
	if addr == nil {
		t.Fatalf("admin address not logged:\n%s", h.logText())
	}
	// Scrape while serving, once the output has counted its deliveries
	// (bounded): the collector sees a batch before the proxy has read the
	// reply that confirms it.
	const delivered = `auditproxy_output_delivered_total{output="siem"} 20`
	var metrics []byte
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get("http://" + addr[1] + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(metrics), delivered) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs := h.events() // stops the proxy
	if len(evs) != 20 {
		t.Fatalf("file output has %d events, want 20", len(evs))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range evs {
		if got[ev["id"].(string)] == 0 {
			t.Errorf("event %s never reached the collector", ev["id"])
		}
	}
	for _, want := range []string{delivered, `auditproxy_events_total{action="user.login_failed",outcome="failure"} 20`, `auditproxy_requests_total{recorded="true"} 20`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(string(metrics), `auditproxy_output_retried_total{output="siem"}`) {
		t.Error("metrics lack the retry counter")
	}
}

// TestCriticalNeedsADiskBuffer: a rules file with delivery: critical does
// not start without an output that can hold its events durably.
func TestCriticalNeedsADiskBuffer(t *testing.T) {
	critical := strings.Replace(issueRules, "    changes: [email, role, password]\n", "    changes: [email, role, password]\n    delivery: critical\n", 1)
	cfg := defaultConfig()
	cfg.Upstream = "http://127.0.0.1:1"
	cfg.Outputs, _ = outputsFromFlags("stdout")
	dir := t.TempDir()
	cfg.Rules = dir + "/rules.yaml"
	writeAtomically(t, cfg.Rules, critical)
	var msgs strings.Builder
	set, bindings, ok := openRules(cfg, nil, &msgs)
	if !ok {
		t.Fatal(msgs.String())
	}
	ln, _ := netListen(t)
	err := serve(t.Context(), ln, cfg, set, bindings, testLogger(t), io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `rule "user-created" has delivery: critical, but no output has a disk buffer`) {
		t.Fatalf("serve: %v", err)
	}
}

// TestCriticalFailsClosedWhenTheBufferIsFull: a critical request is answered
// while its event fits in the disk buffer; once the buffer is full
// (collector down, when_full: fail_closed) the client gets 503, not the
// app's answer.
func TestCriticalFailsClosedWhenTheBufferIsFull(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	critical := strings.Replace(issueRules, "    severity: warning\n", "    severity: warning\n    delivery: critical\n", 1)
	up := issueUpstream(t)
	h := startProxy(t, up.URL, critical, func(c *config) {
		var hook output.Spec
		hook.Type, hook.Name = "http", "siem"
		hook.Options = map[string]any{"url": deadURL}
		hook.Buffer.Type, hook.Buffer.MaxBytes = "disk", 4096
		hook.WhenFull = output.FailClosed
		c.Outputs = append(c.Outputs, hook)
		c.ShutdownTimeout = 200 * time.Millisecond // the collector never comes back
	})
	var codes []int
	for range 30 {
		resp, _ := do(t, "POST", h.URL+"/login", `{"username":"u"}`, nil)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
	}
	if codes[0] != 401 {
		t.Fatalf("first critical request: %d, want the app's 401", codes[0])
	}
	if last := codes[len(codes)-1]; last != http.StatusServiceUnavailable {
		t.Fatalf("statuses %v: never 503 although the buffer is full", codes)
	}
	if !strings.Contains(h.logText(), "delivery: critical") {
		t.Errorf("the 503 is not explained in the log:\n%s", h.logText())
	}
}
