// Package chain makes the trail tamper-evident: every event of an instance
// gets the next sequence number, the previous event's hash, and a hash of
// its own canonical form (the native JSON, with prev_hash in it and hash
// left out). Editing, deleting, inserting or reordering an event breaks
// the chain at that point, which Verify finds.
package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

// Hash returns the hash of ev's canonical form: SHA-256 of its native JSON
// line with Hash and Signature left out, hex-encoded.
func Hash(ev *event.Event) string {
	h, _, _ := hashLine(ev, 1024, nil)
	return h
}

// hashLine returns ev's hash and its native JSON line with that hash in
// it, encoding the event once for both, into one buffer of about size
// bytes (the length of the last line is a good guess). sign, when not
// nil, signs the hash and the signature goes into the line too (after the
// hash, outside what the hash covers); it returns "" for an event it does
// not sign.
func hashLine(ev *event.Event, size int, sign func(hash string) string) (h, sig string, line []byte) {
	covered := ev
	if ev.Hash != "" || ev.Signature != "" || ev.Line != nil {
		// Verifying a sealed event: encode a copy without them. Sealing
		// (the hot path) has nothing to clear, and no 500-byte copy to make.
		e := *ev
		e.Hash, e.Signature, e.Line = "", "", nil
		covered = &e
	}
	line = format.AppendJSON(make([]byte, 0, size+hashRoom), covered)
	sum := sha256.Sum256(line)
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	h = string(hx[:])
	if sign != nil {
		sig = sign(h)
	}
	// The hash (and the signature) are the native encoding's last fields:
	// put them before the closing brace of the line the hash covers, in
	// the room left for them.
	line = append(line[:len(line)-2], `,"hash":"`...) // without "}\n"
	line = append(line, h...)
	if sig != "" {
		line = append(line, `","signature":"`...)
		line = append(line, sig...)
	}
	line = append(line, "\"}\n"...)
	return h, sig, line
}

// hashRoom is what the hash adds to a line: `,"hash":"` + 64 + `"}` + "\n"
// less the "}\n" it replaces. A signature makes the line grow once more.
const hashRoom = 9 + 2*sha256.Size + 3 - 2

// Chain hands out sequence numbers and links. Its state (the last seq and
// hash) is kept in a file, written before the sealed events are handed to
// any output: a crash can then cost a gap in the numbers (which Verify
// reports as events lost, which they are), never two events with one
// number.
type Chain struct {
	mu    sync.Mutex
	f     *os.File // the state file, kept open; nil keeps the state in memory only
	state state
	buf   []byte
	// lineSize is the buffer a line is encoded into: the last line's
	// length and some, so a line is one allocation, not a series of
	// growing ones.
	lineSize int
}

// stateSize is the fixed size the state is written at, always at offset
// 0 of the file: one small write per batch, no rename. A write this small
// lands whole on every file system auditproxy runs on; the trailing
// padding means a shorter state never leaves stale bytes behind.
const stateSize = 128

type state struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Open reads the state at path (a missing or empty file starts a new
// chain) and keeps the file open for the saves; "" keeps the state in
// memory only.
func Open(path string) (*Chain, error) {
	c := &Chain{}
	if path == "" {
		return c, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("opening chain state: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening chain state: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading chain state: %w", err)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 {
		if err := json.Unmarshal(trimmed, &c.state); err != nil {
			f.Close()
			return nil, fmt.Errorf("reading chain state %s: %w (move it aside to start a new chain; verify will show the break)", path, err)
		}
	}
	c.f = f
	return c, nil
}

// Close closes the state file.
func (c *Chain) Close() error {
	if c.f == nil {
		return nil
	}
	return c.f.Close()
}

// Seal numbers and links evs in order, and saves the state. The caller
// must hand sealed events to outputs in the order Seal saw them (hold the
// same lock across both).
func (c *Chain) Seal(evs []event.Event) error { return c.seal(evs, nil) }

// seal is Seal, signing the hashes with sign when it is not nil.
func (c *Chain) seal(evs []event.Event, sign func(hash string) string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.state
	for i := range evs {
		ev := &evs[i]
		next.Seq++
		ev.Seq, ev.PrevHash = next.Seq, next.Hash
		ev.Hash, ev.Signature, ev.Line = hashLine(ev, c.lineSize, sign)
		c.lineSize = len(ev.Line) + len(ev.Line)/8 // room for a longer one next
		next.Hash = ev.Hash
	}
	if err := c.save(next); err != nil {
		return err
	}
	c.state = next
	return nil
}

func (c *Chain) save(s state) error {
	if c.f == nil {
		return nil
	}
	b := append(c.buf[:0], `{"seq":`...)
	b = strconv.AppendInt(b, s.Seq, 10)
	b = append(b, `,"hash":"`...)
	b = append(b, s.Hash...)
	b = append(b, `"}`...)
	for len(b) < stateSize-1 {
		b = append(b, ' ')
	}
	b = append(b, '\n')
	c.buf = b
	if _, err := c.f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("saving chain state: %w", err)
	}
	return nil
}
