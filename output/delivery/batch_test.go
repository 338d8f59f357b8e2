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
			t.Run("max events", func(t *testing.T) {
				e := newEnv(t)
				s := spec(buffer)
				hour := time.Hour
				s.Batch.MaxWait, s.Batch.MaxEvents = &hour, 10
				sink := &fakeSink{}
				q := e.open(s, sink)
				evs := events("e", 30)
				for i := range evs {
					if err := q.Enqueue(evs[i : i+1]); err != nil {
						t.Fatal(err)
					}
				}
				waitDelivered(t, q, 30)
				sink.mu.Lock()
				defer sink.mu.Unlock()
				for i, call := range sink.calls {
					if len(call) != 10 {
						t.Errorf("write %d took %d events, want batches of 10", i, len(call))
					}
				}
			})
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

func init() {
	output.Register("batchy-test", output.Kind{BatchEvents: 7, BatchWait: 3 * time.Second,
		Open: func(output.Spec) (output.Sink, error) { return &fakeSink{}, nil }})
}

// The default wait is for collectors only: files and stdout write at once.
// A kind may have its own batch defaults; the spec's win.
func TestBatchDefaults(t *testing.T) {
	second := time.Second
	for _, c := range []struct {
		spec       output.Spec
		wantWait   time.Duration
		wantEvents int
	}{
		{output.Spec{Type: "file"}, 0, maxBatch},
		{output.Spec{Type: "stdout"}, 0, maxBatch},
		{output.Spec{Type: "http"}, defaultBatchWait, maxBatch},
		{output.Spec{Type: "syslog"}, defaultBatchWait, maxBatch},
		{output.Spec{Type: "batchy-test"}, 3 * time.Second, 7},
		{output.Spec{Type: "batchy-test", Batch: output.BatchSpec{MaxWait: &second, MaxEvents: 9}}, time.Second, 9},
		{output.Spec{Type: "http", Batch: output.BatchSpec{MaxEvents: 50}}, defaultBatchWait, 50},
	} {
		s := c.spec
		if err := withDefaults(&s); err != nil {
			t.Fatal(err)
		}
		if got := *s.Batch.MaxWait; got != c.wantWait {
			t.Errorf("%s %+v: batch.max_wait = %v, want %v", c.spec.Type, c.spec.Batch, got, c.wantWait)
		}
		if got := s.Batch.MaxEvents; got != c.wantEvents {
			t.Errorf("%s %+v: batch.max_events = %d, want %d", c.spec.Type, c.spec.Batch, got, c.wantEvents)
		}
	}
	if err := withDefaults(&output.Spec{Type: "http", Batch: output.BatchSpec{MaxEvents: -1}}); err == nil {
		t.Error("a negative batch.max_events was accepted")
	}
	neg := -time.Second
	s := output.Spec{Type: "http", Batch: output.BatchSpec{MaxWait: &neg}}
	if err := withDefaults(&s); err == nil {
		t.Error("a negative batch.max_wait was accepted")
	}
}
