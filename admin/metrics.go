package admin

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxActions bounds the distinct action label values of
// auditproxy_events_total. Actions come from the rules file, so a real
// deployment stays far below it; the cap keeps a rules mistake (or a rule
// whose action is built from request data) from growing the series without
// end. Actions past it are counted under OtherAction.
const MaxActions = 1000

// OtherAction is the action label of events whose action came after the
// first MaxActions distinct ones.
const OtherAction = "other"

// Metrics are the counters the request path and the pipeline update. All
// methods are safe for concurrent use and cheap: no lock and no allocation
// once a label value has been seen, since every series is resolved once and
// kept. A Metrics is exposed by the Server it is given to; its zero value is
// not usable, create it with NewMetrics.
type Metrics struct {
	requestsRecorded    prometheus.Counter
	requestsNotRecorded prometheus.Counter
	dropped             prometheus.Counter
	reloadsOK           prometheus.Counter
	reloadsError        prometheus.Counter
	lastReloadOK        prometheus.Gauge

	events *prometheus.CounterVec
	// table holds the event counters already resolved. Event reads it with
	// one atomic load and a map lookup; a label pair seen for the first time
	// takes mu, copies the table and swaps it in. Copies are rare: at most
	// one per (action, outcome) pair, and both are bounded.
	table atomic.Pointer[eventTable]
	mu    sync.Mutex

	all []prometheus.Collector // what a Server registers
}

type eventKey struct{ action, outcome string }

// eventTable is never changed once published.
type eventTable struct {
	counters map[eventKey]prometheus.Counter
	actions  map[string]struct{} // the actions with a label of their own; at most MaxActions
}

// NewMetrics makes the counters, every one at zero.
func NewMetrics() *Metrics {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditproxy_requests_total",
		Help: "Requests proxied, by whether an audit event was recorded for them.",
	}, []string{"recorded"})
	events := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditproxy_events_total",
		Help: fmt.Sprintf("Audit events built, by action and outcome. Actions past the first "+
			"%d distinct ones are counted as action=%q.", MaxActions, OtherAction),
	}, []string{"action", "outcome"})
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "auditproxy_pipeline_dropped_total",
		Help: "Exchanges lost because the pipeline queue was full (each is also reported in the trail as audit.events_lost).",
	})
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "auditproxy_rules_reloads_total",
		Help: "Rules file reloads, by result. A failed reload keeps the previous rules running.",
	}, []string{"result"})
	lastReloadOK := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "auditproxy_rules_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful rules reload; 0 until one succeeds.",
	})

	m := &Metrics{
		// Resolving every bounded label value up front keeps the hot path
		// free of lookups, and makes the series exist at 0 from the first
		// scrape, so rate() and absence alerts work before the first event.
		requestsRecorded:    requests.WithLabelValues("true"),
		requestsNotRecorded: requests.WithLabelValues("false"),
		dropped:             dropped,
		reloadsOK:           reloads.WithLabelValues("ok"),
		reloadsError:        reloads.WithLabelValues("error"),
		lastReloadOK:        lastReloadOK,
		events:              events,
		all:                 []prometheus.Collector{requests, events, dropped, reloads, lastReloadOK},
	}
	m.table.Store(&eventTable{counters: map[eventKey]prometheus.Counter{}, actions: map[string]struct{}{}})
	return m
}

// Request counts one proxied request; recorded says whether it produced an
// audit event.
func (m *Metrics) Request(recorded bool) {
	if recorded {
		m.requestsRecorded.Inc()
	} else {
		m.requestsNotRecorded.Inc()
	}
}

// Event counts one audit event. outcome is one of the event package's
// outcomes (success, failure, unknown), so only action needs a cap.
func (m *Metrics) Event(action, outcome string) {
	t := m.table.Load()
	if c, ok := t.counters[eventKey{action, outcome}]; ok {
		c.Inc()
		return
	}
	// Past the cap, an unknown action is counted as other without a lock:
	// otherwise every event of a runaway action would serialise on mu.
	if _, known := t.actions[action]; !known && len(t.actions) >= MaxActions {
		if c, ok := t.counters[eventKey{OtherAction, outcome}]; ok {
			c.Inc()
			return
		}
	}
	m.resolve(action, outcome).Inc()
}

// resolve returns the counter for a pair Event has not seen, adding it to
// the table.
func (m *Metrics) resolve(action, outcome string) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.table.Load()
	_, known := t.actions[action]
	if !known && len(t.actions) >= MaxActions {
		action = OtherAction
	}
	key := eventKey{action, outcome}
	if c, ok := t.counters[key]; ok { // another caller added it meanwhile
		return c
	}
	// The strings outlive the call in the table and in the label set:
	// copying them keeps a caller's larger buffer (say, a request body an
	// action was sliced from) from being held forever.
	key = eventKey{strings.Clone(action), strings.Clone(outcome)}
	c := m.events.WithLabelValues(key.action, key.outcome)
	next := &eventTable{counters: maps.Clone(t.counters), actions: t.actions}
	next.counters[key] = c
	if !known && action != OtherAction {
		next.actions = maps.Clone(t.actions)
		next.actions[key.action] = struct{}{}
	}
	m.table.Store(next)
	return c
}

// QueueDropped counts n exchanges lost because the pipeline queue was full.
func (m *Metrics) QueueDropped(n int) {
	if n > 0 { // a counter panics on a negative Add
		m.dropped.Add(float64(n))
	}
}

// RulesReloaded counts one reload of the rules file; ok says whether the new
// rules took effect.
func (m *Metrics) RulesReloaded(ok bool) {
	if !ok {
		m.reloadsError.Inc()
		return
	}
	m.reloadsOK.Inc()
	m.lastReloadOK.SetToCurrentTime()
}
