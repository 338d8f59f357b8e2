package delivery

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

// The disk buffer is a directory:
//
//	00000000000000000007.log   segments: records (see record.go), appended, numbered in order
//	00000000000000000008.log
//	acked                      {"segment":7,"offset":123456,"sum":...}: where the first unconfirmed record starts
//
// Records before the acked position are confirmed by the sink; segments
// wholly before it are deleted. On start, everything from it on is sent
// again. The acked file is overwritten in place after every confirmed
// batch: one small write at offset 0 of a file kept open, padded to a
// fixed size (a temp file and a rename per batch cost more than the rest
// of a disk-buffered output together). A crash re-sends at most the
// batches confirmed since the last write reached the disk: at-least-once.
// The sum (CRC-32C of segment and offset) tells a torn write, should one
// ever happen, from a cursor: an unreadable cursor replays every segment.
const (
	segmentExt = ".log"
	cursorFile = "acked"
	// cursorSize is the fixed length the cursor is written at.
	cursorSize = 96
	// maxSegment is the largest segment size; smaller buffers use an
	// eighth of max_bytes, so drop_oldest (which drops a whole segment)
	// never throws away more than that at a time.
	maxSegment = 16 << 20
	minSegment = 4 << 10
	// readChunk is how much one read of a batch fetches.
	readChunk = 512 << 10
	// recentMax and recentMaxBytes bound the events kept in memory after
	// they were written (see diskStore.recent).
	recentMax      = 16384
	recentMaxBytes = 16 << 20
	// recentChunk is the fewest events a new array for recent holds.
	recentChunk = 256
)

// pos is a place in the log: a segment and a byte offset in it.
type pos struct {
	Seg uint64 `json:"segment"`
	Off int64  `json:"offset"`
}

// cursorRecord is the acked file: a pos and its checksum. Files written
// before the sum existed have none, and are taken as they are.
type cursorRecord struct {
	pos
	Sum *uint32 `json:"sum,omitempty"`
}

func (p pos) sum() uint32 {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], p.Seg)
	binary.LittleEndian.PutUint64(b[8:], uint64(p.Off))
	return crc32.Checksum(b[:], castagnoli)
}

type segment struct {
	id     uint64
	size   int64 // bytes of whole records; reads stop here
	unread int   // records at or after the read position
}

type diskStore struct {
	dir      string
	log      zerolog.Logger
	lose     func(n int, s span, reason string) // Queue.lose
	segMax   int64
	maxBytes int64
	always   bool // fsync: always

	// segs are the segments not yet wholly confirmed, oldest first: the
	// first holds the cursor, the last is appended to.
	segs []*segment
	w    *os.File // the last segment; nil after a write error, until the next add opens a new one
	r    *os.File // the segment being read when it is not the last one
	rID  uint64

	cursor    pos      // the first record not yet confirmed: what a restart replays from
	readPos   pos      // the first record not yet handed out; between them: the batch in flight
	saved     pos      // what the acked file says
	cursorF   *os.File // the acked file, kept open; nil until the first save
	cursorBuf []byte
	nIn       int // records in flight
	size      int64

	// written counts bytes appended since the start; synced and
	// syncFailed how many of them an fsync covered, or failed to.
	written, synced, syncFailed int64
	syncErr                     error
	syncedCh                    chan struct{} // closed and replaced after every fsync attempt
	kick                        chan struct{} // capacity 1: a durable writer waits for an fsync
	cursorErr                   error         // the last failure to save the cursor, to log only changes

	// recent holds the events last written, with their positions, in log
	// order. When the sink keeps up, the next batch is found here and the
	// disk is only written, never read back and decoded (decoding costs
	// about eight times what encoding does). It is bounded: a sink that lags
	// behind gets its batches from disk, and memory stays flat during an
	// outage.
	//
	// recentEvs are the events, recentAt where each one's record is. A
	// batch taken from recent is a part of recentEvs itself, not a copy:
	// recent only ever appends past what it handed out and moves its start
	// forward, so nothing writes to that part again.
	recentEvs   []event.Event
	recentAt    []recentRecord
	recentBytes int64

	closed bool
}

