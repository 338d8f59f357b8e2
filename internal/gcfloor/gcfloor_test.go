package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		goal       uint64
		cur        int
		floor      uint64
		base, want int
	}{
		{goal: 4 * mib, cur: 100, floor: 32 * mib, base: 100, want: 1500},   // 2 × 32/4 = 16 = 1 + 15
		{goal: 32 * mib, cur: 1500, floor: 32 * mib, base: 100, want: 1500}, // at the floor: keep
		{goal: 40 * mib, cur: 1500, floor: 32 * mib, base: 100, want: 1180}, // overshot: lower
		{goal: 40 * mib, cur: 100, floor: 32 * mib, base: 100, want: 100},   // past the floor under base
		{goal: 8 * mib, cur: 50, floor: 32 * mib, base: 50, want: 500},      // 1.5 × 4 = 6 = 1 + 5
		{goal: 8 * mib, cur: 400, floor: 32 * mib, base: 400, want: 1900},   // another base: 5 × 4 = 20
		{goal: 0, cur: 100, floor: 32 * mib, base: 100, want: 100},          // no goal known
		{goal: 4 * mib, cur: -1, floor: 32 * mib, base: 100, want: 100},     // GC off: not ours to turn on
		{goal: 1, cur: 100, floor: 1 << 40, base: 100, want: 1 << 20},       // capped
	} {
		if got := Percent(c.goal, c.cur, c.floor, c.base); got != c.want {
			t.Errorf("Percent(goal %d, cur %d, floor %d, base %d) = %d, want %d", c.goal, c.cur, c.floor, c.base, got, c.want)
		}
	}
}

// TestFloor checks that the floor raises GOGC while the heap is small,
// follows collections, and that Stop puts the base back.
func TestFloor(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)

	f := Start(256 << 20) // far above this test's live heap
	deadline := time.Now().Add(10 * time.Second)
	for currentPercent() <= 100 {
		if time.Now().After(deadline) {
			t.Fatal("GOGC was not raised again after collections")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	// A few more collections settle it: the goal is then near the floor.
	for range 5 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	if goal := s[0].Value.Uint64(); goal < 128<<20 || goal > 512<<20 {
		t.Errorf("heap goal = %d MiB, want near the floor of 256 MiB", goal>>20)
	}
	f.Stop()
	if got := currentPercent(); got != 100 {
		t.Errorf("GOGC after Stop = %d, want the base 100", got)
	}
	runtime.GC() // a finalizer after Stop must not raise it again
	time.Sleep(10 * time.Millisecond)
	if got := currentPercent(); got != 100 {
		t.Errorf("GOGC after Stop and a collection = %d, want 100", got)
	}
}

func currentPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}
