package delivery

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/output"
)

// Memory buffer of 10 with one event in flight and 20 more arriving.
func TestWhenFullMemory(t *testing.T) {
	in := events("n", 20)
	tests := []struct {
		policy output.WhenFull
		err    error
		lost   int      // reported by OnLoss
		want   []string // accepted by the sink after the first event, once released
	}{
		// The oldest are the event in flight and the first ten newcomers.
		{output.DropOldest, nil, 11, ids(in[10:])},
		{output.DropNewest, nil, 11, ids(in[:9])},
		{output.FailClosed, ErrFull, 20, nil},
		{output.Block, nil, 0, ids(in)},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			e := newEnv(t)
			g := newGate()
			sink := blocking(g)
			s := spec("memory")
			s.Buffer.MaxCount = 10
			s.WhenFull = tc.policy
			q := e.open(s, sink)
			first := events("e", 1)
			if err := q.Enqueue(first); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "first event in flight", func() bool { return sink.callCount() == 1 })

			errc := make(chan error, 1)
			go func() { errc <- q.Enqueue(in) }()
			if tc.policy == output.Block {
				waitFor(t, "block to fill the buffer", func() bool { return q.Stats().Depth == 10 })
				select {
				case err := <-errc:
					t.Fatalf("Enqueue returned %v before there was room", err)
				default:
				}
			}
			if tc.policy != output.Block {
				if err := <-errc; !errors.Is(err, tc.err) {
					t.Fatalf("Enqueue = %v, want %v", err, tc.err)
				}
			}
			if st := q.Stats(); st.Depth > 10 {
				t.Errorf("depth %d over max_events 10", st.Depth)
			}
			if n := e.losses.count(""); n != tc.lost {
				t.Errorf("reported %d lost, want %d: %+v", n, tc.lost, e.losses.all())
			}
			for _, l := range e.losses.all() {
				if l.Reason != "buffer full ("+string(tc.policy)+")" || l.First.IsZero() || l.Last.Before(l.First) {
					t.Errorf("loss %+v", l)
				}
			}
			close(g.release)
			if tc.policy == output.Block {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "delivery", func() bool { return q.Stats().Depth == 0 })
			got := sink.accepted()
			// The first event reached the sink before drop_oldest dropped it;
			// it is reported lost and delivered: one too many, never too few.
			sameIDs(t, got[1:], tc.want)
		})
	}
}

// The exact time range of a drop.
func TestDropNewestReportsTimeRange(t *testing.T) {
	e := newEnv(t)
	g := newGate()
	s := spec("memory")
	s.Buffer.MaxCount = 3
	s.WhenFull = output.DropNewest
	q := e.open(s, blocking(g))
	defer close(g.release)
	in := events("e", 5)
	q.Enqueue(in)
	l := e.losses.all()
	if len(l) != 1 || l[0].Count != 2 || !l[0].First.Equal(in[3].Time) || !l[0].Last.Equal(in[4].Time) || l[0].Output != "test" {
		t.Errorf("losses %+v, want 2 events from %v to %v", l, in[3].Time, in[4].Time)
	}
}

// Block: Close releases a waiting Enqueue with ErrClosed.
func TestBlockUnblockedByClose(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			g := newGate()
			sink := blocking(g)
			s := spec(buf)
			s.Buffer.MaxCount, s.Buffer.MaxBytes = 1, 4096
			s.WhenFull = output.Block
			q, err := New(s, sink, e.opts())
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- q.Enqueue(events("e", 100)) }()
			waitFor(t, "the sink to be busy", func() bool { return sink.callCount() == 1 })
			if err := q.Close(within(20e6)); err != nil && buf == "disk" {
				t.Fatal(err)
			}
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("blocked Enqueue = %v, want ErrClosed", err)
			}
			if e.losses.count(ReasonClosed) == 0 {
				t.Errorf("events refused at Close must be reported: %+v", e.losses.all())
			}
		})
	}
}

