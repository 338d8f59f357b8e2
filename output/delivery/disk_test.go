package delivery

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

// After Close, a new queue on the same directory sends exactly what was
// not confirmed, in order.
func TestDiskReplayAfterClose(t *testing.T) {
	e := newEnv(t)
	evs := events("e", 1000)
	sink1 := &fakeSink{}
	q1, err := New(spec("disk"), sink1, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	q1.Enqueue(evs[:300])
	waitDelivered(t, q1, 300)
	sink1.set(failing)
	q1.Enqueue(evs[300:])
	waitFor(t, "a failed attempt", func() bool { return q1.Stats().Retried > 0 })
	if err := q1.Close(within(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if st := q1.Stats(); st.Depth != 700 {
		t.Errorf("depth at close %d, want 700", st.Depth)
	}

	sink2 := &fakeSink{}
	q2 := e.open(spec("disk"), sink2)
	waitDelivered(t, q2, 700)
	sameIDs(t, sink2.accepted(), ids(evs[300:]))
	if e.losses.count("") != 0 {
		t.Errorf("losses: %+v", e.losses.all())
	}
	// Confirmed segments are deleted.
	waitFor(t, "segments deleted", func() bool {
		files, _ := filepath.Glob(filepath.Join(e.dir, "buffer", "test", "*.log"))
		return len(files) == 1
	})
}

// crash abandons a queue as a killed process would: the files are closed
// without a final flush or cursor save, and its goroutines are stopped.
func crash(q *Queue) {
	q.mu.Lock()
	q.disk.closeFiles()
	q.closed = true
	close(q.closing)
	close(q.abort)
	q.cancel()
	q.mu.Unlock()
	<-q.done
	close(q.stopSync)
	<-q.syncDone
}

// A crash while the sink confirms some batches and refuses others: a
// restart redelivers every unconfirmed event; confirmed ones come again
// only within the at-least-once window (confirmed, cursor not yet saved).
func TestDiskReplayAfterCrash(t *testing.T) {
	e := newEnv(t)
	evs := events("e", 3000)
	var flaky atomic.Int64
	sink1 := &fakeSink{answer: func(_ context.Context, call int, _ []event.Event) error {
		if flaky.Load() > 0 && call%2 == 0 {
			return errDown
		}
		return nil
	}}
	q1, err := New(spec("disk"), sink1, e.opts())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1500; i += 50 {
		q1.Enqueue(evs[i : i+50])
	}
	flaky.Store(1)
	for i := 1500; i < len(evs); i += 50 {
		q1.Enqueue(evs[i : i+50])
	}
	crash(q1)
	first := sink1.accepted()

	sink2 := &fakeSink{}
	q2 := e.open(spec("disk"), sink2)
	waitFor(t, "replay", func() bool { return q2.Stats().Depth == 0 })
	second := sink2.accepted()
	checkRedelivery(t, ids(evs), first, second)
}

// The same, with the directory copied while events are being written and
// confirmed: the copy is what a power cut might leave.
func TestDiskReplayFromCopyTakenMidFlight(t *testing.T) {
	e := newEnv(t)
	evs := events("e", 4000)
	sink1 := &fakeSink{answer: func(_ context.Context, call int, _ []event.Event) error {
		if call%3 == 0 {
			return errDown
		}
		return nil
	}}
	q1 := e.open(spec("disk"), sink1)
	var written atomic.Int64 // events whose Enqueue returned
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < len(evs); i += 20 {
			q1.Enqueue(evs[i : i+20])
			written.Store(int64(i + 20))
			time.Sleep(50 * time.Microsecond)
		}
	})
	waitFor(t, "writing under way", func() bool { return written.Load() >= 1000 })
	before := written.Load()
	copyDir := t.TempDir()
	copyBuffer(t, filepath.Join(e.dir, "buffer", "test"), copyDir)
	wg.Wait()
	// Only what the sink accepted before the copy was taken counts as
	// confirmed in it; later acceptances are not in the copy's cursor.
	first := sink1.accepted()

	sink2 := &fakeSink{}
	s := spec("disk")
	s.Buffer.Dir = copyDir
	q2 := e.open(s, sink2)
	waitFor(t, "replay", func() bool { return q2.Stats().Depth == 0 })
	second := sink2.accepted()
	for _, id := range ids(evs[:before]) {
		if !slices.Contains(first, id) && !slices.Contains(second, id) {
			t.Fatalf("%s was written before the copy and never delivered", id)
		}
	}
	if !slices.IsSorted(second) {
		t.Error("replay out of order")
	}
	if n := e.losses.count(""); n > 1 {
		// The copy may catch one record half-written: one torn tail.
		t.Errorf("losses %+v", e.losses.all())
	}
}

// copyBuffer copies segments first and the cursor last, as a crash could
// leave them: a segment deleted meanwhile was confirmed.
func copyBuffer(t *testing.T, from, to string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(from, "*.log"))
	for _, f := range append(files, filepath.Join(from, cursorFile)) {
		src, err := os.Open(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(dst, src)
		src.Close()
		dst.Close()
	}
}

// checkRedelivery: every event reached a sink; the second got only what
// the first did not confirm, plus at most one batch (the window between a
// confirmation and saving the cursor), in order.
func checkRedelivery(t *testing.T, all, first, second []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, id := range first {
		seen[id] = true
	}
	dups := 0
	for _, id := range second {
		if seen[id] {
			dups++
		}
		seen[id] = true
	}
	for _, id := range all {
		if !seen[id] {
			t.Fatalf("%s never delivered", id)
		}
	}
	if dups > maxBatch {
		t.Errorf("%d events delivered again, more than one batch", dups)
	}
	if !slices.IsSorted(second) {
		t.Error("replay out of order")
	}
	t.Logf("first run delivered %d, replay %d, %d of them again", len(first), len(second), dups)
}

// writeSegment makes a buffer directory holding evs in one segment and
// returns the segment's path and its records' end offsets.
func writeSegment(t *testing.T, dir string, evs []event.Event) (string, []int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var data []byte
	var ends []int
	for i := range evs {
		data = appendRecord(data, &evs[i])
		ends = append(ends, len(data))
	}
	path := filepath.Join(dir, "00000000000000000001.log")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, ends
}

// Damage in the log: the records before it are delivered, the rest of the
// segment is skipped with a loud log line and a Loss, and the damage is
// reported once, not at every start.
func TestCorruptSegment(t *testing.T) {
	evs := events("e", 10)
	tests := []struct {
		name   string
		damage func(data []byte, ends []int) []byte
		good   int
	}{
		{"torn tail", func(d []byte, ends []int) []byte { return d[:ends[8]+20] }, 9},
		{"torn header", func(d []byte, ends []int) []byte { return d[:ends[8]+3] }, 9},
		{"flipped byte", func(d []byte, ends []int) []byte { d[ends[4]+40] ^= 0x20; return d }, 5},
		{"bad length", func(d []byte, ends []int) []byte { copy(d[ends[2]:], []byte{0xff, 0xff, 0xff, 0xff}); return d }, 3},
		{"zeros", func(d []byte, ends []int) []byte { clear(d[ends[6]:]); return d }, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			dir := filepath.Join(e.dir, "buffer", "test")
			path, ends := writeSegment(t, dir, evs)
			data, _ := os.ReadFile(path)
			os.WriteFile(path, tc.damage(data, ends), 0o600)

			sink := &fakeSink{}
			q, err := New(spec("disk"), sink, e.opts())
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			waitDelivered(t, q, tc.good)
			if err := q.Close(within(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			sameIDs(t, sink.accepted(), ids(evs[:tc.good]))
			l := e.losses.all()
			if len(l) != 1 || l[0].Reason != ReasonCorrupt || l[0].Count < 1 {
				t.Errorf("losses %+v, want one corrupt-record loss", l)
			}
			log := e.logs.String()
			if !strings.Contains(log, "CORRUPT DISK BUFFER RECORD") || !strings.Contains(log, path) || !strings.Contains(log, `"level":"error"`) {
				t.Errorf("want a loud log naming the file and offset; got:\n%s", log)
			}

			// Once reported, the damage is gone: a second start finds
			// nothing to report or send.
			e.losses = &losses{}
			sink2 := &fakeSink{}
			q2, err := New(spec("disk"), sink2, e.opts())
			if err != nil {
				t.Fatal(err)
			}
			q2.Close(within(time.Second))
			if len(e.losses.all()) != 0 || len(sink2.accepted()) != 0 {
				t.Errorf("second start: losses %+v, sent %v", e.losses.all(), sink2.accepted())
			}
		})
	}
}

// Damage appearing while running (the file changed under the queue) is
// handled like damage found at start.
func TestCorruptionFoundWhileReading(t *testing.T) {
	e := newEnv(t)
	g := newGate()
	sink := blocking(g)
	q := e.open(spec("disk"), sink)
	a := events("a", 1)
	q.Enqueue(a)
	waitFor(t, "in flight", func() bool { return sink.callCount() == 1 })
	q.Enqueue(events("b", 5))
	q.mu.Lock()
	seg := q.disk.segPath(q.disk.last().id)
	q.disk.recentEvs, q.disk.recentAt = nil, nil // as if the sink had lagged: read from disk
	q.disk.recentBytes = 0
	q.mu.Unlock()
	// Damage the first record after the one in flight.
	f, _ := os.OpenFile(seg, os.O_RDWR, 0)
	f.WriteAt([]byte{0xde, 0xad}, int64(len(appendRecord(nil, &a[0])))+20)
	f.Close()
	close(g.release)
	waitFor(t, "the damage reported", func() bool { return e.losses.count(ReasonCorrupt) > 0 })
	if n := e.losses.count(ReasonCorrupt); n != 5 {
		t.Errorf("lost %d to corruption, want the 5 unread records: %+v", n, e.losses.all())
	}
	if st := q.Stats(); st.Depth != 0 {
		t.Errorf("depth %d", st.Depth)
	}
	if !strings.Contains(e.logs.String(), "CORRUPT DISK BUFFER RECORD") {
		t.Error("no loud log")
	}
}

func TestDiskDirUnusable(t *testing.T) {
	e := newEnv(t)
	file := filepath.Join(e.dir, "file")
	os.WriteFile(file, nil, 0o600)
	s := spec("disk")
	s.Buffer.Dir = filepath.Join(file, "buffer")
	_, err := New(s, &fakeSink{}, e.opts())
	if err == nil || !strings.Contains(err.Error(), `output "test": opening disk buffer: creating directory`) || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("New = %v, want a clear error", err)
	}
}

// A write error (here: a full disk) fails that Enqueue with a clear error
// and a Loss; the queue goes on in a new segment.
func TestDiskWriteError(t *testing.T) {
	e := newEnv(t)
	sink := &fakeSink{}
	q := e.open(spec("disk"), sink)
	before := events("a", 3)
	q.Enqueue(before)
	waitDelivered(t, q, 3)

	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	q.mu.Lock()
	real := q.disk.w
	q.disk.w = full
	q.mu.Unlock()
	defer real.Close()

	lost := events("b", 4)
	err = q.Enqueue(lost)
	if err == nil || !strings.Contains(err.Error(), "appending to disk buffer segment") || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("Enqueue = %v, want a clear write error", err)
	}
	if n := e.losses.count(""); n != 4 {
		t.Errorf("reported %d lost, want 4", n)
	}
	if err := q.EnqueueDurable(within(time.Second), events("c", 1)); err != nil {
		t.Errorf("the next write goes to a new segment: %v", err)
	}
	after := events("d", 2)
	if err := q.Enqueue(after); err != nil {
		t.Fatal(err)
	}
	waitDelivered(t, q, 6)
	sameIDs(t, sink.accepted(), []string{"a-0000", "a-0001", "a-0002", "c-0000", "d-0000", "d-0001"})
	if !strings.Contains(q.Stats().LastError, "no space left") {
		t.Errorf("LastError = %q", q.Stats().LastError)
	}
}

