// Package pipeline joins the rooms off the request path: it is the proxy's
// Observer, queues finished exchanges, and has workers turn them into
// events (rules), complete them (enrich) and write them (output).
package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/enrich"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/proxy"
	"github.com/auditproxy/auditproxy/rules"
)

// Config says how to build a Pipeline.
type Config struct {
	Rules    *rules.Set       // required
	Enricher *enrich.Enricher // required
	Sinks    []output.Sink    // every event goes to each; none is allowed (events are dropped, counted)
	Logger   zerolog.Logger   // the proxy's own log (stderr)

	// QueueSize bounds the exchanges waiting for a worker; 0 means 8192.
	// When it is full, exchanges are dropped, counted, logged and reported
	// in the trail as an audit.events_lost event: never silently.
	QueueSize int
	// Workers build and write events; 0 means 1. One worker keeps the
	// trail in arrival order and lets a login's learned identity reach the
	// requests after it; it builds and writes far faster than the proxy
	// forwards (docs/BENCHMARKS.md).
	Workers int
	// MaxBatch is how many exchanges a worker takes at once before writing;
	// 0 means 256.
	MaxBatch int

	// Unmatched, when set, also sees the exchanges no rule turned into an
	// event (discovery mode). Nil: they are not recorded at all.
	Unmatched Unmatched
}

// Unmatched learns from requests the rules do not cover.
type Unmatched interface {
	// Wants says, from the request head, whether to record a request that
	// no rule is interested in (with both bodies). It runs on the request
	// path and must be cheap.
	Wants(r *http.Request) bool
	// Add takes an exchange that yielded no event. It runs on a pipeline
	// worker and must be safe for concurrent use.
	Add(x *event.Exchange)
}

// Pipeline is a proxy.Observer. Create it with New, close it with Close
// once the proxy no longer calls Observe.
type Pipeline struct {
	rules     atomic.Pointer[rules.Set]
	enricher  *enrich.Enricher
	sinks     []output.Sink
	log       zerolog.Logger
	maxBatch  int
	unmatched Unmatched

	queue chan *event.Exchange
	wg    sync.WaitGroup

	lost      atomic.Int64 // exchanges dropped since the last report
	lostFirst atomic.Int64 // unix nanos of the first loss since the last report
	stats     Stats
}

// Stats count what passed through, for tests and (later) metrics.
type Stats struct {
	Observed    atomic.Int64 // exchanges queued
	Dropped     atomic.Int64 // exchanges dropped because the queue was full
	Events      atomic.Int64 // events built
	WriteErrors atomic.Int64 // failed sink writes (of a whole batch)
}

var _ proxy.Observer = (*Pipeline)(nil)

// New starts the workers.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Rules == nil || cfg.Enricher == nil {
		return nil, fmt.Errorf("pipeline: rules and enricher are required")
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 8192
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	p := &Pipeline{
		enricher:  cfg.Enricher,
		sinks:     cfg.Sinks,
		log:       cfg.Logger,
		maxBatch:  cfg.MaxBatch,
		unmatched: cfg.Unmatched,
		queue:     make(chan *event.Exchange, cfg.QueueSize),
	}
	p.rules.Store(cfg.Rules)
	for range cfg.Workers {
		p.wg.Add(1)
		go p.work()
	}
	return p, nil
}

// SetRules swaps the rule set for requests that arrive from now on;
// requests already in flight finish under the set they started with.
func (p *Pipeline) SetRules(s *rules.Set) { p.rules.Store(s) }

// Stats returns the live counters.
func (p *Pipeline) Stats() *Stats { return &p.stats }

// Interest runs on the request path: an index lookup on method and path.
func (p *Pipeline) Interest(r *http.Request) proxy.Interest {
	set := p.rules.Load()
	in := set.Interest(r)
	if !in.Record {
		if p.unmatched != nil && p.unmatched.Wants(r) {
			return proxy.Interest{Record: true, RequestBody: true, ResponseBody: true, Token: set}
		}
		return proxy.Interest{}
	}
	return proxy.Interest{Record: true, RequestBody: in.RequestBody, ResponseBody: in.ResponseBody, Before: in.Before, Token: set}
}

// Observe queues the exchange without blocking the request.
func (p *Pipeline) Observe(x *event.Exchange) {
	select {
	case p.queue <- x:
		p.stats.Observed.Add(1)
	default:
		p.stats.Dropped.Add(1)
		p.lostFirst.CompareAndSwap(0, time.Now().UnixNano())
		if p.lost.Add(1) == 1 {
			p.log.Error().Msg("audit event queue full: dropping exchanges; an audit.events_lost event will report how many")
		}
	}
}

// Close waits for the queued exchanges to be written, then closes the sinks.
func (p *Pipeline) Close() error {
	close(p.queue)
	p.wg.Wait()
	if evs := p.lossReport(); len(evs) > 0 {
		p.write(evs)
	}
	var first error
	for _, s := range p.sinks {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Pipeline) work() {
	defer p.wg.Done()
	batch := make([]event.Event, 0, p.maxBatch)
	for x := range p.queue {
		batch = p.build(batch[:0], x)
		// Take what else is already waiting, so one write carries many
		// events when traffic is heavy.
	more:
		for n := 1; n < p.maxBatch; n++ {
			select {
			case x, ok := <-p.queue:
				if !ok {
					break more
				}
				batch = p.build(batch, x)
			default:
				break more
			}
		}
		batch = append(batch, p.lossReport()...)
		if len(batch) > 0 {
			p.write(batch)
		}
	}
}

func (p *Pipeline) build(batch []event.Event, x *event.Exchange) []event.Event {
	set, _ := x.Token.(*rules.Set)
	if set == nil {
		set = p.rules.Load()
	}
	x.ClientIP = p.enricher.ClientIP(x)
	start := len(batch)
	batch = append(batch, set.Build(x)...)
	if len(batch) == start && p.unmatched != nil {
		p.unmatched.Add(x)
	}
	for i := start; i < len(batch); i++ {
		ev := &batch[i]
		p.enricher.Enrich(ev, x)
		if len(ev.Warnings) > 0 {
			p.log.Warn().Str("rule", ev.Rule).Str("event", ev.ID).Strs("warnings", ev.Warnings).Msg("event emitted with missing values")
		}
	}
	p.stats.Events.Add(int64(len(batch) - start))
	return batch
}

// lossReport turns dropped exchanges into an event in the trail itself.
func (p *Pipeline) lossReport() []event.Event {
	n := p.lost.Swap(0)
	if n == 0 {
		return nil
	}
	first := time.Unix(0, p.lostFirst.Swap(0)).UTC()
	now := time.Now().UTC()
	ev := event.Event{
		Time:        now,
		Action:      "audit.events_lost",
		Description: fmt.Sprintf("%d audited requests lost between %s and %s: the event queue was full", n, first.Format(event.TimeFormat), now.Format(event.TimeFormat)),
		Area:        "auditproxy",
		Severity:    event.SeverityError,
		Outcome:     event.OutcomeFailure,
		Target:      event.Target{Type: "queue", Name: "events"},
		Rule:        "auditproxy",
	}
	p.enricher.Enrich(&ev, &event.Exchange{Start: now})
	return []event.Event{ev}
}

func (p *Pipeline) write(batch []event.Event) {
	for _, s := range p.sinks {
		if err := s.Write(context.Background(), batch); err != nil {
			p.stats.WriteErrors.Add(1)
			p.log.Error().Err(err).Int("events", len(batch)).Msg("writing audit events failed")
		}
	}
}
