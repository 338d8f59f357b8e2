// Package delivery stands between the pipeline and one output's Sink. A
// Queue buffers events (in memory, or in a checksummed log on disk that
// survives restarts), hands them to the sink in batches, retries what the
// sink could not take, moves what it will never take to a dead-letter file,
// and reports every event it drops. An event leaves the buffer only once
// the sink has confirmed it; nothing is lost without a Loss report.
//
// What is guaranteed, and where it ends:
//
//   - Order: one batch at a time, in buffer order; a retry resends the
//     same events in the same order (for a partly accepted batch, the
//     rejected ones in their order).
//   - At least once: an event is removed only after the sink confirmed it.
//     A disk buffer saves its position after every confirmed batch, so a
//     crash resends at most the batch confirmed but not yet recorded (and,
//     with fsync: interval, what the disk had not made durable of the
//     position); downstream deduplicates by event id.
//   - Durability: fsync: interval can lose the last 200 ms of writes to a
//     power cut (not to a process crash: the data is in the page cache);
//     fsync: always and EnqueueDurable return only after fsync.
//   - Loss: every drop (when_full, max_age, damaged records, write errors,
//     a memory buffer's leftovers at Close) is counted and reported through
//     OnLoss. A batch dropped while being sent may still reach the sink:
//     the report then counts events that did arrive (too many, never too
//     few). The number of events in a damaged stretch of a segment is an
//     estimate.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

// Errors returned by Enqueue, EnqueueDurable and Close; test with errors.Is.
var (
	// ErrFull: the buffer has no room and the policy (fail_closed, or
	// EnqueueDurable under drop_newest) is to refuse rather than drop.
	ErrFull = errors.New("delivery buffer full")
	// ErrNotDurable: EnqueueDurable on a memory buffer, which a crash empties.
	ErrNotDurable = errors.New("memory buffer cannot hold events durably")
	// ErrClosed: the queue is closed (or closing) and takes no more events.
	ErrClosed = errors.New("delivery queue closed")
)

// Defaults for the zero values of output.Spec's buffer and retry settings.
const (
	defaultMaxCount = 100_000
	defaultMaxBytes = 1 << 30
	defaultMaxAge   = 7 * 24 * time.Hour
	defaultInitial  = 500 * time.Millisecond
	defaultMax      = time.Minute
	// syncInterval is how often fsync: interval flushes the disk buffer
	// (only when something was written).
	syncInterval = 200 * time.Millisecond
	// maxBatch is batch.max_events unless the spec or the kind says
	// otherwise: the most events handed to one sink.Write.
	maxBatch = 500
	// defaultBatchWait is batch.max_wait for collectors.
	defaultBatchWait = 100 * time.Millisecond
)

// Loss reasons, for Loss.Reason.
const (
	ReasonDropOldest  = "buffer full (drop_oldest)"
	ReasonDropNewest  = "buffer full (drop_newest)"
	ReasonFailClosed  = "buffer full (fail_closed)"
	ReasonTooLarge    = "event larger than the whole buffer"
	ReasonMaxAge      = "older than max_age"
	ReasonCorrupt     = "corrupt buffer record"
	ReasonUndecodable = "undecodable buffer record"
	ReasonClosed      = "queue closed"
	ReasonShutdown    = "not delivered before shutdown (memory buffer)"
)

// Options are what a Queue needs beyond its output's Spec.
type Options struct {
	// DataDir holds what outputs keep on disk by default: the disk buffer
	// in DataDir/buffer/<name>/ and rejected events in
	// DataDir/dead/<name>.jsonl. "" means there are no defaults: a disk
	// buffer then needs spec.Buffer.Dir, and without spec.DeadLetter
	// events the destination rejects for good are reported as lost.
	DataDir string
	// Logger is the proxy's own log (stderr). The zero Logger logs nothing.
	Logger zerolog.Logger
	// OnLoss is told about every drop, from any goroutine (New's too, for
	// damage found on opening a disk buffer), never while the queue holds
	// a lock; the pipeline writes it into the trail as an
	// audit.events_lost event. Nil: each loss is logged as an error.
	OnLoss func(Loss)
	// Now is the clock for event ages and dead-letter times; nil means
	// time.Now. Timers (backoff, fsync interval) always run on real time.
	Now func() time.Time
}