// EnqueueDurable returns once the events are in the segment file and
// fsynced, even when the sink takes nothing.
func TestEnqueueDurable(t *testing.T) {
	for _, fsync := range []string{"always", "interval"} {
		t.Run(fsync, func(t *testing.T) {
			e := newEnv(t)
			s := spec("disk")
			s.Buffer.Fsync = fsync
			q := e.open(s, &fakeSink{answer: failing})
			evs := events("e", 3)
			if err := q.EnqueueDurable(within(10*time.Second), evs); err != nil {
				t.Fatal(err)
			}
			q.mu.Lock()
			synced, written := q.disk.synced, q.disk.written
			path := q.disk.segPath(q.disk.last().id)
			q.mu.Unlock()
			if synced < written {
				t.Errorf("returned with %d of %d bytes fsynced", synced, written)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			payloads, _, err := decodeRecords(data, 0)
			if err != nil || len(payloads) != 3 || !strings.Contains(string(payloads[2]), `"id":"e-0002"`) {
				t.Errorf("segment holds %d records (%v), want the 3 events", len(payloads), err)
			}
		})
	}
}

func TestEnqueueDurableRefusals(t *testing.T) {
	e := newEnv(t)
	q := e.open(spec("memory"), &fakeSink{})
	if err := q.EnqueueDurable(context.Background(), events("e", 1)); !errors.Is(err, ErrNotDurable) {
		t.Errorf("memory: %v, want ErrNotDurable", err)
	}

	// Full under drop_newest or fail_closed: ErrFull, and the events are
	// the caller's (not reported lost by the queue).
	for _, policy := range []output.WhenFull{output.DropNewest, output.FailClosed, output.Block} {
		e := newEnv(t)
		g := newGate()
		s := spec("disk")
		s.Buffer.MaxBytes = 4096
		s.WhenFull = policy
		q := e.open(s, blocking(g))
		q.Enqueue(events("e", 12)) // about 3 KB, in flight
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		err := q.EnqueueDurable(ctx, events("x", 5))
		cancel()
		want := ErrFull
		if policy == output.Block {
			want = context.DeadlineExceeded
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", policy, err, want)
		}
		if len(e.losses.all()) != 0 {
			t.Errorf("%s: losses %+v", policy, e.losses.all())
		}
		close(g.release)
	}
}

// Under drop_oldest, a durable event makes room by dropping older ones.
func TestEnqueueDurableDropsOlder(t *testing.T) {
	e := newEnv(t)
	g := newGate()
	s := spec("disk")
	s.Buffer.MaxBytes = 8192
	sink := blocking(g)
	q := e.open(s, sink)
	q.Enqueue(events("e", 30)) // 7 KB of the 8
	if err := q.EnqueueDurable(within(5*time.Second), events("x", 10)); err != nil {
		t.Fatal(err)
	}
	if e.losses.count(ReasonDropOldest) == 0 {
		t.Error("nothing dropped")
	}
	close(g.release)
	waitFor(t, "delivery", func() bool { return q.Stats().Depth == 0 })
	if got := sink.accepted(); !slices.Contains(got, "x-0009") {
		t.Errorf("durable events missing: %v", got)
	}
}

// fsync: always flushes before Enqueue returns.
func TestFsyncAlways(t *testing.T) {
	e := newEnv(t)
	s := spec("disk")
	s.Buffer.Fsync = "always"
	q := e.open(s, &fakeSink{answer: failing})
	for range 5 {
		q.Enqueue(events("e", 2))
		q.mu.Lock()
		synced, written := q.disk.synced, q.disk.written
		q.mu.Unlock()
		if synced < written {
			t.Fatalf("Enqueue returned with %d of %d bytes fsynced", synced, written)
		}
	}
}

// Segments roll over and confirmed ones are deleted while delivering.
func TestSegmentsRollAndAreDeleted(t *testing.T) {
	e := newEnv(t)
	s := spec("disk")
	s.Buffer.MaxBytes = 64 << 10 // 8 KiB segments
	s.WhenFull = output.Block
	sink := &fakeSink{}
	q := e.open(s, sink)
	evs := events("e", 2000)
	for i := 0; i < len(evs); i += 10 {
		if err := q.Enqueue(evs[i : i+10]); err != nil {
			t.Fatal(err)
		}
	}
	waitDelivered(t, q, len(evs))
	sameIDs(t, sink.accepted(), ids(evs))
	q.mu.Lock()
	n := len(q.disk.segs)
	q.mu.Unlock()
	if n > 2 {
		t.Errorf("%d segments left after everything was confirmed", n)
	}
	if e.losses.count("") != 0 {
		t.Errorf("losses %+v", e.losses.all())
	}
}

// An unreadable cursor replays everything rather than losing anything.
func TestUnreadableCursorReplaysAll(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "buffer", "test")
	evs := events("e", 4)
	writeSegment(t, dir, evs)
	os.WriteFile(filepath.Join(dir, cursorFile), []byte("{not json"), 0o600)
	sink := &fakeSink{}
	q := e.open(spec("disk"), sink)
	waitDelivered(t, q, 4)
	sameIDs(t, sink.accepted(), ids(evs))
	if !strings.Contains(e.logs.String(), "cursor unreadable") {
		t.Error("no log about the cursor")
	}
}

