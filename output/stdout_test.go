package output

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

// batch returns n copies of the full event with ids "<prefix>-<i>".
func batch(prefix string, n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = eventtest.Full()
		evs[i].ID = fmt.Sprintf("%s-%d", prefix, i)
	}
	return evs
}

// readLines decodes every line of b, failing on any that is not one whole
// event, and returns the ids in order.
func readLines(t *testing.T, b []byte) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v: %q", len(ids)+1, err, sc.Bytes())
		}
		ids = append(ids, ev.ID)
	}
	return ids
}

func TestStdoutConcurrentWritersDoNotInterleave(t *testing.T) {
	var out bytes.Buffer // Stdout's mutex is what keeps this safe
	s := NewStdout(&out)
	const writers, batches, size = 4, 20, 50 // 50 full events cross the 64 KiB chunk
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				if err := s.Write(context.Background(), batch(fmt.Sprintf("w%d-b%d", w, b), size)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	ids := readLines(t, out.Bytes())
	if len(ids) != writers*batches*size {
		t.Fatalf("got %d lines, want %d", len(ids), writers*batches*size)
	}
	// A batch is written in order.
	next := map[string]int{}
	for _, id := range ids {
		var w, b, i int
		fmt.Sscanf(id, "w%d-b%d-%d", &w, &b, &i)
		key := fmt.Sprintf("w%d-b%d", w, b)
		if i != next[key] {
			t.Fatalf("event %s out of order, want index %d", id, next[key])
		}
		next[key]++
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestStdoutErrors(t *testing.T) {
	ctx := context.Background()
	if err := NewStdout(failingWriter{}).Write(ctx, batch("x", 1)); err == nil || err.Error() != "writing to stdout: broken pipe" {
		t.Errorf("writer failure: got %v", err)
	}

	var out bytes.Buffer
	s := NewStdout(&out)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Write(canceled, batch("x", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got %v", err)
	}
	if err := s.Write(ctx, nil); err != nil || out.Len() != 0 {
		t.Errorf("empty batch: got %v and %q", err, out.Bytes())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, batch("x", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q, want nothing", out.Bytes())
	}
}
