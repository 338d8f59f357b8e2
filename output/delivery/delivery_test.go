package delivery

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output"
)

var buffers = []string{"memory", "disk"}

// Retries resend the same events in the same order, and every event is
// accepted exactly once.
func TestOrderAndExactlyOnceUnderRetries(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			sink := &fakeSink{answer: func(_ context.Context, call int, _ []event.Event) error {
				if call%3 != 2 { // two failures before every success
					return errDown
				}
				return nil
			}}
			q := e.open(spec(buf), sink)
			evs := events("e", 1200)
			for i := 0; i < len(evs); i += 100 {
				if err := q.Enqueue(evs[i : i+100]); err != nil {
					t.Fatal(err)
				}
			}
			waitDelivered(t, q, len(evs))
			sameIDs(t, sink.accepted(), ids(evs))
			st := q.Stats()
			if st.Retried == 0 || st.Depth != 0 || st.Dropped != 0 {
				t.Errorf("stats = %+v, want retries, depth 0, no drops", st)
			}
			if !strings.Contains(st.LastError, "connection refused") {
				t.Errorf("LastError = %q", st.LastError)
			}
			// A retried call carries the batch the failed call had.
			sink.mu.Lock()
			defer sink.mu.Unlock()
			for i := 0; i+1 < len(sink.calls); i += 3 {
				if strings.Join(sink.calls[i], ",") != strings.Join(sink.calls[i+1], ",") {
					t.Fatalf("call %d and %d differ: a retry must resend the same batch", i, i+1)
				}
			}
		})
	}
}

// Concurrent producers: each producer's events stay in order and none is
// lost or duplicated.
func TestConcurrentEnqueue(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			sink := &fakeSink{answer: func(_ context.Context, call int, _ []event.Event) error {
				if call%4 == 0 {
					return errDown
				}
				return nil
			}}
			q := e.open(spec(buf), sink)
			const producers, each = 4, 500
			var wg sync.WaitGroup
			for p := range producers {
				wg.Go(func() {
					evs := events(fmt.Sprintf("p%d", p), each)
					for i := 0; i < each; i += 10 {
						if err := q.Enqueue(evs[i : i+10]); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			waitDelivered(t, q, producers*each)
			next := map[string]int{}
			for _, id := range sink.accepted() {
				p, n := id[:2], 0
				fmt.Sscanf(id[3:], "%d", &n)
				if n != next[p] {
					t.Fatalf("%s arrived, want %s-%04d next", id, p, next[p])
				}
				next[p]++
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t)
	const wait = 300 * time.Millisecond
	sink := &fakeSink{answer: func(_ context.Context, call int, _ []event.Event) error {
		if call == 0 {
			return output.RetryAfter(errors.New("429 Too Many Requests"), wait)
		}
		return nil
	}}
	q := e.open(spec("memory"), sink) // backoff alone would retry within 5 ms
	if err := q.Enqueue(events("e", 3)); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, q, 3)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if gap := sink.times[1].Sub(sink.times[0]); gap < wait {
		t.Errorf("retried after %v, want at least the %v Retry-After asked for", gap, wait)
	}
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	q := &Queue{spec: output.Spec{Retry: output.RetrySpec{Initial: 100 * time.Millisecond, Max: time.Second}}}
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt < 200; attempt++ {
		d := q.backoff(attempt, errDown)
		ceil := min(100*time.Millisecond<<min(attempt-1, 20), time.Second)
		if d <= 0 || d > ceil {
			t.Fatalf("attempt %d: backoff %v outside (0, %v]", attempt, d, ceil)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct waits in 199: where is the jitter?", len(seen))
	}
	if d := q.backoff(1, output.RetryAfter(errDown, time.Hour)); d != time.Hour {
		t.Errorf("Retry-After: waited %v, want 1h", d)
	}
}

// A partly accepted batch: the accepted events are confirmed, permanent
// item failures dead-lettered, the others retried in their order.
func TestItemErrors(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			sink := &fakeSink{answer: func(_ context.Context, call int, evs []event.Event) error {
				if call == 0 {
					return &output.ItemErrors{Items: []output.ItemError{
						{Index: 7, Err: errors.New("429 es_rejected_execution_exception")},
						{Index: 2, Err: output.Permanent(errors.New("400 mapper_parsing_exception"))},
						{Index: 5, Err: errors.New("503 unavailable_shards_exception")},
					}}
				}
				return nil
			}}
			q := e.open(spec(buf), sink)
			evs := events("e", 10)
			if err := q.Enqueue(evs); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "batch settled", func() bool { st := q.Stats(); return st.Delivered == 9 && st.DeadLettered == 1 })
			sink.mu.Lock()
			retry := sink.calls[1]
			sink.mu.Unlock()
			sameIDs(t, retry, []string{"e-0005", "e-0007"})
			sameIDs(t, sink.accepted(), []string{"e-0000", "e-0001", "e-0003", "e-0004", "e-0006", "e-0008", "e-0009", "e-0005", "e-0007"})
			dead := readDead(t, filepath.Join(e.dir, "dead", "test.jsonl"))
			if len(dead) != 1 || dead[0].Event.ID != "e-0002" || !strings.Contains(dead[0].Reason, "mapper_parsing_exception") {
				t.Errorf("dead letters = %+v, want e-0002 with its reason", dead)
			}
			if st := q.Stats(); st.Depth != 0 {
				t.Errorf("depth %d after the batch settled", st.Depth)
			}
		})
	}
}