// The acked file: a cursor with a sum that holds (the format written now)
// or with none (written before the sum existed) is where delivery
// resumes; one whose sum does not hold, as a torn write would leave it,
// replays everything.
func TestCursorFile(t *testing.T) {
	evs := events("e", 4)
	for _, c := range []struct {
		name   string
		cursor func(at pos) string
		want   []event.Event
	}{
		{"sum holds", func(at pos) string {
			return fmt.Sprintf(`{"segment":%d,"offset":%d,"sum":%d}`, at.Seg, at.Off, at.sum())
		}, evs[2:]},
		{"no sum (older file)", func(at pos) string {
			return fmt.Sprintf(`{"segment":%d,"offset":%d}`, at.Seg, at.Off)
		}, evs[2:]},
		{"sum does not hold", func(at pos) string {
			return fmt.Sprintf(`{"segment":%d,"offset":%d,"sum":%d}`, at.Seg, at.Off, at.sum()+1)
		}, evs},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			dir := filepath.Join(e.dir, "buffer", "test")
			_, ends := writeSegment(t, dir, evs)
			at := pos{Seg: 1, Off: int64(ends[1])} // the first two confirmed
			os.WriteFile(filepath.Join(dir, cursorFile), []byte(c.cursor(at)+"\n"), 0o600)
			sink := &fakeSink{}
			q := e.open(spec("disk"), sink)
			waitDelivered(t, q, len(c.want))
			sameIDs(t, sink.accepted(), ids(c.want))
		})
	}
}

