// Package pipeline joins the rooms off the request path: it is the proxy's
// Observer, queues finished exchanges, and has workers turn them into
// events (rules), complete them (enrich) and hand them to every output's
// delivery queue. It also writes the trail's own record of its gaps: an
// audit.events_lost event for every loss anywhere.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/enrich"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/proxy"
	"github.com/auditproxy/auditproxy/rules"
)

// Queue is one output's delivery queue (output/delivery.Queue).
type Queue interface {
	// Enqueue takes events without waiting for the destination. Events it
	// does not keep it reports as lost itself (to Losses), error or not:
	// the caller must not count them again.
	Enqueue(events []event.Event) error
	// StartDurable queues events and returns a wait that returns once
	// they are durably in the local log; an error when it cannot (a memory
	// buffer).
	StartDurable(ctx context.Context, events []event.Event) (wait func(context.Context) error, err error)
	Close(ctx context.Context) error
}

// Output is a named queue.
type Output struct {
	Name    string
	Queue   Queue
	Durable bool // the queue's buffer is on disk: it can hold critical events
}

// Metrics are told what passes through (admin.Metrics); nil: not counted.
type Metrics interface {
	Request(recorded bool)
	Event(action, outcome string)
	QueueDropped(n int)
}

// Config says how to build a Pipeline.
type Config struct {
	Rules    *rules.Set       // required
	Enricher *enrich.Enricher // required
	Outputs  []Output         // every event goes to each; none is allowed
	Losses   *Losses          // where outputs report drops; nil: a new one
	Chain    *chain.Chain     // numbers and links every event (tamper evidence); nil: off
	Logger   zerolog.Logger   // the proxy's own log (stderr)
	Metrics  Metrics

	// Signer, with Chain, writes a signed checkpoint into the trail every
	// CheckpointEvery (0: a minute) and at Close; nil: none.
	Signer          *chain.Signer
	CheckpointEvery time.Duration

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
	// CommitTimeout bounds how long a critical request waits for its
	// events to be durable; 0 means 5s.
	CommitTimeout time.Duration

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

// Pipeline is a proxy.Observer and proxy.Committer. Create it with New,
// close it with Close once the proxy no longer calls Observe.
type Pipeline struct {
	rules     atomic.Pointer[rules.Set]
	enricher  *enrich.Enricher
	outputs   []Output
	losses    *Losses
	log       zerolog.Logger
	metrics   Metrics
	maxBatch  int
	commitTTL time.Duration
	unmatched Unmatched

	queue chan *event.Exchange
	wg    sync.WaitGroup
	stats Stats

	// unsent holds audit.events_lost events an output refused, per output,
	// to hand it again with its next events: a loss report must not be
	// lost with the events it could not deliver.
	unsentMu sync.Mutex
	unsent   map[string][]event.Event

	live fanout // Subscribe

	// writeMu keeps sealing (chain) and handing over in one order, so every
	// output gets the events in the order of their sequence numbers.
	writeMu sync.Mutex
	chain   *chain.Chain

	checkpoints *checkpointer // nil: none
}

// maxUnsent bounds the loss reports kept for an output that refuses
// everything; each one already counts many events.
const maxUnsent = 100

// Stats count what passed through, for tests; metrics go to Metrics.
type Stats struct {
	Observed    atomic.Int64 // exchanges queued
	Dropped     atomic.Int64 // exchanges dropped because the queue was full
	Events      atomic.Int64 // events built
	WriteErrors atomic.Int64 // events an output refused (fail_closed full, closed)
	Committed   atomic.Int64 // events made durable for critical requests
}

var (
	_ proxy.Observer  = (*Pipeline)(nil)
	_ proxy.Committer = (*Pipeline)(nil)
)

// New starts the workers.
func New(cfg Config) (*Pipeline, error) {
	if cfg.Rules == nil || cfg.Enricher == nil {
		return nil, fmt.Errorf("pipeline: rules and enricher are required")
	}
	if cfg.Signer != nil && cfg.Chain == nil {
		return nil, fmt.Errorf("pipeline: signed checkpoints need the chain")
	}
	p := &Pipeline{
		enricher:  cfg.Enricher,
		outputs:   cfg.Outputs,
		losses:    cfg.Losses,
		log:       cfg.Logger,
		metrics:   cfg.Metrics,
		maxBatch:  cmpOr(cfg.MaxBatch, 256),
		commitTTL: cmpOr(cfg.CommitTimeout, 5*time.Second),
		unmatched: cfg.Unmatched,
		queue:     make(chan *event.Exchange, cmpOr(cfg.QueueSize, 8192)),
		unsent:    map[string][]event.Event{},
		chain:     cfg.Chain,
	}
	if p.losses == nil {
		p.losses = NewLosses()
	}
	p.rules.Store(cfg.Rules)
	for range cmpOr(cfg.Workers, 1) {
		p.wg.Add(1)
		go p.work()
	}
	p.startCheckpoints(cfg)
	return p, nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// SetRules swaps the rule set for requests that arrive from now on;
// requests already in flight finish under the set they started with.
func (p *Pipeline) SetRules(s *rules.Set) { p.rules.Store(s) }

// Rules is the set in force.
func (p *Pipeline) Rules() *rules.Set { return p.rules.Load() }

// Stats returns the live counters.
func (p *Pipeline) Stats() *Stats { return &p.stats }

// Interest runs on the request path: an index lookup on method and path.
func (p *Pipeline) Interest(r *http.Request) proxy.Interest {
	set := p.rules.Load()
	in := set.Interest(r)
	if !in.Record {
		if p.unmatched != nil && p.unmatched.Wants(r) {
			in = rules.Interest{Record: true, RequestBody: true, ResponseBody: true, ResponseHeader: true}
		}
	}
	if p.metrics != nil {
		p.metrics.Request(in.Record)
	}
	if !in.Record {
		return proxy.Interest{}
	}
	return proxy.Interest{Record: true, RequestBody: in.RequestBody, ResponseBody: in.ResponseBody, ResponseHeader: in.ResponseHeader,
		Before: in.Before, Critical: in.Critical, Token: set}
}

// Observe queues the exchange without blocking the request.
func (p *Pipeline) Observe(x *event.Exchange) {
	if x.Committed {
		return // its events were written by Commit
	}
	select {
	case p.queue <- x:
		p.stats.Observed.Add(1)
	default:
		p.stats.Dropped.Add(1)
		if p.metrics != nil {
			p.metrics.QueueDropped(1)
		}
		if p.losses.report("pipeline", 1, "event queue full", x.Start, x.Start) {
			p.log.Error().Msg("audit event queue full: dropping exchanges; an audit.events_lost event will report how many")
		}
	}
}

// Commit builds the exchange's events and makes them durable in every
// output with a disk buffer (and queues them for the others) before the
// proxy releases a critical request's response.
func (p *Pipeline) Commit(x *event.Exchange) error {
	evs := p.build(nil, x)
	if len(evs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.commitTTL)
	defer cancel()
	// Sealing and queueing happen under writeMu, so the chain's order is
	// the order in every output; the wait for the disk happens after it,
	// so a critical request never holds up the others.
	p.writeMu.Lock()
	p.seal(evs)
	var waits []func(context.Context) error
	var names []string
	var firstErr error
	for _, o := range p.outputs {
		if !o.Durable {
			p.enqueue(o, evs)
			continue
		}
		wait, err := o.Queue.StartDurable(ctx, evs)
		if err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("output %q: %w", o.Name, err))
			continue
		}
		waits, names = append(waits, wait), append(names, o.Name)
	}
	p.live.publish(evs) // sealed and in the trail: live, in seal order
	p.writeMu.Unlock()
	durable := 0
	for i, wait := range waits {
		if err := wait(ctx); err != nil {
			firstErr = cmpErr(firstErr, fmt.Errorf("output %q: %w", names[i], err))
			continue
		}
		durable++
	}
	switch {
	case firstErr != nil:
		return firstErr
	case durable == 0:
		return errors.New("no output has a disk buffer to hold critical events")
	}
	p.stats.Committed.Add(int64(len(evs)))
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Close waits for the queued exchanges to be handed over, reports any loss
// still pending, then closes every output, delivering what it can before
// ctx's deadline.
func (p *Pipeline) Close(ctx context.Context) error {
	close(p.queue)
	p.wg.Wait()
	if evs := p.lossEvents(); len(evs) > 0 {
		p.write(evs)
	}
	p.stopCheckpoints()
	var first error
	for _, o := range p.outputs {
		if err := o.Queue.Close(ctx); err != nil {
			first = cmpErr(first, fmt.Errorf("closing output %q: %w", o.Name, err))
		}
	}
	return first
}

func (p *Pipeline) work() {
	defer p.wg.Done()
	batch := make([]event.Event, 0, p.maxBatch)
	tick := time.NewTicker(lossInterval)
	defer tick.Stop()
	for {
		select {
		case x, ok := <-p.queue:
			if !ok {
				return
			}
			batch = p.build(batch[:0], x)
			// Take what else is already waiting, so one hand-over carries
			// many events when traffic is heavy.
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
			batch = append(batch, p.lossEvents()...)
		case <-tick.C:
			// Losses must reach the trail even when no traffic comes.
			batch = append(batch[:0], p.lossEvents()...)
		}
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
	batch = set.AppendEvents(batch, x)
	if len(batch) == start && p.unmatched != nil {
		p.unmatched.Add(x)
	}
	for i := start; i < len(batch); i++ {
		ev := &batch[i]
		p.enricher.Enrich(ev, x)
		if len(ev.Warnings) > 0 {
			p.log.Warn().Str("rule", ev.Rule).Str("event", ev.ID).Strs("warnings", ev.Warnings).Msg("event emitted with missing values")
		}
		if p.metrics != nil {
			p.metrics.Event(ev.Action, string(ev.Outcome))
		}
	}
	p.stats.Events.Add(int64(len(batch) - start))
	return batch
}

// write hands the batch to every output; an output that refuses it (full
// with fail_closed, or closed) has lost it, which the trail then says.
func (p *Pipeline) write(batch []event.Event) {
	p.writeMu.Lock()
	p.seal(batch)
	for _, o := range p.outputs {
		p.enqueue(o, batch)
	}
	// Under writeMu, so that live subscribers see events in seal order
	// (a stream resuming after a seq relies on it); publish never waits.
	p.live.publish(batch)
	p.writeMu.Unlock()
}

// seal chains the events when chaining is on. If the chain's state cannot
// be saved the events still go out, unchained, and the log says why:
// losing them would be worse than losing their tamper evidence.
func (p *Pipeline) seal(evs []event.Event) {
	if p.chain == nil {
		return
	}
	if err := p.chain.Seal(evs); err != nil {
		p.log.Error().Err(err).Int("events", len(evs)).Msg("hash chain: events written without it")
		for i := range evs {
			evs[i].Seq, evs[i].PrevHash, evs[i].Hash, evs[i].Line = 0, "", "", nil
		}
	}
}

// enqueue hands evs to one output. The queue reports what it drops; the
// pipeline only keeps the loss reports among them, to try again.
func (p *Pipeline) enqueue(o Output, evs []event.Event) {
	p.unsentMu.Lock()
	retry := p.unsent[o.Name]
	delete(p.unsent, o.Name)
	p.unsentMu.Unlock()
	if len(retry) > 0 {
		evs = append(retry, evs...)
	}
	err := o.Queue.Enqueue(evs)
	if err == nil {
		return
	}
	p.stats.WriteErrors.Add(int64(len(evs)))
	p.log.Error().Err(err).Str("output", o.Name).Int("events", len(evs)).Msg("output refused events")
	var reports []event.Event
	for _, ev := range evs {
		if ev.Action == lostAction {
			reports = append(reports, ev)
		}
	}
	if len(reports) > 0 {
		p.unsentMu.Lock()
		kept := append(p.unsent[o.Name], reports...)
		p.unsent[o.Name] = kept[max(0, len(kept)-maxUnsent):]
		p.unsentMu.Unlock()
	}
}

// lostAction is the action of the trail's own loss reports.
const lostAction = "audit.events_lost"

// lossEvents turns the losses reported since the last call into
// audit.events_lost events, one per output and reason.
func (p *Pipeline) lossEvents() []event.Event {
	var evs []event.Event
	for _, l := range p.losses.take() {
		now := time.Now().UTC()
		when := "(times unknown)"
		if !l.first.IsZero() {
			when = "between " + l.first.UTC().Format(event.TimeFormat) + " and " + l.last.UTC().Format(event.TimeFormat)
		}
		ev := event.Event{
			Time:        now,
			Action:      lostAction,
			Description: fmt.Sprintf("%d audit events lost by %s %s: %s", l.count, l.output, when, l.reason),
			Area:        "auditproxy",
			Severity:    event.SeverityError,
			Outcome:     event.OutcomeFailure,
			Target:      event.Target{Type: "output", Name: l.output},
			Rule:        "auditproxy",
		}
		p.enricher.Enrich(&ev, &event.Exchange{Start: now})
		evs = append(evs, ev)
	}
	return evs
}