// Loss reports events that were dropped: they will never reach the output.
// Events moved to the dead-letter file are kept, not lost.
type Loss struct {
	Output string
	Count  int
	Reason string // one of the Reason constants, or a sentence for failures (a disk write error)
	// First and Last are the earliest and latest event times among the
	// dropped events; zero when not known (a corrupt record).
	First, Last time.Time
}

// Stats are a queue's live numbers, for metrics and tests.
type Stats struct {
	Depth        int   // events waiting for confirmation, including those being sent
	BytesOnDisk  int64 // disk buffer: size of its segment files; memory: 0
	Delivered    int64 // events the sink confirmed
	Retried      int64 // failed attempts (sink.Write calls) that are retried
	Dropped      int64 // events reported lost
	DeadLettered int64 // events written to the dead-letter file
	// OldestUndelivered is the age (by event time) of the oldest event
	// still waiting; 0 when none waits.
	OldestUndelivered time.Duration
	LastError         string // the last error of the sink or the buffer; "" if none yet
}

// Queue delivers one output's events. Create it with New; it is safe for
// concurrent use. Close it to stop its goroutines.
type Queue struct {
	name   string
	spec   output.Spec // with defaults filled in
	sink   output.Sink
	log    zerolog.Logger
	onLoss func(Loss)
	now    func() time.Time
	dead   deadLetter

	mu      sync.Mutex
	st      store
	disk    *diskStore // st, when the buffer is on disk
	closed  bool
	losses  []Loss        // found under mu, reported by unlock
	room    chan struct{} // closed and replaced whenever room is made, for when_full: block
	settled int           // events of the batch in flight already delivered, dead-lettered or dropped
	aborted bool          // the batch in flight was dropped to make room (drop_oldest)
	sending time.Time     // oldest event time of the batch in flight
	lastErr string

	wake     chan struct{} // capacity 1: events were added
	closing  chan struct{} // closed by Close: take nothing more, deliver what is left
	abort    chan struct{} // closed when Close's deadline passes: stop delivering now
	ctx      context.Context
	cancel   context.CancelFunc // cancels ctx, which every sink.Write gets
	done     chan struct{}      // the delivery goroutine has ended
	stopSync chan struct{}      // tells the fsync goroutine to end
	syncDone chan struct{}      // the fsync goroutine has ended

	delivered, retried, dropped, deadLettered atomic.Int64
}

