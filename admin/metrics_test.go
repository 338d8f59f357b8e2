package admin

import (
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestMetricsCount(t *testing.T) {
	m := NewMetrics()
	s := newServer(t, Config{Metrics: m})

	// Bounded label values exist at 0 before anything happens.
	before := scrape(t, s)
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"auditproxy_requests_total", map[string]string{"recorded": "true"}},
		{"auditproxy_requests_total", map[string]string{"recorded": "false"}},
		{"auditproxy_pipeline_dropped_total", nil},
		{"auditproxy_rules_reloads_total", map[string]string{"result": "ok"}},
		{"auditproxy_rules_reloads_total", map[string]string{"result": "error"}},
		{"auditproxy_rules_last_reload_success_timestamp_seconds", nil},
	} {
		if got := mustValue(t, before, c.name, c.labels); got != 0 {
			t.Errorf("before any update, %s%v = %v, want 0", c.name, c.labels, got)
		}
	}

	m.Request(true)
	m.Request(true)
	m.Request(false)
	for range 3 {
		m.Event("user.login", "success")
	}
	m.Event("user.login", "failure")
	m.Event("order.delete", "success")
	m.QueueDropped(5)
	m.QueueDropped(0)
	m.QueueDropped(-1) // ignored, not a panic
	m.QueueDropped(2)
	start := time.Now()
	m.RulesReloaded(true)
	m.RulesReloaded(false)
	m.RulesReloaded(false)

	got := scrape(t, s)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"auditproxy_requests_total", map[string]string{"recorded": "true"}, 2},
		{"auditproxy_requests_total", map[string]string{"recorded": "false"}, 1},
		{"auditproxy_events_total", map[string]string{"action": "user.login", "outcome": "success"}, 3},
		{"auditproxy_events_total", map[string]string{"action": "user.login", "outcome": "failure"}, 1},
		{"auditproxy_events_total", map[string]string{"action": "order.delete", "outcome": "success"}, 1},
		{"auditproxy_pipeline_dropped_total", nil, 7},
		{"auditproxy_rules_reloads_total", map[string]string{"result": "ok"}, 1},
		{"auditproxy_rules_reloads_total", map[string]string{"result": "error"}, 2},
	} {
		if v := mustValue(t, got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if typ := got["auditproxy_events_total"].GetType(); typ != dto.MetricType_COUNTER {
		t.Errorf("auditproxy_events_total is a %v, want a counter", typ)
	}
	ts := mustValue(t, got, "auditproxy_rules_last_reload_success_timestamp_seconds", nil)
	if min, max := float64(start.Unix()), float64(time.Now().Unix()+1); ts < min || ts > max {
		t.Errorf("last reload success timestamp = %v, want within [%v, %v]", ts, min, max)
	}
}

func TestEventActionCap(t *testing.T) {
	m := NewMetrics()
	s := newServer(t, Config{Metrics: m})
	for i := range MaxActions + 5 {
		m.Event(fmt.Sprintf("action.%d", i), "success")
	}
	m.Event("action.0", "success")    // known: keeps its label
	m.Event("action.0", "failure")    // known action, new outcome: still its label
	m.Event("action.late", "failure") // past the cap, new outcome
	m.Event("action.late", "failure") // again, now on the lock-free path
	m.Event(OtherAction, "success")   // a rule actually named "other" adds up with the fold

	got := scrape(t, s)
	actions := map[string]bool{}
	for _, mm := range got["auditproxy_events_total"].GetMetric() {
		actions[label(mm, "action")] = true
	}
	if len(actions) != MaxActions+1 {
		t.Errorf("%d distinct actions exposed, want %d (the cap plus %q)", len(actions), MaxActions+1, OtherAction)
	}
	for _, c := range []struct {
		action, outcome string
		want            float64
	}{
		{"action.0", "success", 2},
		{"action.0", "failure", 1},
		{fmt.Sprintf("action.%d", MaxActions-1), "success", 1},
		{OtherAction, "success", 6},
		{OtherAction, "failure", 2},
	} {
		labels := map[string]string{"action": c.action, "outcome": c.outcome}
		if v := mustValue(t, got, "auditproxy_events_total", labels); v != c.want {
			t.Errorf("auditproxy_events_total%v = %v, want %v", labels, v, c.want)
		}
	}
	if _, ok := value(got, "auditproxy_events_total", map[string]string{"action": fmt.Sprintf("action.%d", MaxActions), "outcome": "success"}); ok {
		t.Errorf("action number %d past the cap has a label of its own", MaxActions+1)
	}
}

// TestConcurrentUpdates is mostly for -race: updates from many goroutines,
// new label pairs appearing while others are counted and while /metrics is
// scraped, and not one count lost.
func TestConcurrentUpdates(t *testing.T) {
	m := NewMetrics()
	s := newServer(t, Config{Metrics: m})
	const workers, rounds = 8, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				m.Request(i%2 == 0)
				m.Event("shared", "success")
				m.Event(fmt.Sprintf("w%d.a%d", w, i%10), "failure")
				m.QueueDropped(1)
				m.RulesReloaded(i%3 != 0)
			}
		})
	}
	done := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			get(s.Handler(), "GET", "/metrics")
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	wg.Wait()
	close(done)
	<-scraped

	got := scrape(t, s)
	const n = workers * rounds
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"auditproxy_requests_total", map[string]string{"recorded": "true"}, n / 2},
		{"auditproxy_requests_total", map[string]string{"recorded": "false"}, n / 2},
		{"auditproxy_events_total", map[string]string{"action": "shared", "outcome": "success"}, n},
		{"auditproxy_events_total", map[string]string{"action": "w3.a7", "outcome": "failure"}, rounds / 10},
		{"auditproxy_pipeline_dropped_total", nil, n},
	} {
		if v := mustValue(t, got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	ok := mustValue(t, got, "auditproxy_rules_reloads_total", map[string]string{"result": "ok"})
	bad := mustValue(t, got, "auditproxy_rules_reloads_total", map[string]string{"result": "error"})
	if ok+bad != n {
		t.Errorf("rules reloads ok %v + error %v = %v, want %v", ok, bad, ok+bad, n)
	}
}

// The request path calls these for every request: they must not allocate
// once the labels are known.
func TestHotPathDoesNotAllocate(t *testing.T) {
	m := NewMetrics()
	m.Event("user.login", "success")
	for i := range MaxActions {
		m.Event(fmt.Sprintf("action.%d", i), "failure")
	}
	m.Event("runaway", "failure") // resolves other/failure
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Request", func() { m.Request(true) }},
		{"Event known", func() { m.Event("user.login", "success") }},
		{"Event past the cap", func() { m.Event("runaway.2", "failure") }},
		{"QueueDropped", func() { m.QueueDropped(3) }},
	} {
		if allocs := testing.AllocsPerRun(1000, c.f); allocs != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, allocs)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	m := NewMetrics()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Request(i&1 == 0)
	}
}

func BenchmarkEvent(b *testing.B) {
	m := NewMetrics()
	actions := make([]string, 50) // a realistic rules file
	for i := range actions {
		actions[i] = fmt.Sprintf("resource%d.update", i)
		m.Event(actions[i], "success")
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Event(actions[i%len(actions)], "success")
	}
}

func BenchmarkEventParallel(b *testing.B) {
	m := NewMetrics()
	m.Event("user.login", "success")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Event("user.login", "success")
		}
	})
}

// BenchmarkEventWithLabelValues is the baseline Event improves on: looking
// the series up in the CounterVec on every call.
func BenchmarkEventWithLabelValues(b *testing.B) {
	m := NewMetrics()
	m.Event("user.login", "success")
	b.ReportAllocs()
	for b.Loop() {
		m.events.WithLabelValues("user.login", "success").Inc()
	}
}