// The cursor written after confirmations reads back as where they ended.
func TestCursorWrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	d := &diskStore{dir: dir}
	for _, p := range []pos{{7, 123456}, {8, 12}, {1 << 40, 1 << 50}, {9, 0}} {
		if err := d.writeCursor(p, false); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, cursorFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != cursorSize {
			t.Errorf("acked file is %d bytes, want the fixed %d", len(data), cursorSize)
		}
		if got := d.loadCursor(); got != p {
			t.Errorf("cursor read back = %+v, want %+v (file %q)", got, p, data)
		}
	}
	d.closeFiles()
}

// A record whose checksum holds but whose payload is not an event is
// reported lost; the records around it are delivered.
func TestUndecodableRecord(t *testing.T) {
	e := newEnv(t)
	dir := filepath.Join(e.dir, "buffer", "test")
	evs := events("e", 2)
	path, _ := writeSegment(t, dir, evs[:1])
	bad := []byte("not an event\n")
	rec := binary.LittleEndian.AppendUint32(nil, uint32(len(bad)))
	rec = binary.LittleEndian.AppendUint32(rec, crc32.Checksum(bad, castagnoli))
	rec = append(rec, bad...)
	rec = appendRecord(rec, &evs[1])
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rec)
	f.Close()
	sink := &fakeSink{}
	q := e.open(spec("disk"), sink)
	waitFor(t, "drained", func() bool { return q.Stats().Depth == 0 })
	sameIDs(t, sink.accepted(), ids(evs))
	if n := e.losses.count(ReasonUndecodable); n != 1 {
		t.Errorf("losses %+v", e.losses.all())
	}
}