// New opens the queue's buffer (replaying a disk buffer's unconfirmed
// events), and starts delivering to sink. Spec fields left zero take the
// defaults documented on output.Spec; a Buffer.Type of "" means memory
// here (the caller decides which outputs default to disk).
func New(spec output.Spec, sink output.Sink, opts Options) (*Queue, error) {
	if spec.Name == "" {
		spec.Name = spec.Type
	}
	if err := withDefaults(&spec); err != nil {
		return nil, fmt.Errorf("output %q: %w", spec.Name, err)
	}
	q := &Queue{
		name:     spec.Name,
		spec:     spec,
		sink:     sink,
		log:      opts.Logger.With().Str("output", spec.Name).Logger(),
		onLoss:   opts.OnLoss,
		now:      opts.Now,
		room:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		closing:  make(chan struct{}),
		abort:    make(chan struct{}),
		done:     make(chan struct{}),
		stopSync: make(chan struct{}),
		syncDone: make(chan struct{}),
	}
	if q.now == nil {
		q.now = time.Now
	}
	q.dead.path = spec.DeadLetter
	if q.dead.path == "" && opts.DataDir != "" {
		if !usableFileName(spec.Name) {
			return nil, fmt.Errorf("output %q: the name cannot be used in file names; set dead_letter", spec.Name)
		}
		q.dead.path = filepath.Join(opts.DataDir, "dead", spec.Name+".jsonl")
	}

	switch spec.Buffer.Type {
	case "memory":
		q.st = &memStore{max: spec.Buffer.MaxCount}
		close(q.syncDone)
	case "disk":
		dir := spec.Buffer.Dir
		if dir == "" {
			if opts.DataDir == "" {
				return nil, fmt.Errorf("output %q: a disk buffer needs buffer.dir or a data directory", spec.Name)
			}
			if !usableFileName(spec.Name) {
				return nil, fmt.Errorf("output %q: the name cannot be used in file names; set buffer.dir", spec.Name)
			}
			dir = filepath.Join(opts.DataDir, "buffer", spec.Name)
		}
		d, err := openDisk(dir, spec.Buffer, q.log, q.lose)
		if err != nil {
			q.unlock0()
			return nil, fmt.Errorf("output %q: opening disk buffer: %w", spec.Name, err)
		}
		q.st, q.disk = d, d
		go q.syncLoop()
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	q.unlock0() // report what opening the buffer found (a corrupt tail)
	go q.run()
	return q, nil
}

func withDefaults(s *output.Spec) error {
	b, r := &s.Buffer, &s.Retry
	switch b.Type {
	case "":
		b.Type = "memory"
	case "memory", "disk":
	default:
		return fmt.Errorf("buffer.type: %q is not one of memory, disk", b.Type)
	}
	switch b.Fsync {
	case "":
		b.Fsync = "interval"
	case "interval", "always":
	default:
		return fmt.Errorf("buffer.fsync: %q is not one of interval, always", b.Fsync)
	}
	switch s.WhenFull {
	case "":
		s.WhenFull = output.DropOldest
	case output.DropOldest, output.DropNewest, output.Block, output.FailClosed:
	default:
		return fmt.Errorf("when_full: %q is not one of drop_oldest, drop_newest, block, fail_closed", s.WhenFull)
	}
	if b.MaxBytes < 0 || b.MaxAge < 0 || b.MaxCount < 0 || r.Initial < 0 || r.Max < 0 || r.MaxAttempts < 0 {
		return errors.New("buffer and retry settings cannot be negative")
	}
	kind := output.KindOf(s.Type)
	if w := s.Batch.MaxWait; w == nil {
		d := kind.BatchWait
		if d == 0 && output.IsCollector(s.Type) {
			d = defaultBatchWait
		}
		s.Batch.MaxWait = &d
	} else if *w < 0 {
		return errors.New("batch.max_wait cannot be negative")
	}
	if s.Batch.MaxEvents < 0 {
		return errors.New("batch.max_events cannot be negative")
	}
	s.Batch.MaxEvents = cmpOr(s.Batch.MaxEvents, cmpOr(kind.BatchEvents, maxBatch))
	b.MaxCount = cmpOr(b.MaxCount, defaultMaxCount)
	b.MaxBytes = cmpOr(b.MaxBytes, defaultMaxBytes)
	b.MaxAge = cmpOr(b.MaxAge, defaultMaxAge)
	r.Initial = cmpOr(r.Initial, defaultInitial)
	r.Max = max(cmpOr(r.Max, defaultMax), r.Initial)
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// usableFileName reports whether an output name can become part of a path
// without escaping the directory meant for it.
func usableFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`+"\x00")
}

// Enqueue adds events to the buffer and returns without waiting for
// delivery. It blocks only under when_full: block, until there is room.
// Every event it does not keep is reported through OnLoss (dropped by the
// when_full policy, refused by fail_closed, larger than the buffer, after
// Close, or after a disk write error); it returns nil when the policy
// dropped them (drop_oldest, drop_newest) and an error otherwise: ErrFull
// (fail_closed), ErrClosed, or what failed. Under fsync: always it returns
// once the events are fsynced. The queue copies the events but shares what
// they point to (changes, roles, warnings): the caller must not modify
// those afterwards.
func (q *Queue) Enqueue(events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	in := q.prepare(events)
	defer in.release()
	return q.put(context.Background(), in, false)
}

// EnqueueDurable adds events for a rule with delivery: critical. It returns
// nil only once the events are in the disk buffer and fsynced, so they
// survive a crash. It never drops the events it is given: when there is no
// room it waits (block), drops older events (drop_oldest) or returns
// ErrFull (drop_newest, fail_closed). A memory buffer returns ErrNotDurable
// and keeps nothing. ctx bounds the waits; an error after the events were
// written (ctx expired or fsync failed while waiting for the flush) means
// they are queued and will be delivered, but may not survive a crash.
// Events it did not keep are not reported through OnLoss: the caller owns
// them (and fails the request).
func (q *Queue) EnqueueDurable(ctx context.Context, events []event.Event) error {
	if q.disk == nil {
		return fmt.Errorf("queueing events for output %q: %w", q.name, ErrNotDurable)
	}
	if len(events) == 0 {
		return nil
	}
	wait, err := q.StartDurable(ctx, events)
	if err != nil {
		return err
	}
	return wait(ctx)
}

// StartDurable is EnqueueDurable in two steps: it queues the events (in
// the order of the calls) and returns a wait that returns once they are
// durably on disk. A caller that must keep several queues in one order
// holds its lock for StartDurable only, not for the disk.
func (q *Queue) StartDurable(ctx context.Context, events []event.Event) (wait func(context.Context) error, err error) {
	if q.disk == nil {
		return nil, fmt.Errorf("queueing events for output %q: %w", q.name, ErrNotDurable)
	}
	if len(events) == 0 {
		return func(context.Context) error { return nil }, nil
	}
	in := q.prepare(events)
	defer in.release()
	seq, err := q.putNoWait(ctx, in, true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if seq < 0 {
			return nil
		}
		return q.waitSynced(ctx, seq)
	}, nil
}

// put adds in's events under the when_full policy; durable callers (see
// EnqueueDurable) get their events kept or an error, never a drop.
func (q *Queue) put(ctx context.Context, in *incoming, durable bool) error {
	seq, err := q.putNoWait(ctx, in, durable)
	if err != nil || seq < 0 {
		return err
	}
	return q.waitSynced(ctx, seq)
}

// putNoWait adds the events and returns the disk position to wait for
// before they count as durable (-1: no wait needed).
func (q *Queue) putNoWait(ctx context.Context, in *incoming, durable bool) (int64, error) {
	n := len(in.events)
	i := 0 // in.events[:i] are added or dropped
	q.mu.Lock()
	for i < n {
		if q.closed {
			if !durable {
				q.lose(n-i, spanOf(in.events[i:]), ReasonClosed)
			}
			q.unlock()
			return -1, fmt.Errorf("queueing %d events for output %q: %w", n-i, q.name, ErrClosed)
		}
		if q.st.cost(in, i, n) > q.st.free() {
			var err error
			switch q.spec.WhenFull {
			case output.DropOldest:
				i, err = q.makeRoom(in, i, durable)
			case output.DropNewest:
				if durable {
					err = ErrFull
					break
				}
				k := q.fit(in, i)
				if k, err = q.add(in, i, k, durable); err == nil {
					q.lose(n-k, spanOf(in.events[k:]), ReasonDropNewest)
					i = n
				}
			case output.FailClosed:
				if !durable {
					q.lose(n-i, spanOf(in.events[i:]), ReasonFailClosed)
				}
				err = ErrFull
			case output.Block:
				if i, err = q.add(in, i, q.fit(in, i), durable); err != nil {
					break
				}
				if q.st.cost(in, i, i+1) > q.st.capacity() {
					// It would wait forever.
					if durable {
						err = ErrFull
						break
					}
					q.lose(1, spanOf(in.events[i:i+1]), ReasonTooLarge)
					i++
					continue
				}
				if q.st.cost(in, i, n) > q.st.free() {
					room := q.room
					q.signalWake() // what was added may be what frees the room
					q.unlock()
					select {
					case <-room:
					case <-q.closing:
					case <-ctx.Done():
						return -1, fmt.Errorf("queueing %d events for output %q: waiting for room: %w", n-i, q.name, ctx.Err())
					}
					q.mu.Lock()
				}
			}
			if err != nil {
				q.signalWake()
				q.unlock()
				return -1, fmt.Errorf("queueing %d events for output %q: %w", n-i, q.name, err)
			}
			continue
		}
		var err error
		if i, err = q.add(in, i, n, durable); err != nil {
			q.signalWake()
			q.unlock()
			return -1, fmt.Errorf("queueing %d events for output %q: %w", n-i, q.name, err)
		}
	}
	q.signalWake()
	seq := int64(-1)
	if q.disk != nil && (durable || q.disk.always) {
		seq = q.disk.written
	}
	q.unlock()
	return seq, nil
}

// add appends in.events[i:j] and returns where it stopped. After a write
// error the events not added are reported lost (unless durable).
func (q *Queue) add(in *incoming, i, j int, durable bool) (int, error) {
	if i == j {
		return i, nil
	}
	added, err := q.st.add(in, i, j)
	i += added
	if err != nil {
		q.noteErrorLocked(err)
		if !durable {
			q.lose(len(in.events)-i, spanOf(in.events[i:]), "disk buffer write failed: "+err.Error())
		}
	}
	return i, err
}

// makeRoom drops the oldest buffered events until in.events[i:] fits. When
// they would not fit even in an empty buffer, the oldest of them go first,
// so that one oversized call does not also empty the buffer. A durable
// caller never has its own events dropped: it gets ErrFull. It returns
// where in continues.
func (q *Queue) makeRoom(in *incoming, i int, durable bool) (int, error) {
	n := len(in.events)
	k := i
	for k < n && q.st.cost(in, k, n) > q.st.capacity() {
		k++
	}
	if k > i {
		if durable {
			return i, ErrFull
		}
		q.lose(k-i, spanOf(in.events[i:k]), ReasonDropOldest)
	}
	d, err := q.st.dropOldest(q.st.cost(in, k, n))
	q.lose(d.count, d.span, ReasonDropOldest)
	if d.aborted {
		q.aborted, q.settled = true, 0
	}
	if err != nil {
		q.noteErrorLocked(err)
	}
	for k < n && q.st.cost(in, k, n) > q.st.free() {
		// Only after a failure to make room (a new segment could not
		// be created).
		if durable {
			return i, ErrFull
		}
		q.lose(1, spanOf(in.events[k:k+1]), ReasonDropOldest)
		k++
	}
	return k, nil
}

// fit returns the largest k such that in.events[i:k] fit now.
func (q *Queue) fit(in *incoming, i int) int {
	free := q.st.free()
	k := i
	for k < len(in.events) && q.st.cost(in, i, k+1) <= free {
		k++
	}
	return k
}

// waitSynced waits until an fsync covers the disk buffer up to seq.
func (q *Queue) waitSynced(ctx context.Context, seq int64) error {
	d := q.disk
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		switch {
		case d.syncFailed >= seq:
			return fmt.Errorf("queueing events for output %q: %w", q.name, d.syncErr)
		case d.synced >= seq:
			return nil
		}
		ch := d.syncedCh
		select {
		case d.kick <- struct{}{}:
		default:
		}
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			q.mu.Lock()
			return fmt.Errorf("queueing events for output %q: waiting for fsync: %w", q.name, ctx.Err())
		}
		q.mu.Lock()
	}
}

// syncLoop flushes the disk buffer every syncInterval when it was written
// to, and at once when a durable caller asks (kick): concurrent callers
// share one fsync.
func (q *Queue) syncLoop() {
	defer close(q.syncDone)
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-q.disk.kick:
		case <-q.stopSync:
			return
		}
		q.mu.Lock()
		q.disk.sync()
		q.mu.Unlock()
	}
}

// run is the delivery goroutine: one batch at a time, in buffer order.
func (q *Queue) run() {
	defer close(q.done)
	for {
		batch, ok := q.next()
		if !ok {
			return
		}
		q.deliver(batch)
	}
}

// next waits for the next batch. It returns false once the queue is
// closing and empty, or when Close's deadline has passed.
func (q *Queue) next() ([]event.Event, bool) {
	lingered := false // this batch has had its batch.max_wait
	q.mu.Lock()
	for {
		select {
		case <-q.abort:
			q.unlock()
			return nil, false
		default:
		}
		if !lingered && !q.closed {
			if n := q.st.depth() - q.st.inflight(); n > 0 && n < q.spec.Batch.MaxEvents && *q.spec.Batch.MaxWait > 0 {
				lingered = true
				q.unlock()
				q.lingerFor(*q.spec.Batch.MaxWait)
				q.mu.Lock()
				continue
			}
		}
		free := q.st.free()
		evs, raw := q.st.read(q.spec.Batch.MaxEvents)
		if q.st.free() > free {
			q.signalRoom() // reading deleted segments confirmed earlier
		}
		if len(evs) > 0 || len(raw) > 0 {
			q.settled, q.aborted = 0, false
			q.unlock()
			if raw != nil {
				evs = q.decode(raw)
			}
			q.mu.Lock()
			q.sending = spanOf(evs).first
			q.mu.Unlock()
			return evs, true
		}
		if q.closed {
			q.unlock()
			return nil, false
		}
		q.unlock()
		select {
		case <-q.wake:
		case <-q.closing:
		case <-q.abort:
		}
		q.mu.Lock()
	}
}

// lingerFor waits up to d for a full batch to be waiting, or for the
// queue to close. Call without mu held.
func (q *Queue) lingerFor(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-q.closing:
			return
		case <-q.abort:
			return
		case <-q.wake:
			q.mu.Lock()
			full := q.st.depth()-q.st.inflight() >= q.spec.Batch.MaxEvents
			q.mu.Unlock()
			if full {
				return
			}
		}
	}
}

// decode turns disk records back into events. A record whose checksum
// holds but whose JSON does not decode (written by another version?) is
// reported lost rather than blocking the queue.
func (q *Queue) decode(raw [][]byte) []event.Event {
	evs := make([]event.Event, 0, len(raw))
	bad := 0
	var badErr error
	for _, p := range raw {
		var ev event.Event
		if err := json.Unmarshal(p, &ev); err != nil {
			bad, badErr = bad+1, err
			continue
		}
		evs = append(evs, ev)
	}
	if bad > 0 {
		q.log.Error().Err(badErr).Int("records", bad).Msg("disk buffer records with a valid checksum do not decode as events; dropping them")
		q.mu.Lock()
		q.lose(bad, span{}, ReasonUndecodable)
		q.settled += bad
		q.unlock()
	}
	return evs
}

// deliver sends one batch until every event in it is confirmed,
// dead-lettered or dropped, then removes the batch from the buffer. It
// returns early, leaving the batch in the buffer, when Close's deadline
// passes or drop_oldest took the batch.
func (q *Queue) deliver(batch []event.Event) {
	pending := batch
	for attempt := 1; ; attempt++ {
		if q.batchDropped() {
			return
		}
		if pending = q.expire(pending); len(pending) == 0 {
			break
		}
		err := q.sink.Write(q.ctx, pending)
		if q.batchDropped() {
			return
		}
		if err == nil {
			q.delivered.Add(int64(len(pending)))
			q.settle(len(pending))
			break
		}
		q.noteError(err)
		var items *output.ItemErrors
		switch {
		case errors.As(err, &items):
			pending = q.splitItems(pending, items)
		case output.IsPermanent(err):
			q.deadLetter(pending, err.Error())
			pending = nil
		}
		if len(pending) == 0 {
			break
		}
		if n := q.spec.Retry.MaxAttempts; n > 0 && attempt >= n {
			q.deadLetter(pending, fmt.Sprintf("gave up after %d attempts: %v", attempt, err))
			break
		}
		q.retried.Add(1)
		if !q.sleep(q.backoff(attempt, err)) {
			return
		}
	}
	q.mu.Lock()
	if !q.aborted {
		q.st.ack()
		q.settled = 0
		q.sending = time.Time{}
		q.signalRoom()
	}
	q.unlock()
}

// splitItems confirms the events of a partly accepted batch that the sink
// did not list, dead-letters the listed ones it rejected for good, and
// returns the rest, in their order, to retry.
func (q *Queue) splitItems(batch []event.Event, items *output.ItemErrors) []event.Event {
	failed := make([]error, len(batch))
	for _, it := range items.Items {
		if it.Index >= 0 && it.Index < len(batch) && it.Err != nil {
			failed[it.Index] = it.Err
		}
	}
	var retry, dead []event.Event
	var reasons []string
	for i, err := range failed {
		switch {
		case err == nil:
		case output.IsPermanent(err):
			dead = append(dead, batch[i])
			reasons = append(reasons, err.Error())
		default:
			retry = append(retry, batch[i])
		}
	}
	accepted := len(batch) - len(retry) - len(dead)
	q.delivered.Add(int64(accepted))
	q.settle(accepted)
	if len(dead) > 0 {
		q.deadLetter(dead, reasons...)
	}
	return retry
}

// expire drops the events older than max_age (by event time; events
// without a time never expire).
func (q *Queue) expire(evs []event.Event) []event.Event {
	cutoff := q.now().Add(-q.spec.Buffer.MaxAge)
	expired := func(ev *event.Event) bool { return !ev.Time.IsZero() && ev.Time.Before(cutoff) }
	first := 0
	for first < len(evs) && !expired(&evs[first]) {
		first++
	}
	if first == len(evs) {
		return evs // the usual case: nothing to copy
	}
	var old, keep []event.Event
	keep = append(keep, evs[:first]...)
	for i := first; i < len(evs); i++ {
		if expired(&evs[i]) {
			old = append(old, evs[i])
		} else {
			keep = append(keep, evs[i])
		}
	}
	q.mu.Lock()
	q.lose(len(old), spanOf(old), ReasonMaxAge)
	q.settled += len(old)
	q.unlock()
	return keep
}

// deadLetter moves events the destination will never take to the
// dead-letter file, with one reason for all or one per event; when that
// fails they are reported lost.
func (q *Queue) deadLetter(evs []event.Event, reasons ...string) {
	err := q.dead.write(evs, reasons, q.name, q.now())
	q.mu.Lock()
	if err != nil {
		q.lastErr = err.Error()
		q.log.Error().Err(err).Int("events", len(evs)).Str("reason", reasons[0]).Msg("events rejected by the output could not be dead-lettered")
		q.lose(len(evs), spanOf(evs), "rejected by the output ("+reasons[0]+") and not dead-lettered: "+err.Error())
	} else {
		q.deadLettered.Add(int64(len(evs)))
	}
	q.settled += len(evs)
	q.unlock()
}

// backoff is the wait before attempt+1: what the destination asked for, or
// exponential with full jitter between 0 and initial*2^(attempt-1), capped
// at max.
func (q *Queue) backoff(attempt int, err error) time.Duration {
	if d, ok := output.RetryAfterOf(err); ok && d > 0 {
		return d
	}
	ceil, limit := q.spec.Retry.Initial, q.spec.Retry.Max
	for i := 1; i < attempt && ceil < limit; i++ {
		ceil *= 2
	}
	ceil = min(ceil, limit)
	return time.Duration(rand.Int64N(int64(ceil))) + 1
}

// sleep waits d; false when Close's deadline passed first.
func (q *Queue) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-q.abort:
		return false
	}
}

func (q *Queue) batchDropped() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.aborted
}

func (q *Queue) settle(n int) {
	q.mu.Lock()
	q.settled += n
	q.mu.Unlock()
}

func (q *Queue) noteError(err error) {
	q.mu.Lock()
	q.noteErrorLocked(err)
	q.mu.Unlock()
}

func (q *Queue) noteErrorLocked(err error) { q.lastErr = err.Error() }

// Close stops taking events, delivers what it can until ctx is done,
// then closes the sink. A disk buffer keeps what is left for the next
// start (logged); a memory buffer's leftovers are reported lost. Enqueue
// calls waiting for room return ErrClosed. Close waits for the sink's
// Write in progress to return (it gets a cancelled context).
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return fmt.Errorf("closing output %q: %w", q.name, ErrClosed)
	}
	q.closed = true
	close(q.closing)
	q.unlock()

	select {
	case <-q.done:
	case <-ctx.Done():
		close(q.abort)
		q.cancel()
		<-q.done
	}
	q.cancel()
	close(q.stopSync)
	<-q.syncDone

	q.mu.Lock()
	left := q.depth()
	var errs []error
	if q.disk == nil && left > 0 {
		q.lose(left, q.st.(*memStore).span(), ReasonShutdown)
		errs = append(errs, fmt.Errorf("closing output %q: %d events not delivered before the deadline and lost", q.name, left))
	}
	if err := q.st.close(); err != nil {
		errs = append(errs, fmt.Errorf("closing output %q: %w", q.name, err))
	}
	q.unlock()
	if q.disk != nil {
		ev := q.log.Info()
		if left > 0 {
			ev = q.log.Warn()
		}
		ev.Int("events", left).Str("dir", q.disk.dir).Msg("delivery stopped; events left in the disk buffer are sent at the next start")
	}
	if err := q.sink.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing output %q: %w", q.name, err))
	}
	if err := q.dead.close(); err != nil {
		errs = append(errs, fmt.Errorf("closing output %q: %w", q.name, err))
	}
	return errors.Join(errs...)
}

// Stats returns the current numbers.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Stats{
		Depth:        q.depth(),
		BytesOnDisk:  q.st.bytes(),
		Delivered:    q.delivered.Load(),
		Retried:      q.retried.Load(),
		Dropped:      q.dropped.Load(),
		DeadLettered: q.deadLettered.Load(),
		LastError:    q.lastErr,
	}
	oldest := q.sending
	if q.st.inflight() == 0 || oldest.IsZero() {
		oldest = q.st.oldest()
	}
	if s.Depth > 0 && !oldest.IsZero() {
		s.OldestUndelivered = max(q.now().Sub(oldest), 0)
	}
	return s
}

func (q *Queue) depth() int { return q.st.depth() - q.settled }

// lose records a loss; unlock reports it. Call with mu held.
func (q *Queue) lose(n int, s span, reason string) {
	if n <= 0 {
		return
	}
	q.dropped.Add(int64(n))
	q.losses = append(q.losses, Loss{Output: q.name, Count: n, Reason: reason, First: s.first, Last: s.last})
}

// unlock releases mu, then reports the losses found while it was held:
// OnLoss may call back into the queue (Stats) or block.
func (q *Queue) unlock() {
	losses := q.losses
	q.losses = nil
	q.mu.Unlock()
	q.report(losses)
}

// unlock0 reports losses recorded before mu was ever locked (in New).
func (q *Queue) unlock0() {
	losses := q.losses
	q.losses = nil
	q.report(losses)
}

func (q *Queue) report(losses []Loss) {
	for _, l := range losses {
		if q.onLoss != nil {
			q.onLoss(l)
			continue
		}
		q.log.Error().Int("events", l.Count).Str("reason", l.Reason).
			Time("first", l.First).Time("last", l.Last).Msg("audit events lost")
	}
}

func (q *Queue) signalWake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// signalRoom wakes every Enqueue waiting for room. Call with mu held.
func (q *Queue) signalRoom() {
	close(q.room)
	q.room = make(chan struct{})
}

// span is the time range of some events.
type span struct{ first, last time.Time }

func (s *span) add(t time.Time) {
	if t.IsZero() {
		return
	}
	if s.first.IsZero() || t.Before(s.first) {
		s.first = t
	}
	if s.last.IsZero() || t.After(s.last) {
		s.last = t
	}
}

func spanOf(evs []event.Event) span {
	var s span
	for i := range evs {
		s.add(evs[i].Time)
	}
	return s
}
