package delivery

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output"
)

// discard accepts everything at once.
type discard struct{}

func (discard) Write(context.Context, []event.Event) error { return nil }
func (discard) Close() error                               { return nil }

// benchEnqueue pushes events (eventtest.Full, about 860 bytes of JSON) in
// batches of the given size, as fast as it can, into a queue whose sink
// takes everything at once, and reports two rates: enqueued/s, what the
// pipeline can hand over (encoding and, for disk, the write), and
// delivered/s, from the first Enqueue until the sink has confirmed the
// last event. when_full: block keeps drops out of the numbers.
func benchEnqueue(b *testing.B, buffer string, batch int) {
	s := output.Spec{Name: "bench", Type: "bench", Buffer: output.BufferSpec{Type: buffer, Fsync: "interval"}, WhenFull: output.Block}
	q, err := New(s, discard{}, Options{DataDir: b.TempDir(), Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, batch)
	for i := range evs {
		evs[i] = eventtest.Full()
		evs[i].Time = time.Now()
	}
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := q.Enqueue(evs); err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	enqueued := time.Since(start)
	for q.Stats().Delivered < int64(n) {
		time.Sleep(100 * time.Microsecond)
	}
	delivered := time.Since(start)
	b.ReportMetric(float64(n)/enqueued.Seconds(), "enqueued/s")
	b.ReportMetric(float64(n)/delivered.Seconds(), "delivered/s")
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDiskEnqueue: the issue asks for at least 50,000 events/s
// through the disk buffer with fsync: interval.
func BenchmarkDiskEnqueue(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchEnqueue(b, "disk", batch) })
	}
}

func BenchmarkMemoryEnqueue(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchEnqueue(b, "memory", batch) })
	}
}

// BenchmarkDiskReplay measures the drain of a backlog: events read back
// from disk and decoded, as after an outage or a restart.
func BenchmarkDiskReplay(b *testing.B) {
	const n = 20000
	dir := b.TempDir()
	s := output.Spec{Name: "bench", Type: "bench", Buffer: output.BufferSpec{Type: "disk"}, WhenFull: output.Block}
	evs := make([]event.Event, 100)
	for i := range evs {
		evs[i] = eventtest.Full()
		evs[i].Time = time.Now()
	}
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		q, err := New(s, &fakeSink{answer: failing}, Options{DataDir: dir, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n; i += len(evs) {
			q.Enqueue(evs)
		}
		q.Close(expired())
		b.StartTimer()
		start := time.Now()
		q, err = New(s, discard{}, Options{DataDir: dir, Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		for q.Stats().Delivered < n {
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(start)
		q.Close(context.Background())
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "delivered/s")
}