// Repeated crashes at arbitrary moments, with a sink that fails now and
// then: across all runs every event arrives, in order within each run,
// and redeliveries stay within one batch per crash.
func TestDiskRepeatedCrashes(t *testing.T) {
	e := newEnv(t)
	const rounds, each = 6, 400
	var all, got []string
	for r := range rounds {
		// The fifth call is confirmed by the destination, but the process
		// dies before the confirmation arrives: the at-least-once window.
		var mu sync.Mutex
		var hung []string
		sink := &fakeSink{answer: func(ctx context.Context, call int, evs []event.Event) error {
			switch {
			case call == 4:
				mu.Lock()
				hung = ids(evs)
				mu.Unlock()
				<-ctx.Done()
				return ctx.Err()
			case call%3 == 1:
				return errDown
			}
			return nil
		}}
		q, err := New(spec("disk"), sink, e.opts())
		if err != nil {
			t.Fatal(err)
		}
		evs := events(fmt.Sprintf("r%d", r), each)
		all = append(all, ids(evs)...)
		for i := 0; i < each; i += 40 {
			q.Enqueue(evs[i : i+40])
		}
		time.Sleep(time.Duration(r) * 2 * time.Millisecond)
		crash(q)
		got = append(got, sink.accepted()...)
		got = append(got, hung...)
	}
	sink := &fakeSink{}
	q := e.open(spec("disk"), sink)
	waitFor(t, "the last replay", func() bool { return q.Stats().Depth == 0 })
	got = append(got, sink.accepted()...)

	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	dups := 0
	for _, id := range all {
		if seen[id] == 0 {
			t.Fatalf("%s never delivered", id)
		}
		dups += seen[id] - 1
	}
	if dups > rounds*maxBatch {
		t.Errorf("%d redeliveries", dups)
	}
	if n := e.losses.count(""); n != 0 {
		t.Errorf("losses %+v", e.losses.all())
	}
	t.Logf("%d events, %d deliveries, %d redelivered", len(all), len(got), dups)
}

