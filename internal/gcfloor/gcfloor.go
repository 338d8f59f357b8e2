// Package gcfloor keeps the garbage collector from running too often
// while the live heap is small.
//
// Go sets the next collection at live heap × (1 + GOGC/100), at least
// 4 MiB. A proxy's live heap is a few MiB, so under load it collected
// about 70 times a second, and each collection's fixed work (stacks of
// every connection's goroutines, the globals) came out of the requests'
// CPU: measured in docs/BENCHMARKS.md, most of what auditing cost beyond
// the bare proxy. A floor on the heap goal (say 32 MiB) makes collections
// rare while the live heap is small, and changes nothing once it is large:
// GOGC is raised just enough for the goal to reach the floor, and is back
// at its base when live × (1 + base/100) is past the floor anyway. That is
// what a heap "ballast" did before, without the fake allocation.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Percent is the GOGC that moves the heap goal from goal (what the runtime
// set under GOGC cur) to the floor, never below base. The goal grows with
// 1 + GOGC/100 (the part of it for stacks and globals too), so the answer
// is exact up to what the next collection finds live, and each collection
// corrects the last.
func Percent(goal uint64, cur int, floor uint64, base int) int {
	if goal == 0 || cur < 0 {
		return base
	}
	p := (float64(100+cur)*float64(floor)/float64(goal) - 100)
	if p > 1<<20 { // floor/goal beyond any sensible ratio
		p = 1 << 20
	}
	return max(int(p), base)
}

// Floor holds the heap goal at or above a size until Stop.
type Floor struct {
	floor uint64
	base  int

	mu      sync.Mutex
	stopped bool
	percent int // the GOGC last set
	sample  []metrics.Sample
}

// Base is the GOGC the floor raises from and returns to: Go's default.
// A user who set GOGC has chosen; callers leave the floor off then.
const Base = 100

// Start sets the floor (bytes) and keeps it after every collection.
func Start(floor uint64) *Floor {
	f := &Floor{floor: floor, base: Base, percent: Base, sample: []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}}
	// Not adjusted yet: before the first collection the goal is the
	// runtime's minimum, 4 MiB scaled by GOGC, not a measure of the heap.
	f.arm()
	return f
}

// arm runs adjust once after the next collection: a finalizer runs when
// a collection has found its object unreachable, so every cycle re-arms it.
func (f *Floor) arm() {
	// The pointer keeps it out of the tiny allocator, whose shared blocks
	// may never be freed and so never finalized.
	s := &sentinel{f}
	runtime.SetFinalizer(s, func(*sentinel) {
		if f.adjust() {
			f.arm()
		}
	})
}

type sentinel struct{ *Floor }

// adjust sets GOGC for the live heap of the last collection; false once
// stopped.
func (f *Floor) adjust() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	metrics.Read(f.sample)
	var goal uint64
	if f.sample[0].Value.Kind() == metrics.KindUint64 {
		goal = f.sample[0].Value.Uint64()
	}
	// Only changes of more than a tenth are worth telling the runtime.
	if p := Percent(goal, f.percent, f.floor, f.base); p*10 > f.percent*11 || p*11 < f.percent*10 {
		f.percent = p
		debug.SetGCPercent(p)
	}
	return true
}

// Percent is the GOGC in effect now.
func (f *Floor) Percent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.percent
}

// Stop puts GOGC back at its base.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped = true
		debug.SetGCPercent(f.base)
	}
}