type recentRecord struct {
	at   pos
	size int64
}

// openDisk opens (or creates) the buffer in dir and checks every record
// after the cursor, cutting a segment short at the first damaged record.
func openDisk(dir string, spec output.BufferSpec, log zerolog.Logger, lose func(int, span, string)) (*diskStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	d := &diskStore{
		dir:      dir,
		log:      log.With().Str("buffer", dir).Logger(),
		lose:     lose,
		segMax:   min(max(int64(spec.MaxBytes)/8, minSegment), maxSegment),
		maxBytes: int64(spec.MaxBytes),
		always:   spec.Fsync == "always",
		syncedCh: make(chan struct{}),
		kick:     make(chan struct{}, 1),
	}
	cur := d.loadCursor()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing segments: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) || !e.Type().IsRegular() {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	last := cur.Seg
	for _, id := range ids {
		last = max(last, id)
		if id < cur.Seg {
			// Confirmed before a crash that came between saving the
			// cursor and deleting the segment.
			d.remove(id)
			continue
		}
		from := int64(0)
		if id == cur.Seg {
			from = cur.Off
		}
		s, err := d.check(id, from)
		if err != nil {
			return nil, err
		}
		if s.unread == 0 {
			d.remove(id)
			continue
		}
		if len(d.segs) == 0 {
			d.cursor = pos{id, from}
		}
		d.segs = append(d.segs, s)
		d.size += s.size
	}
	if len(d.segs) == 0 {
		d.cursor = pos{last + 1, 0}
	}
	d.readPos, d.saved = d.cursor, cur
	// Appends always go to a new segment: the last one may have ended in
	// a torn record, and a fresh file keeps that simple.
	if err := d.newSegment(last + 1); err != nil {
		return nil, err
	}
	if err := d.saveCursor(true); err != nil {
		d.closeFiles()
		return nil, err
	}
	if n := d.depth(); n > 0 {
		d.log.Info().Int("events", n).Int64("bytes", d.size).Msg("replaying unconfirmed events from the disk buffer")
	}
	return d, nil
}

// loadCursor reads the acked file. Without one, or when it is unreadable,
// everything on disk is replayed: duplicates downstream are better than
// losing events.
func (d *diskStore) loadCursor() pos {
	var rec cursorRecord
	data, err := os.ReadFile(filepath.Join(d.dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return pos{}
	}
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err == nil && rec.Sum != nil && *rec.Sum != rec.pos.sum() {
		err = errors.New("checksum mismatch")
	}
	p := rec.pos
	if err != nil || p.Off < 0 {
		d.log.Error().Err(err).Str("file", filepath.Join(d.dir, cursorFile)).
			Msg("disk buffer cursor unreadable: replaying every segment (downstream deduplicates by event id)")
		return pos{}
	}
	return p
}

// check scans segment id from offset from, counting its records. At the
// first damaged one (bad length, bad checksum, cut short) it logs loudly,
// reports the loss and truncates the file there, so that the damage is
// reported once and never read again.
func (d *diskStore) check(id uint64, from int64) (*segment, error) {
	path := d.segPath(id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening segment: %w", err)
	}
	end := fi.Size()
	s := &segment{id: id}
	if from > end {
		d.log.Error().Str("file", path).Int64("cursor", from).Int64("size", end).Msg("disk buffer cursor points past the end of its segment; the segment was cut short outside auditproxy")
		from = end
	}
	off, records, why := from, 0, ""
	buf := make([]byte, readChunk)
	for off < end && why == "" {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			why = "read error: " + err.Error()
			break
		}
		payloads, used, derr := decodeRecords(buf[:n], 0)
		records += len(payloads)
		chunkEnd := off + int64(n)
		off += int64(used)
		var ce *corruptError
		switch {
		case errors.As(derr, &ce):
			why = ce.Why
		case derr == errShort && chunkEnd >= end:
			why = "record cut short (torn write)"
		case derr == errShort && used == 0:
			// A record larger than the buffer: read it whole next time.
			length := binary.LittleEndian.Uint32(buf[:headerSize])
			buf = make([]byte, headerSize+int(length))
		case n == 0:
			why = "unexpected end of file"
		}
	}
	s.size, s.unread = off, records
	if off < end {
		skipped := end - off
		// How many events the damage took is unknown: estimate it from
		// the average record of the segment, at least one.
		lost := 1
		if records > 0 {
			lost = max(1, int(skipped*int64(records)/max(off-from, 1)))
		}
		d.log.Error().Str("file", path).Int64("offset", off).Int64("skipped_bytes", skipped).Str("why", why).Int("estimated_events", lost).
			Msg("CORRUPT DISK BUFFER RECORD: skipping the rest of the segment; the events in it are lost")
		d.lose(lost, span{}, ReasonCorrupt)
		if err := f.Truncate(off); err != nil {
			// Reads stop at s.size anyway; the next start reports the
			// damage again.
			d.log.Error().Err(err).Str("file", path).Msg("truncating damaged segment failed")
		}
	}
	return s, nil
}