// During an outage the backlog goes to disk, not to memory: the heap stays
// within the bounded window of recent events however long the backlog.
func TestDiskBacklogStaysOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 50 MB")
	}
	e := newEnv(t)
	q := e.open(spec("disk"), &fakeSink{answer: failing})
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const total = 200_000
	for i := 0; i < total; i += 1000 {
		if err := q.Enqueue(events(fmt.Sprintf("e%06d", i), 1000)); err != nil {
			t.Fatal(err)
		}
	}
	st := q.Stats()
	grown := int64(heap()) - int64(before)
	t.Logf("%d events, %d MB on disk, heap grew %d MB", st.Depth, st.BytesOnDisk>>20, grown>>20)
	if st.Depth != total || st.BytesOnDisk < 40<<20 {
		t.Fatalf("stats %+v", st)
	}
	if grown > 32<<20 {
		t.Errorf("heap grew by %d MB for a backlog on disk", grown>>20)
	}
}

// FuzzCursorFile: whatever the acked file holds (damage, another
// version's format), reading it gives a position or "replay everything",
// never a panic or a negative offset.
func FuzzCursorFile(f *testing.F) {
	f.Add([]byte(`{"segment":7,"offset":123456,"sum":0}`))
	f.Add([]byte(`{"segment":7,"offset":123456}`))
	f.Add([]byte(`{"segment":1,"offset":-5}`))
	f.Add([]byte("{not json"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, cursorFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		d := &diskStore{dir: dir}
		if p := d.loadCursor(); p.Off < 0 {
			t.Errorf("cursor %+v from %q", p, data)
		}
	})
}
