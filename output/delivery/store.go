package delivery

import (
	"slices"
	"sync"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// store is a buffer: a log of events with two positions, the first event
// not yet confirmed (what a restart replays from) and the first not yet
// handed to the delivery goroutine; the events between them are in flight.
// Room is counted in units: events for memory, bytes for disk. The Queue
// calls every method with its mutex held.
type store interface {
	free() int64     // units of room left
	capacity() int64 // units of room when empty
	// cost is the units in.events[i:j] take.
	cost(in *incoming, i, j int) int64
	// add appends in.events[i:j], returning how many it added before an error.
	add(in *incoming, i, j int) (int, error)
	// dropOldest drops the oldest events, those in flight included, until
	// need units are free or nothing is left.
	dropOldest(need int64) (dropped, error)
	// read hands out the next batch of at most max events (memory) or
	// records (disk), oldest first; nil when there are none. Only one batch
	// is in flight at a time.
	read(max int) (evs []event.Event, records [][]byte)
	ack() // the batch in flight is done with
	depth() int
	inflight() int
	bytes() int64
	oldest() time.Time // event time of the first event not in flight; zero if none
	close() error
}

// dropped describes what dropOldest dropped.
type dropped struct {
	count   int
	span    span
	aborted bool // the batch in flight was among them
}

// incoming are the events of one Enqueue call; for a disk buffer also
// encoded as records, back to back, before the lock is taken.
type incoming struct {
	events []event.Event
	enc    []byte
	ends   []int // ends[i] is where event i's record ends in enc
	pooled *[]byte
}

// encPool recycles record buffers between Enqueue calls.
var encPool = sync.Pool{New: func() any { return new([]byte) }}

func (q *Queue) prepare(events []event.Event) *incoming {
	in := &incoming{events: events}
	if q.disk == nil {
		return in
	}
	in.pooled = encPool.Get().(*[]byte)
	in.enc = (*in.pooled)[:0]
	in.ends = make([]int, len(events))
	for i := range events {
		in.enc = appendRecord(in.enc, &events[i])
		in.ends[i] = len(in.enc)
	}
	return in
}

func (in *incoming) release() {
	if in.pooled != nil && cap(in.enc) <= 1<<20 {
		*in.pooled = in.enc[:0]
		encPool.Put(in.pooled)
	}
}

// span returns where the records of events i..j-1 lie in enc.
func (in *incoming) span(i, j int) (start, end int) {
	if i > 0 {
		start = in.ends[i-1]
	}
	return start, in.ends[j-1]
}

// memStore keeps events in a slice: evs[head:] wait, the first inflightN
// of them are being delivered.
//
// read hands the delivery goroutine a part of evs itself, not a copy (an
// event is 544 bytes, copied and allocated again per output): that part is
// written again only once it is acked, which the goroutine does when it is
// done with it. Appending writes past it, and where it outgrows the array,
// into a new one. The one exception, dropOldest while a batch is in
// flight, first moves evs to a new array and leaves the old one to the
// delivery goroutine.
type memStore struct {
	max       int
	evs       []event.Event
	head      int
	inflightN int
}

func (m *memStore) free() int64                      { return int64(m.max - (len(m.evs) - m.head)) }
func (m *memStore) capacity() int64                  { return int64(m.max) }
func (m *memStore) cost(_ *incoming, i, j int) int64 { return int64(j - i) }
func (m *memStore) depth() int                       { return len(m.evs) - m.head }
func (m *memStore) inflight() int                    { return m.inflightN }
func (m *memStore) bytes() int64                     { return 0 }
func (m *memStore) close() error                     { return nil }

func (m *memStore) add(in *incoming, i, j int) (int, error) {
	m.evs = append(m.evs, in.events[i:j]...)
	return j - i, nil
}

func (m *memStore) dropOldest(need int64) (dropped, error) {
	n := int(min(max(need-m.free(), 0), int64(m.depth())))
	var d dropped
	if n == 0 {
		return d, nil
	}
	for i := m.head; i < m.head+n; i++ {
		d.span.add(m.evs[i].Time)
	}
	d.count = n
	// The rest of the batch in flight goes back to waiting: the delivery
	// goroutine abandons the batch and reads them again. It may still be
	// using the batch it read, so evs moves away from under it.
	d.aborted = m.inflightN > 0
	if d.aborted {
		m.evs = slices.Clone(m.evs[m.head:])
		m.head = 0
	}
	m.inflightN = 0
	m.advance(n)
	return d, nil
}

func (m *memStore) read(max int) ([]event.Event, [][]byte) {
	n := min(max, m.depth()-m.inflightN)
	if n <= 0 {
		return nil, nil
	}
	start := m.head + m.inflightN
	m.inflightN += n
	// Not a copy (see memStore); the full slice expression keeps an append
	// to the batch from writing into the events after it.
	return m.evs[start : start+n : start+n], nil
}

func (m *memStore) ack() {
	m.advance(m.inflightN)
	m.inflightN = 0
}

// advance forgets the first n waiting events, compacting the slice once
// half of it is dead so that memory follows the depth.
func (m *memStore) advance(n int) {
	clear(m.evs[m.head : m.head+n])
	m.head += n
	if m.head > 0 && m.head >= len(m.evs)/2 {
		k := copy(m.evs, m.evs[m.head:])
		clear(m.evs[k:])
		m.evs = m.evs[:k]
		m.head = 0
	}
}

func (m *memStore) oldest() time.Time {
	if i := m.head + m.inflightN; i < len(m.evs) {
		return m.evs[i].Time
	}
	return time.Time{}
}

// span is the time range of every event still held.
func (m *memStore) span() span { return spanOf(m.evs[m.head:]) }