// A disk buffer of 64 KiB, a sink that takes nothing until released, and
// 1000 events arriving: the buffer never grows past max_bytes, and every
// event is delivered or reported.
func TestWhenFullDisk(t *testing.T) {
	const total, maxBytes = 1000, 64 << 10
	for _, policy := range []output.WhenFull{output.DropOldest, output.DropNewest, output.FailClosed, output.Block} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t)
			g := newGate()
			sink := blocking(g)
			s := spec("disk")
			s.Buffer.MaxBytes = maxBytes
			s.WhenFull = policy
			q := e.open(s, sink)
			first := events("e", 1)
			q.Enqueue(first)
			waitFor(t, "first event in flight", func() bool { return sink.callCount() == 1 })

			in := events("n", total)
			refused := 0
			done := make(chan struct{})
			go func() {
				defer close(done)
				for i := 0; i < total; i += 10 {
					err := q.Enqueue(in[i : i+10])
					if errors.Is(err, ErrFull) && policy == output.FailClosed {
						refused += 10
					} else if err != nil {
						t.Error(err)
					}
					checkDiskBound(t, q, maxBytes)
				}
			}()
			if policy == output.Block {
				waitFor(t, "the buffer to fill", func() bool { return q.Stats().BytesOnDisk > maxBytes*3/4 })
				close(g.release)
				<-done
			} else {
				<-done
				close(g.release)
			}
			waitFor(t, "delivery", func() bool { return q.Stats().Depth == 0 })
			checkDiskBound(t, q, maxBytes)

			got := sink.accepted()
			lost := e.losses.count("")
			if policy == output.FailClosed && lost != refused {
				t.Errorf("refused %d, reported %d", refused, lost)
			}
			// Order is kept and nothing is sent twice.
			rest := got[1:]
			if !sort.StringsAreSorted(rest) || len(slices.Compact(slices.Clone(rest))) != len(rest) {
				t.Errorf("delivered out of order or twice: %v", head(rest))
			}
			switch policy {
			case output.Block:
				sameIDs(t, rest, ids(in))
			case output.DropOldest:
				// The newest survive; the first event may be reported lost
				// and delivered (it was in flight when dropped).
				if rest[len(rest)-1] != in[total-1].ID {
					t.Errorf("the newest event was dropped")
				}
				if len(rest)+lost < total || len(rest)+lost > total+1 {
					t.Errorf("%d delivered + %d lost, want %d", len(rest), lost, total+1)
				}
			default:
				// The oldest survive.
				sameIDs(t, rest, ids(in[:len(rest)]))
				if len(rest)+lost != total {
					t.Errorf("%d delivered + %d lost, want %d", len(rest), lost, total)
				}
			}
			if policy != output.Block && lost == 0 {
				t.Error("nothing was dropped: the test did not fill the buffer")
			}
		})
	}
}

// checkDiskBound checks both what the queue counts and what is on disk.
func checkDiskBound(t *testing.T, q *Queue, limit int64) {
	t.Helper()
	if b := q.Stats().BytesOnDisk; b > limit {
		t.Errorf("BytesOnDisk %d over max_bytes %d", b, limit)
	}
	var onDisk int64
	files, _ := filepath.Glob(filepath.Join(q.disk.dir, "*.log"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			onDisk += fi.Size()
		}
	}
	if onDisk > limit {
		t.Errorf("segment files hold %d bytes, over max_bytes %d", onDisk, limit)
	}
}

// An event larger than the whole buffer is dropped on its own: it does
// not empty the buffer (drop_oldest) or wait forever (block).
func TestEventLargerThanBuffer(t *testing.T) {
	for _, policy := range []output.WhenFull{output.DropOldest, output.Block, output.DropNewest} {
		t.Run(string(policy), func(t *testing.T) {
			e := newEnv(t)
			g := newGate()
			sink := blocking(g)
			s := spec("disk")
			s.Buffer.MaxBytes = 8192
			s.WhenFull = policy
			q := e.open(s, sink)
			q.Enqueue(events("a", 3))
			huge := events("huge", 1)
			huge[0].Description = strings.Repeat("x", 10000)
			if err := q.Enqueue(huge); err != nil {
				t.Fatal(err)
			}
			if n := e.losses.count(""); n != 1 {
				t.Errorf("losses %+v, want the one huge event", e.losses.all())
			}
			close(g.release)
			waitFor(t, "delivery", func() bool { return q.Stats().Delivered == 3 })
			sameIDs(t, sink.accepted(), ids(events("a", 3)))
		})
	}
}