type deadLine struct {
	Reason string      `json:"reason"`
	Output string      `json:"output"`
	Time   time.Time   `json:"time"`
	Event  event.Event `json:"event"`
}

func readDead(t *testing.T, path string) []deadLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("dead-letter file: %v", err)
	}
	defer f.Close()
	var out []deadLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var d deadLine
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("dead-letter line %q: %v", sc.Text(), err)
		}
		out = append(out, d)
	}
	return out
}

func TestPermanentGoesToDeadLetterOnce(t *testing.T) {
	e := newEnv(t)
	sink := &fakeSink{answer: func(context.Context, int, []event.Event) error {
		return output.Permanent(errors.New("400 Bad Request: invalid event"))
	}}
	q := e.open(spec("disk"), sink)
	evs := events("e", 4)
	if err := q.Enqueue(evs); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead letters", func() bool { return q.Stats().DeadLettered == 4 })
	time.Sleep(20 * time.Millisecond) // room for a wrong retry to show
	if n := sink.callCount(); n != 1 {
		t.Errorf("%d calls, want 1: permanent errors are not retried", n)
	}
	path := filepath.Join(e.dir, "dead", "test.jsonl")
	dead := readDead(t, path)
	if len(dead) != 4 {
		t.Fatalf("%d dead letters, want 4", len(dead))
	}
	for i, d := range dead {
		if d.Event.ID != evs[i].ID || d.Output != "test" || d.Reason != "400 Bad Request: invalid event" || d.Time.IsZero() || d.Event.HTTP.Path != "/users/7" {
			t.Errorf("dead letter %d = %+v", i, d)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dead-letter file mode: %v %v, want 0600", fi.Mode(), err)
	}
	if st := q.Stats(); st.Dropped != 0 || st.Depth != 0 || len(e.losses.all()) != 0 {
		t.Errorf("dead-lettered events are kept, not lost: %+v, losses %v", st, e.losses.all())
	}
}

func TestMaxAttemptsDeadLetters(t *testing.T) {
	e := newEnv(t)
	sink := &fakeSink{answer: failing}
	s := spec("memory")
	s.Retry.MaxAttempts = 3
	s.DeadLetter = filepath.Join(e.dir, "elsewhere", "rejected.jsonl")
	q := e.open(s, sink)
	if err := q.Enqueue(events("e", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead letters", func() bool { return q.Stats().DeadLettered == 2 })
	if n := sink.callCount(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	dead := readDead(t, s.DeadLetter)
	if len(dead) != 2 || dead[0].Reason != "gave up after 3 attempts: connection refused" {
		t.Errorf("dead letters = %+v", dead)
	}
}

// Without anywhere to put them, rejected events are reported lost.
func TestNoDeadLetterFileIsALoss(t *testing.T) {
	e := newEnv(t)
	sink := &fakeSink{answer: func(context.Context, int, []event.Event) error { return output.Permanent(errors.New("403")) }}
	opts := e.opts()
	opts.DataDir = ""
	q, err := New(spec("memory"), sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close(expired())
	if err := q.Enqueue(events("e", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "loss", func() bool { return e.losses.count("") == 2 })
	if r := e.losses.all()[0].Reason; !strings.Contains(r, "403") || !strings.Contains(r, "not dead-lettered") {
		t.Errorf("reason %q", r)
	}
}

func TestMaxAgeExpiry(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			var mu sync.Mutex
			clock := time.Now().Truncate(time.Microsecond) // the disk keeps microseconds
			e.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
			sink := &fakeSink{answer: failing}
			s := spec(buf)
			s.Buffer.MaxAge = time.Hour
			q := e.open(s, sink)

			old := events("old", 3)
			for i := range old {
				old[i].Time = clock.Add(-2*time.Hour + time.Duration(i)*time.Second)
			}
			fresh := events("new", 2)
			if err := q.Enqueue(append(old, fresh...)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "expiry", func() bool { return e.losses.count(ReasonMaxAge) == 3 })
			if l := e.losses.all()[0]; !l.First.Equal(old[0].Time) || !l.Last.Equal(old[2].Time) || l.Output != "test" {
				t.Errorf("loss %+v: want the old events' time range", l)
			}
			sink.mu.Lock()
			if got := sink.calls[0]; len(got) != 2 {
				t.Errorf("sent %v: expired events must not be sent", got)
			}
			sink.mu.Unlock()

			// Events that age past max_age while being retried go too.
			mu.Lock()
			clock = clock.Add(2 * time.Hour)
			mu.Unlock()
			waitFor(t, "expiry while retrying", func() bool { return e.losses.count(ReasonMaxAge) == 5 })
			waitFor(t, "empty", func() bool { return q.Stats().Depth == 0 })
		})
	}
}

func TestOldestUndelivered(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			now := time.Now().Truncate(time.Microsecond) // the disk keeps microseconds
			e.now = func() time.Time { return now }
			g := newGate()
			sink := blocking(g)
			q := e.open(spec(buf), sink)
			evs := events("e", 5)
			for i := range evs {
				evs[i].Time = now.Add(-time.Minute)
			}
			q.Enqueue(evs[:1]) // in flight
			waitFor(t, "in flight", func() bool { return sink.callCount() == 1 })
			evs[1].Time = now.Add(-2 * time.Minute)
			q.Enqueue(evs[1:])
			st := q.Stats()
			if st.Depth != 5 || st.OldestUndelivered != time.Minute {
				t.Errorf("stats %+v, want depth 5, oldest 1m (the batch in flight)", st)
			}
			close(g.release)
			waitDelivered(t, q, 5)
			if st := q.Stats(); st.Depth != 0 || st.OldestUndelivered != 0 {
				t.Errorf("stats %+v after delivery", st)
			}
		})
	}
}