func (d *diskStore) segPath(id uint64) string {
	return filepath.Join(d.dir, fmt.Sprintf("%020d%s", id, segmentExt))
}

func (d *diskStore) last() *segment { return d.segs[len(d.segs)-1] }

func (d *diskStore) free() int64     { return d.maxBytes - d.size }
func (d *diskStore) capacity() int64 { return d.maxBytes }
func (d *diskStore) bytes() int64    { return d.size }
func (d *diskStore) inflight() int   { return d.nIn }

func (d *diskStore) cost(in *incoming, i, j int) int64 {
	if i >= j {
		return 0
	}
	start, end := in.span(i, j)
	return int64(end - start)
}

func (d *diskStore) depth() int {
	n := d.nIn
	for _, s := range d.segs {
		n += s.unread
	}
	return n
}

// add writes in.events[i:j] with one write per segment they go to.
func (d *diskStore) add(in *incoming, i, j int) (int, error) {
	added := 0
	for i < j {
		s := d.last()
		if d.w == nil || (s.size > 0 && s.size+d.cost(in, i, i+1) > d.segMax) {
			if err := d.newSegment(s.id + 1); err != nil {
				return added, err
			}
			s = d.last()
		}
		k := i + 1 // at least one record, even one larger than a segment
		for k < j && s.size+d.cost(in, i, k+1) <= d.segMax {
			k++
		}
		start, end := in.span(i, k)
		n, err := d.w.Write(in.enc[start:end])
		if err != nil {
			d.seal(s, err)
			return added, fmt.Errorf("appending to disk buffer segment %s: %w", d.segPath(s.id), err)
		}
		d.remember(in, i, k, pos{s.id, s.size})
		s.size += int64(n)
		s.unread += k - i
		d.size += int64(n)
		d.written += int64(n)
		added += k - i
		i = k
	}
	return added, nil
}

// remember keeps in.events[i:j], just written at at, in recent while
// there is room.
func (d *diskStore) remember(in *incoming, i, j int, at pos) {
	start, _ := in.span(i, i+1)
	for k := i; k < j; k++ {
		_, end := in.span(k, k+1)
		size := int64(end - start)
		if len(d.recentAt) >= recentMax || d.recentBytes+size > recentMaxBytes {
			return
		}
		if len(d.recentEvs) == cap(d.recentEvs) {
			// A new array, never a reused one (see recentEvs), of room
			// for many batches: append would grow it from the little
			// room left after takeRecent moved its start.
			evs := make([]event.Event, len(d.recentEvs), max(2*len(d.recentEvs), recentChunk))
			copy(evs, d.recentEvs)
			d.recentEvs = evs
		}
		d.recentEvs = append(d.recentEvs, in.events[k])
		d.recentAt = append(d.recentAt, recentRecord{at, size})
		d.recentBytes += size
		at.Off += size
		start = end
	}
}

