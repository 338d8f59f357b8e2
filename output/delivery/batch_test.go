package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/output"
)

// batch.max_wait gathers events enqueued one by one into one write; 0
// sends each as it comes; a full batch goes without waiting; closing does
// not wait for it.
func TestBatchMaxWait(t *testing.T) {
	for _, buffer := range []string{"memory", "disk"} {
		t.Run(buffer, func(t *testing.T) {
			for _, c := range []struct {
				name      string
				wait      time.Duration
				n         int
				wantCalls func(calls int) bool
				want      string
			}{
				{"gathered", time.Hour, maxBatch, func(c int) bool { return c == 1 }, "one write"},
				{"no wait", 0, 5, func(c int) bool { return c > 1 }, "a write per event or so"},
			} {
				t.Run(c.name, func(t *testing.T) {
					e := newEnv(t)
					s := spec(buffer)
					s.Batch.MaxWait = &c.wait
					sink := &fakeSink{}
					q := e.open(s, sink)
					evs := events("e", c.n)
					for i := range evs {
						if err := q.Enqueue(evs[i : i+1]); err != nil {
							t.Fatal(err)
						}
						if c.wait == 0 {
							waitDelivered(t, q, i+1)
						}
					}
					// With an hour's wait, only a full batch is sent.
					waitDelivered(t, q, c.n)
					sink.mu.Lock()
					calls := len(sink.calls)
					sink.mu.Unlock()
					if !c.wantCalls(calls) {
						t.Errorf("%d events in %d writes, want %s", c.n, calls, c.want)
					}
				})
			}
			t.Run("close", func(t *testing.T) {
				e := newEnv(t)
				s := spec(buffer)
				hour := time.Hour
				s.Batch.MaxWait = &hour
				sink := &fakeSink{}
				q, err := New(s, sink, e.opts())
				if err != nil {
					t.Fatal(err)
				}
				if err := q.Enqueue(events("e", 3)); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := q.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
				sameIDs(t, sink.accepted(), ids(events("e", 3)))
			})
		})
	}
}

// The default wait is for collectors only: files and stdout write at once.
func TestBatchMaxWaitDefault(t *testing.T) {
	for _, c := range []struct {
		typ  string
		want time.Duration
	}{
		{"file", 0},
		{"stdout", 0},
		{"http", defaultBatchWait},
		{"syslog", defaultBatchWait},
	} {
		s := output.Spec{Type: c.typ}
		if err := withDefaults(&s); err != nil {
			t.Fatal(err)
		}
		if got := *s.Batch.MaxWait; got != c.want {
			t.Errorf("%s: batch.max_wait = %v, want %v", c.typ, got, c.want)
		}
	}
	neg := -time.Second
	s := output.Spec{Type: "http", Batch: output.BatchSpec{MaxWait: &neg}}
	if err := withDefaults(&s); err == nil {
		t.Error("a negative batch.max_wait was accepted")
	}
}
