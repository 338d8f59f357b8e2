package pipeline

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/enrich"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/rules"
)

// gatedSink holds every Write until the gate opens, to fill the queue.
type gatedSink struct {
	gate    chan struct{}
	mu      sync.Mutex
	events  []event.Event
	fail    bool
	entered chan struct{}
	once    sync.Once
}

func (s *gatedSink) Write(_ context.Context, evs []event.Event) error {
	s.once.Do(func() { close(s.entered) })
	<-s.gate
	if s.fail {
		return errors.New("disk full")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, evs...)
	return nil
}
func (s *gatedSink) Close() error { return nil }

func newSet(t *testing.T) *rules.Set {
	set, err := rules.Parse("t.yaml", []byte("version: 1\nrules:\n  - {name: any-post, action: thing.posted, match: {method: POST}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func exchange(p *Pipeline) *event.Exchange {
	r := httptest.NewRequest("POST", "/things", nil)
	in := p.Interest(r)
	return &event.Exchange{Start: time.Now(), Peer: "127.0.0.1:1", Method: "POST", Path: "/things", Status: 201,
		RequestHeader: http.Header{}, Token: in.Token}
}

// TestQueueFullIsReportedInTheTrail: exchanges that do not fit are counted
// and become one audit.events_lost event, never a silent gap.
func TestQueueFullIsReportedInTheTrail(t *testing.T) {
	enr, _ := enrich.New(enrich.Config{})
	sink := &gatedSink{gate: make(chan struct{}), entered: make(chan struct{})}
	var logs strings.Builder
	p, err := New(Config{Rules: newSet(t), Enricher: enr, Sinks: []output.Sink{sink}, Logger: zerolog.New(&logs), QueueSize: 2, Workers: 1, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Observe(exchange(p)) // taken by the worker, which blocks in Write
	<-sink.entered
	for range 7 { // 2 fit in the queue, 5 are dropped
		p.Observe(exchange(p))
	}
	if got := p.Stats().Dropped.Load(); got != 5 {
		t.Fatalf("dropped = %d, want 5", got)
	}
	close(sink.gate)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	var posted, lost int
	for _, ev := range sink.events {
		switch ev.Action {
		case "thing.posted":
			posted++
		case "audit.events_lost":
			lost++
			if !strings.HasPrefix(ev.Description, "5 audited requests lost") || ev.Severity != event.SeverityError || ev.ID == "" {
				t.Errorf("loss event = %+v", ev)
			}
		}
	}
	if posted != 3 || lost != 1 {
		t.Errorf("got %d events and %d loss reports, want 3 and 1", posted, lost)
	}
	if !strings.Contains(logs.String(), "queue full") {
		t.Errorf("no loud log of the drop: %s", logs.String())
	}
}

func TestSinkErrorsAreCountedAndLogged(t *testing.T) {
	enr, _ := enrich.New(enrich.Config{})
	gate := make(chan struct{})
	close(gate)
	sink := &gatedSink{gate: gate, entered: make(chan struct{}), fail: true}
	var logs strings.Builder
	p, _ := New(Config{Rules: newSet(t), Enricher: enr, Sinks: []output.Sink{sink}, Logger: zerolog.New(&logs)})
	p.Observe(exchange(p))
	p.Close()
	if p.Stats().WriteErrors.Load() != 1 || !strings.Contains(logs.String(), "disk full") {
		t.Errorf("write errors = %d, logs = %s", p.Stats().WriteErrors.Load(), logs.String())
	}
}

// TestInFlightKeepsItsRules: an exchange built after a reload still uses
// the rule set that was in force when its request arrived.
func TestInFlightKeepsItsRules(t *testing.T) {
	enr, _ := enrich.New(enrich.Config{})
	gate := make(chan struct{})
	close(gate)
	sink := &gatedSink{gate: gate, entered: make(chan struct{})}
	p, _ := New(Config{Rules: newSet(t), Enricher: enr, Sinks: []output.Sink{sink}})
	x := exchange(p)
	empty, err := rules.Parse("empty.yaml", []byte("version: 1\nrules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.SetRules(empty)
	if p.Interest(httptest.NewRequest("POST", "/things", nil)).Record {
		t.Error("new requests still recorded under the old rules")
	}
	p.Observe(x)
	p.Close()
	if len(sink.events) != 1 || sink.events[0].Action != "thing.posted" {
		t.Errorf("events = %+v", sink.events)
	}
}
