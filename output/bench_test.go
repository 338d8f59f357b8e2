package output

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/auditproxy/auditproxy/event/eventtest"
)

// reportRate adds events/s, the number the throughput target is stated in.
func reportRate(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEncode(b *testing.B) {
	ev := eventtest.Full()
	buf := AppendJSON(nil, &ev)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf = AppendJSON(buf[:0], &ev)
		n++
	}
	reportRate(b, n)
}

func BenchmarkFileSink(b *testing.B) {
	f, err := OpenFile(filepath.Join(b.TempDir(), "audit.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	evs := batch("bench", 100)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := f.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportRate(b, n)
}

func BenchmarkStdoutSink(b *testing.B) {
	s := NewStdout(io.Discard)
	evs := batch("bench", 100)
	n := 0
	for b.Loop() {
		if err := s.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportRate(b, n)
}