// takeRecent hands out up to limit events from recent when they are the
// ones at the read position, forgetting those the read position passed.
func (d *diskStore) takeRecent(s *segment, limit int) []event.Event {
	first := 0
	for first < len(d.recentAt) && before(d.recentAt[first].at, d.readPos) {
		first++
	}
	n := first
	for n < len(d.recentAt) && n-first < limit && d.recentAt[n].at == d.readPos {
		d.readPos.Off += d.recentAt[n].size
		n++
	}
	for _, r := range d.recentAt[:n] {
		d.recentBytes -= r.size
	}
	var evs []event.Event
	if n > first {
		evs = d.recentEvs[first:n:n] // not a copy: see diskStore.recentEvs
		s.unread -= len(evs)
		d.nIn = len(evs)
	}
	d.recentEvs = d.recentEvs[n:]
	// recentAt is only read here: it can start over in place.
	d.recentAt = d.recentAt[:copy(d.recentAt, d.recentAt[n:])]
	return evs
}

func before(a, b pos) bool { return a.Seg < b.Seg || a.Seg == b.Seg && a.Off < b.Off }

// seal gives up on appending to segment s after a write error: whatever
// part of the failed write reached the file is cut off (reads stop at
// s.size regardless) and the next add opens a new segment.
func (d *diskStore) seal(s *segment, cause error) {
	d.log.Error().Err(cause).Str("file", d.segPath(s.id)).Msg("disk buffer write failed; continuing in a new segment")
	if err := d.w.Truncate(s.size); err != nil {
		d.log.Error().Err(err).Str("file", d.segPath(s.id)).Msg("cutting off a failed write failed; the next start will report a corrupt record")
	}
	d.syncW()
	d.w.Close()
	d.w = nil
}

// newSegment closes the segment being appended to (fsynced, so that
// syncs only ever need the last one) and starts segment id.
func (d *diskStore) newSegment(id uint64) error {
	if d.w != nil {
		d.syncW()
		d.w.Close()
		d.w = nil
	}
	f, err := os.OpenFile(d.segPath(id), os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating disk buffer segment: %w", err)
	}
	d.syncDir()
	d.w = f
	d.segs = append(d.segs, &segment{id: id})
	d.tidy()
	return nil
}

// syncW fsyncs the last segment and tells the waiters.
func (d *diskStore) syncW() {
	target := d.written
	if d.w != nil {
		if err := d.w.Sync(); err != nil {
			// After a failed fsync the kernel may have dropped the
			// pages: whoever waited for these bytes must not be told
			// they are safe.
			d.syncFailed = target
			d.syncErr = fmt.Errorf("fsync of disk buffer segment %s: %w", d.w.Name(), err)
			d.log.Error().Err(err).Str("file", d.w.Name()).Msg("disk buffer fsync failed")
			d.broadcast()
			return
		}
	}
	d.synced = target
	d.broadcast()
}

// sync is the fsync goroutine's step: flush the last segment when it was
// written to since the last flush.
func (d *diskStore) sync() {
	if d.synced < d.written && d.syncFailed < d.written {
		d.syncW()
	}
}

func (d *diskStore) broadcast() {
	close(d.syncedCh)
	d.syncedCh = make(chan struct{})
}

func (d *diskStore) syncDir() {
	f, err := os.Open(d.dir)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		d.log.Warn().Err(err).Msg("fsync of the disk buffer directory failed")
	}
}

// tidy moves the read position off the end of segments no longer appended
// to and, with nothing in flight, the cursor with it, deleting the
// segments it leaves behind.
func (d *diskStore) tidy() {
	for i, s := range d.segs[:len(d.segs)-1] {
		if s.id == d.readPos.Seg && d.readPos.Off >= s.size {
			d.readPos = pos{d.segs[i+1].id, 0}
		}
	}
	if d.nIn > 0 || d.cursor == d.readPos {
		return
	}
	d.cursor = d.readPos
	for len(d.segs) > 1 && d.segs[0].id < d.cursor.Seg {
		d.size -= d.segs[0].size
		d.remove(d.segs[0].id)
		d.segs = d.segs[1:]
	}
	prev := d.cursorErr
	if err := d.saveCursor(false); err != nil && prev == nil {
		d.log.Error().Err(err).Msg("saving the disk buffer cursor failed: a restart would send confirmed events again")
	}
}

