package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

// fakeSink is a Sink whose answers a test scripts. It records every call
// and keeps the events it accepted, in order.
type fakeSink struct {
	mu     sync.Mutex
	answer func(ctx context.Context, call int, evs []event.Event) error // nil: accept everything
	calls  [][]string                                                   // event ids per call
	times  []time.Time                                                  // when each call came
	got    []string                                                     // ids of accepted events, in order
	closed bool
}

func (s *fakeSink) Write(ctx context.Context, evs []event.Event) error {
	s.mu.Lock()
	call := len(s.calls)
	s.calls = append(s.calls, ids(evs))
	s.times = append(s.times, time.Now())
	answer := s.answer
	s.mu.Unlock()

	var err error
	if answer != nil {
		err = answer(ctx, call, evs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var items *output.ItemErrors
	switch {
	case err == nil:
		s.got = append(s.got, ids(evs)...)
	case errors.As(err, &items):
		listed := map[int]bool{}
		for _, it := range items.Items {
			listed[it.Index] = true
		}
		for i := range evs {
			if !listed[i] {
				s.got = append(s.got, evs[i].ID)
			}
		}
	}
	return err
}

func (s *fakeSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *fakeSink) set(answer func(ctx context.Context, call int, evs []event.Event) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

func (s *fakeSink) accepted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func (s *fakeSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Scripted answers.
var errDown = errors.New("connection refused")

func failing(context.Context, int, []event.Event) error { return errDown }

// failFirst fails the first n calls, then accepts.
func failFirst(n int) func(context.Context, int, []event.Event) error {
	return func(_ context.Context, call int, _ []event.Event) error {
		if call < n {
			return errDown
		}
		return nil
	}
}

// gate makes Write wait until release is closed (or the queue gives up).
type gate struct{ release chan struct{} }

func newGate() *gate { return &gate{make(chan struct{})} }

func (g *gate) answer(ctx context.Context) error {
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// blocking returns a sink whose writes wait for the gate.
func blocking(g *gate) *fakeSink {
	s := &fakeSink{}
	s.answer = func(ctx context.Context, _ int, _ []event.Event) error { return g.answer(ctx) }
	return s
}

// losses collects what OnLoss reports.
type losses struct {
	mu   sync.Mutex
	list []Loss
}

func (l *losses) add(x Loss) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, x)
}

func (l *losses) all() []Loss {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Loss(nil), l.list...)
}

// count sums the reported events, for one reason or ("") all.
func (l *losses) count(reason string) int {
	n := 0
	for _, x := range l.all() {
		if reason == "" || x.Reason == reason {
			n += x.Count
		}
	}
	return n
}

// syncBuffer is a log destination safe for the queue's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// env is one test's queue settings.
type env struct {
	t      *testing.T
	dir    string
	logs   *syncBuffer
	losses *losses
	now    func() time.Time
}

func newEnv(t *testing.T) *env {
	return &env{t: t, dir: t.TempDir(), logs: &syncBuffer{}, losses: &losses{}}
}

func (e *env) opts() Options {
	return Options{DataDir: e.dir, Logger: zerolog.New(e.logs), OnLoss: e.losses.add, Now: e.now}
}

// spec is a fast-retrying spec for a buffer type ("memory" or "disk").
func spec(buffer string) output.Spec {
	return output.Spec{
		Name:   "test",
		Type:   "fake",
		Buffer: output.BufferSpec{Type: buffer},
		Retry:  output.RetrySpec{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	}
}

func (e *env) open(s output.Spec, sink output.Sink) *Queue {
	e.t.Helper()
	q, err := New(s, sink, e.opts())
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	e.t.Cleanup(func() { _ = q.Close(expired()) })
	return q
}

// expired is a context already done: Close gives up on the sink at once.
func expired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func within(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // released by the timeout; tests are short
	return ctx
}

// events makes n events with ids prefix-0000 ... and the current time.
func events(prefix string, n int) []event.Event {
	evs := make([]event.Event, n)
	now := time.Now().UTC()
	for i := range evs {
		evs[i] = event.Event{
			ID:      fmt.Sprintf("%s-%04d", prefix, i),
			Time:    now.Add(time.Duration(i) * time.Microsecond),
			Action:  "user.updated",
			Outcome: event.OutcomeSuccess,
			Actor:   event.Actor{ID: "42", Name: "alice"},
			Source:  event.Source{IP: "192.0.2.1"},
			HTTP:    event.HTTP{Method: "PUT", Path: "/users/7", Status: 200},
			Rule:    "update-user",
		}
	}
	return evs
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

// waitFor polls cond for up to 10 s: generous, so a loaded CI machine
// does not fail a test that is merely slow.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitDelivered(t *testing.T, q *Queue, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d events delivered", n), func() bool { return q.Stats().Delivered >= int64(n) })
}

// sameIDs fails unless got equals want, element by element.
func sameIDs(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d\ngot:  %v\nwant: %v", len(got), len(want), head(got), head(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("event %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 12)] }
