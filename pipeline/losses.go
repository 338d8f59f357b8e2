package pipeline

import (
	"sync"
	"time"
)

// lossInterval is how often pending losses are written into the trail when
// no traffic carries them sooner. It also bounds the churn when the event
// reporting a loss is itself dropped by a full output: at most one more
// report per output and reason per interval.
const lossInterval = time.Second

// Losses collects drops from anywhere (the pipeline's own queue, every
// output's delivery queue) until the pipeline writes them into the trail
// as audit.events_lost events. Outputs are built before the pipeline, so
// they report here, not to it.
type Losses struct {
	mu      sync.Mutex
	pending map[lossKey]*lossTotal
}

type lossKey struct{ output, reason string }

type lossTotal struct {
	output, reason string
	count          int
	first, last    time.Time
}

// NewLosses returns an empty collector.
func NewLosses() *Losses { return &Losses{pending: map[lossKey]*lossTotal{}} }

// Report adds a loss: n events of output, for reason, with event times
// from first to last (zero when unknown). Safe from any goroutine.
func (l *Losses) Report(output string, n int, reason string, first, last time.Time) {
	l.report(output, n, reason, first, last)
}

// report is Report, telling whether this starts a new pending entry (the
// caller logs loudly once per entry, not once per event).
func (l *Losses) report(output string, n int, reason string, first, last time.Time) bool {
	if n <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	k := lossKey{output, reason}
	t, ok := l.pending[k]
	if !ok {
		t = &lossTotal{output: output, reason: reason, first: first, last: last}
		l.pending[k] = t
	}
	t.count += n
	if !first.IsZero() && (t.first.IsZero() || first.Before(t.first)) {
		t.first = first
	}
	if last.After(t.last) {
		t.last = last
	}
	return !ok
}

func (l *Losses) take() []lossTotal {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	out := make([]lossTotal, 0, len(l.pending))
	for k, t := range l.pending {
		out = append(out, *t)
		delete(l.pending, k)
	}
	return out
}