func TestSpecValidation(t *testing.T) {
	bad := []struct {
		mutate func(*output.Spec)
		want   string
	}{
		{func(s *output.Spec) { s.Buffer.Type = "tape" }, `buffer.type: "tape"`},
		{func(s *output.Spec) { s.Buffer.Fsync = "never" }, `buffer.fsync: "never"`},
		{func(s *output.Spec) { s.WhenFull = "pray" }, `when_full: "pray"`},
		{func(s *output.Spec) { s.Buffer.MaxCount = -1 }, "negative"},
		{func(s *output.Spec) { s.Name = "../x"; s.Buffer.Type = "disk" }, "file names"},
	}
	for _, tc := range bad {
		s := spec("memory")
		tc.mutate(&s)
		_, err := New(s, &fakeSink{}, Options{DataDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	if _, err := New(spec("disk"), &fakeSink{}, Options{}); err == nil || !strings.Contains(err.Error(), "needs buffer.dir or a data directory") {
		t.Errorf("disk buffer without a place: %v", err)
	}
}

func TestCloseMemoryReportsLeftoversLost(t *testing.T) {
	e := newEnv(t)
	g := newGate()
	sink := blocking(g)
	q, err := New(spec("memory"), sink, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Enqueue(events("e", 10)); err != nil {
		t.Fatal(err)
	}
	err = q.Close(within(50 * time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "10 events not delivered") {
		t.Errorf("Close = %v, want it to say 10 events were lost", err)
	}
	if n := e.losses.count(ReasonShutdown); n != 10 {
		t.Errorf("reported %d lost at shutdown, want 10: %v", n, e.losses.all())
	}
	if !sink.closed {
		t.Error("sink not closed")
	}
	if err := q.Enqueue(events("late", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
	if n := e.losses.count(ReasonClosed); n != 1 {
		t.Errorf("an event refused after Close must be reported: %v", e.losses.all())
	}
	if err := q.Close(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}

// Close delivers what is waiting when the sink is healthy.
func TestCloseDrains(t *testing.T) {
	for _, buf := range buffers {
		t.Run(buf, func(t *testing.T) {
			e := newEnv(t)
			sink := &fakeSink{answer: failFirst(3)}
			q, err := New(spec(buf), sink, e.opts())
			if err != nil {
				t.Fatal(err)
			}
			evs := events("e", 1500)
			if err := q.Enqueue(evs); err != nil {
				t.Fatal(err)
			}
			if err := q.Close(within(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			sameIDs(t, sink.accepted(), ids(evs))
		})
	}
}

// Backoff waits end when Close's deadline passes.
func TestCloseInterruptsBackoff(t *testing.T) {
	e := newEnv(t)
	sink := &fakeSink{answer: func(context.Context, int, []event.Event) error {
		return output.RetryAfter(errDown, time.Hour)
	}}
	q, err := New(spec("disk"), sink, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	q.Enqueue(events("e", 3))
	waitFor(t, "first attempt", func() bool { return sink.callCount() == 1 })
	start := time.Now()
	if err := q.Close(within(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if !strings.Contains(e.logs.String(), `"events":3`) {
		t.Errorf("Close should log the 3 events left on disk; log:\n%s", e.logs)
	}
	if st := q.Stats(); st.Depth != 3 || st.Dropped != 0 {
		t.Errorf("stats after Close %+v: the events stay on disk", st)
	}
}

// Close leaves no goroutine behind, whatever state the queue was in.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, buf := range buffers {
		e := newEnv(t)
		g := newGate()
		busy, err := New(spec(buf), blocking(g), e.opts())
		if err != nil {
			t.Fatal(err)
		}
		busy.Enqueue(events("e", 3))
		idle, err := New(spec(buf), &fakeSink{}, e.opts())
		if err != nil {
			t.Fatal(err)
		}
		retrying, err := New(spec(buf), &fakeSink{answer: failing}, Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		retrying.Enqueue(events("r", 3))
		for _, q := range []*Queue{busy, idle, retrying} {
			q.Close(within(20 * time.Millisecond))
		}
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// TestDeadLetterAfterATornLine: a dead-letter file left ending inside a
// line (a crash mid-write) gets the next entry on a line of its own.
func TestDeadLetterAfterATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead.jsonl")
	os.WriteFile(path, []byte(`{"reason":"x","output":"o","event":{"id":"a"}}`+"\n"+`{"reason":"cut sh`), 0o600)
	d := deadLetter{path: path}
	ev := eventtest.Minimal()
	if err := d.write([]event.Event{ev}, []string{"400"}, "siem", time.Now()); err != nil {
		t.Fatal(err)
	}
	d.close()
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 3 || !json.Valid([]byte(lines[2])) || !strings.Contains(lines[2], `"reason":"400"`) {
		t.Fatalf("file:\n%s", data)
	}
}