func (d *diskStore) remove(id uint64) {
	if d.r != nil && d.rID == id {
		d.r.Close()
		d.r = nil
	}
	if err := os.Remove(d.segPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Error().Err(err).Msg("deleting a confirmed disk buffer segment failed")
	}
}

// saveCursor writes the acked file when the cursor moved. fsync: always
// (or force) makes it durable before returning.
func (d *diskStore) saveCursor(force bool) error {
	if d.cursor == d.saved && !force {
		return nil
	}
	sync := d.always || force
	err := d.writeCursor(d.cursor, sync)
	if err != nil {
		err = fmt.Errorf("saving disk buffer cursor: %w", err)
		d.cursorErr = err
		return err
	}
	d.saved, d.cursorErr = d.cursor, nil
	return nil
}

func (d *diskStore) writeCursor(p pos, sync bool) error {
	if d.cursorF == nil {
		f, err := os.OpenFile(filepath.Join(d.dir, cursorFile), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		d.cursorF = f
		sync = true
		defer d.syncDir() // the file may be new
	}
	b := append(d.cursorBuf[:0], `{"segment":`...)
	b = strconv.AppendUint(b, p.Seg, 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, p.Off, 10)
	b = append(b, `,"sum":`...)
	b = strconv.AppendUint(b, uint64(p.sum()), 10)
	b = append(b, '}')
	for len(b) < cursorSize-1 {
		b = append(b, ' ')
	}
	b = append(b, '\n')
	d.cursorBuf = b
	_, err := d.cursorF.WriteAt(b, 0)
	if err == nil && sync {
		err = d.cursorF.Sync()
	}
	if err != nil {
		d.cursorF.Close()
		d.cursorF = nil // opened again next time
	}
	return err
}

// read hands out the next records, never across a segment boundary (so
// that the batch in flight always lies in the cursor's segment). Damaged
// records found here (the disk changed under us) are reported like those
// found at start, and the rest of their segment is skipped.
func (d *diskStore) read(limit int) ([]event.Event, [][]byte) {
	for {
		d.tidy()
		s := d.segAt(d.readPos.Seg)
		if s == nil || d.readPos.Off >= s.size {
			return nil, nil
		}
		if evs := d.takeRecent(s, limit); evs != nil {
			return evs, nil
		}
		payloads, used, why := d.readAt(s, d.readPos.Off, limit)
		if len(payloads) > 0 {
			d.readPos.Off += int64(used)
			s.unread -= len(payloads)
			d.nIn = len(payloads)
			return nil, payloads
		}
		d.log.Error().Str("file", d.segPath(s.id)).Int64("offset", d.readPos.Off).Int64("skipped_bytes", s.size-d.readPos.Off).Str("why", why).Int("events", s.unread).
			Msg("CORRUPT DISK BUFFER RECORD: skipping the rest of the segment; the events in it are lost")
		d.lose(max(s.unread, 1), span{}, ReasonCorrupt)
		d.readPos.Off, s.unread = s.size, 0
	}
}

// readAt decodes up to limit records of s from off; with none, why says
// what is wrong there.
func (d *diskStore) readAt(s *segment, off int64, limit int) ([][]byte, int, string) {
	f, err := d.file(s)
	if err != nil {
		return nil, 0, err.Error()
	}
	size := min(s.size-off, readChunk)
	for {
		buf := make([]byte, size)
		n, err := f.ReadAt(buf, off)
		if n < len(buf) {
			return nil, 0, fmt.Sprintf("reading %d bytes: %v", len(buf), err)
		}
		payloads, used, derr := decodeRecords(buf, limit)
		if len(payloads) > 0 {
			return payloads, used, ""
		}
		var ce *corruptError
		if errors.As(derr, &ce) {
			return nil, 0, ce.Why
		}
		// Cut short: a record larger than the chunk, or the segment ends
		// inside one.
		if size < headerSize {
			return nil, 0, "record cut short"
		}
		want := headerSize + int64(binary.LittleEndian.Uint32(buf))
		if want <= size || off+want > s.size {
			return nil, 0, "record cut short"
		}
		size = want
	}
}

// file returns an open file for reading segment s.
func (d *diskStore) file(s *segment) (*os.File, error) {
	if d.closed {
		return nil, os.ErrClosed // Stats after Close must not reopen files
	}
	if s == d.last() && d.w != nil {
		return d.w, nil
	}
	if d.r != nil && d.rID == s.id {
		return d.r, nil
	}
	if d.r != nil {
		d.r.Close()
		d.r = nil
	}
	if d.cursorF != nil {
		d.cursorF.Close()
		d.cursorF = nil
	}
	f, err := os.Open(d.segPath(s.id))
	if err != nil {
		return nil, fmt.Errorf("opening segment: %w", err)
	}
	d.r, d.rID = f, s.id
	return f, nil
}

func (d *diskStore) segAt(id uint64) *segment {
	for _, s := range d.segs {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (d *diskStore) ack() {
	d.nIn = 0
	d.tidy()
}

// dropOldest drops the oldest segment, in flight or not, until need bytes
// are free. Whole segments keep it cheap (one delete) and are at most an
// eighth of max_bytes.
func (d *diskStore) dropOldest(need int64) (dropped, error) {
	var dr dropped
	for d.free() < need {
		s := d.segs[0]
		if len(d.segs) == 1 {
			if s.size == 0 {
				break
			}
			// Never delete the segment appended to: start another.
			if err := d.newSegment(s.id + 1); err != nil {
				return dr, err
			}
			continue
		}
		from := int64(0)
		if s.id == d.cursor.Seg {
			from = d.cursor.Off
		}
		n := s.unread
		if d.nIn > 0 {
			n += d.nIn
			dr.aborted = true
			d.nIn = 0
		}
		if n > 0 {
			d.spanOf(s, from, &dr.span)
			dr.count += n
		}
		d.size -= s.size
		d.remove(s.id)
		d.segs = d.segs[1:]
		d.cursor = pos{d.segs[0].id, 0}
		if d.readPos.Seg <= s.id {
			d.readPos = d.cursor
		}
	}
	if err := d.saveCursor(false); err != nil {
		return dr, err
	}
	return dr, nil
}

// spanOf adds the event times of the records of s from off on to sp.
func (d *diskStore) spanOf(s *segment, off int64, sp *span) {
	for off < s.size {
		payloads, used, _ := d.readAt(s, off, 0)
		if len(payloads) == 0 {
			return
		}
		for _, p := range payloads {
			sp.add(payloadTime(p))
		}
		off += int64(used)
	}
}

// oldest reads the event time of the next record to hand out.
func (d *diskStore) oldest() time.Time {
	for _, s := range d.segs {
		if s.id < d.readPos.Seg {
			continue
		}
		off := int64(0)
		if s.id == d.readPos.Seg {
			off = d.readPos.Off
		}
		if off < s.size {
			payloads, _, _ := d.readAt(s, off, 1)
			if len(payloads) == 1 {
				return payloadTime(payloads[0])
			}
			return time.Time{}
		}
	}
	return time.Time{}
}

// close flushes everything and saves the cursor durably.
func (d *diskStore) close() error {
	d.syncW()
	err := d.saveCursor(true)
	d.closeFiles()
	d.closed = true
	if d.syncFailed > 0 && err == nil {
		err = d.syncErr
	}
	return err
}

func (d *diskStore) closeFiles() {
	if d.w != nil {
		d.w.Close()
		d.w = nil
	}
	if d.r != nil {
		d.r.Close()
		d.r = nil
	}
	if d.cursorF != nil {
		d.cursorF.Close()
		d.cursorF = nil
	}
}
