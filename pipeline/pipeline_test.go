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
	"github.com/auditproxy/auditproxy/rules"
)

// fakeQueue records what it is given; gate, when set, holds every Enqueue
// until closed; refuse makes Enqueue fail, reporting the loss to losses as
// a delivery queue does; durableErr fails EnqueueDurable.
type fakeQueue struct {
	name       string
	gate       chan struct{}
	entered    chan struct{}
	once       sync.Once
	refuse     error
	refusals   int // how many Enqueue calls refuse; 0 with refuse set: all
	losses     *Losses
	durableErr error

	mu      sync.Mutex
	events  []event.Event
	durable int
	refused int
}

func (q *fakeQueue) Enqueue(evs []event.Event) error {
	if q.entered != nil {
		q.once.Do(func() { close(q.entered) })
	}
	if q.gate != nil {
		<-q.gate
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.refuse != nil && (q.refusals == 0 || q.refused < q.refusals) {
		q.refused++
		q.losses.Report(q.name, len(evs), q.refuse.Error(), evs[0].Time, evs[len(evs)-1].Time)
		return q.refuse
	}
	q.events = append(q.events, evs...)
	return nil
}

func (q *fakeQueue) StartDurable(_ context.Context, evs []event.Event) (func(context.Context) error, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.events = append(q.events, evs...)
	return func(context.Context) error {
		if q.durableErr != nil {
			return q.durableErr
		}
		q.mu.Lock()
		defer q.mu.Unlock()
		q.durable += len(evs)
		return nil
	}, nil
}

func (q *fakeQueue) Close(context.Context) error { return nil }

func (q *fakeQueue) actions() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, ev := range q.events {
		out = append(out, ev.Action)
	}
	return out
}

func newSet(t *testing.T) *rules.Set {
	t.Helper()
	set, err := rules.Parse("t.yaml", []byte("version: 1\nrules:\n  - {name: any-post, action: thing.posted, match: {method: POST}}\n  - {name: crit, action: thing.deleted, match: {method: DELETE}, delivery: critical}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func newPipeline(t *testing.T, cfg Config) (*Pipeline, *strings.Builder) {
	t.Helper()
	enr, _ := enrich.New(enrich.Config{})
	var logs strings.Builder
	cfg.Rules, cfg.Enricher, cfg.Logger = newSet(t), enr, zerolog.New(zerolog.SyncWriter(&logs))
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, &logs
}

func exchange(p *Pipeline, method string) *event.Exchange {
	r := httptest.NewRequest(method, "/things", nil)
	in := p.Interest(r)
	return &event.Exchange{Start: time.Now(), Peer: "127.0.0.1:1", Method: method, Path: "/things", Status: 201,
		RequestHeader: http.Header{}, Token: in.Token}
}

// TestQueueFullIsReportedInTheTrail: exchanges that do not fit are counted
// and become one audit.events_lost event, never a silent gap.
func TestQueueFullIsReportedInTheTrail(t *testing.T) {
	q := &fakeQueue{gate: make(chan struct{}), entered: make(chan struct{})}
	p, logs := newPipeline(t, Config{Outputs: []Output{{Name: "out", Queue: q}}, QueueSize: 2, MaxBatch: 1})
	p.Observe(exchange(p, "POST")) // taken by the worker, which blocks handing it over
	<-q.entered
	for range 7 { // 2 fit in the queue, 5 are dropped
		p.Observe(exchange(p, "POST"))
	}
	if got := p.Stats().Dropped.Load(); got != 5 {
		t.Fatalf("dropped = %d, want 5", got)
	}
	close(q.gate)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var posted, lost int
	for _, ev := range q.events {
		switch ev.Action {
		case "thing.posted":
			posted++
		case "audit.events_lost":
			lost++
			if !strings.HasPrefix(ev.Description, "5 audit events lost by pipeline between") || ev.Severity != event.SeverityError || ev.ID == "" {
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

// TestRefusedOutputIsReportedElsewhere: an output that refuses events has
// lost them (its queue says so, once), and the other outputs' trail says
// so too; the refusing output gets the report once it takes events again.
func TestRefusedOutputIsReportedElsewhere(t *testing.T) {
	losses := NewLosses()
	bad := &fakeQueue{name: "siem", refuse: errors.New("delivery buffer full"), refusals: 2, losses: losses}
	good := &fakeQueue{}
	p, _ := newPipeline(t, Config{Outputs: []Output{{Name: "siem", Queue: bad}, {Name: "file", Queue: good}}, Losses: losses})
	p.Observe(exchange(p, "POST")) // refused by siem: 1 lost
	deadline := time.Now().Add(10 * time.Second)
	for len(good.actions()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the loss report goes out within a second
	}
	p.Observe(exchange(p, "POST")) // siem takes it, with the loss report it refused
	p.Close(context.Background())
	got := strings.Join(good.actions(), ",")
	if !strings.HasPrefix(got, "thing.posted,audit.events_lost,thing.posted") {
		t.Fatalf("good output got %s", got)
	}
	if d := good.events[1].Description; !strings.HasPrefix(d, "1 audit events lost by siem") || !strings.Contains(d, "delivery buffer full") {
		t.Errorf("loss description = %q", d)
	}
	badGot := strings.Join(bad.actions(), ",")
	if !strings.Contains(badGot, "audit.events_lost") || !strings.Contains(badGot, "thing.posted") {
		t.Errorf("the refusing output never got the loss report: %s", badGot)
	}
	var first string
	for _, ev := range bad.events {
		if ev.Action == "audit.events_lost" && first == "" {
			first = ev.Description
		}
	}
	if !strings.HasPrefix(first, "1 audit events lost by siem") {
		t.Errorf("the report siem got first = %q, want the original count", first)
	}
}

// TestOutputLossesReachTheTrailWithoutTraffic: a loss an output reports
// (a corrupt disk record found at start, say) is written within a second
// even when no request comes.
func TestOutputLossesReachTheTrailWithoutTraffic(t *testing.T) {
	q := &fakeQueue{}
	losses := NewLosses()
	p, _ := newPipeline(t, Config{Outputs: []Output{{Name: "siem", Queue: q}}, Losses: losses})
	defer p.Close(context.Background())
	losses.Report("siem", 3, "corrupt buffer record", time.Time{}, time.Time{})
	deadline := time.Now().Add(10 * time.Second)
	for len(q.actions()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no audit.events_lost event within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ev := q.events[0]; ev.Action != "audit.events_lost" || !strings.Contains(ev.Description, "3 audit events lost by siem (times unknown): corrupt buffer record") {
		t.Errorf("event = %+v", ev)
	}
}

func TestCommit(t *testing.T) {
	disk, mem := &fakeQueue{}, &fakeQueue{}
	p, _ := newPipeline(t, Config{Outputs: []Output{{Name: "disk", Queue: disk, Durable: true}, {Name: "mem", Queue: mem}}})
	x := exchange(p, "DELETE")
	if !p.Interest(httptest.NewRequest("DELETE", "/things", nil)).Critical {
		t.Fatal("critical rule not in the interest")
	}
	if err := p.Commit(x); err != nil {
		t.Fatal(err)
	}
	if disk.durable != 1 || len(mem.events) != 1 {
		t.Errorf("durable %d, memory %d; want 1 and 1", disk.durable, len(mem.events))
	}
	x.Committed = true
	p.Observe(x) // must not build the events again
	p.Close(context.Background())
	if len(disk.events) != 1 {
		t.Errorf("disk got %d events, want the committed one only", len(disk.events))
	}

	failing := &fakeQueue{durableErr: errors.New("fsync failed")}
	p, _ = newPipeline(t, Config{Outputs: []Output{{Name: "disk", Queue: failing, Durable: true}}})
	if err := p.Commit(exchange(p, "DELETE")); err == nil || !strings.Contains(err.Error(), "fsync failed") {
		t.Errorf("failing durable output: err = %v", err)
	}
	p, _ = newPipeline(t, Config{Outputs: []Output{{Name: "mem", Queue: &fakeQueue{}}}})
	if err := p.Commit(exchange(p, "DELETE")); err == nil || !strings.Contains(err.Error(), "no output has a disk buffer") {
		t.Errorf("no durable output: err = %v", err)
	}
}

// TestInFlightKeepsItsRules: an exchange built after a reload still uses
// the rule set that was in force when its request arrived.
func TestInFlightKeepsItsRules(t *testing.T) {
	q := &fakeQueue{}
	p, _ := newPipeline(t, Config{Outputs: []Output{{Name: "out", Queue: q}}})
	x := exchange(p, "POST")
	empty, err := rules.Parse("empty.yaml", []byte("version: 1\nrules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.SetRules(empty)
	if p.Interest(httptest.NewRequest("POST", "/things", nil)).Record {
		t.Error("new requests still recorded under the old rules")
	}
	p.Observe(x)
	p.Close(context.Background())
	if got := q.actions(); len(got) != 1 || got[0] != "thing.posted" {
		t.Errorf("events = %v", got)
	}
}

func TestRecordAndSubscribe(t *testing.T) {
	q := &fakeQueue{}
	p, _ := newPipeline(t, Config{Outputs: []Output{{Name: "out", Queue: q}}})
	ctx, cancel := context.WithCancel(context.Background())
	live := p.Subscribe(ctx)
	p.Record(event.Event{Action: "auditlog.viewed", Actor: event.Actor{Name: "alice"}})
	p.Observe(exchange(p, "POST"))
	var got []string
	for len(got) < 2 {
		select {
		case ev := <-live:
			got = append(got, ev.Action)
		case <-time.After(10 * time.Second):
			t.Fatalf("live events: %v", got)
		}
	}
	cancel()
	for range live { // closed once ctx ends
	}
	p.Close(context.Background())
	if strings.Join(got, ",") != "auditlog.viewed,thing.posted" || len(q.events) != 2 || q.events[0].ID == "" {
		t.Errorf("live %v, queued %+v", got, q.events)
	}
}
