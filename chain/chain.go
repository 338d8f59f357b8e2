// Package chain makes the trail tamper-evident: every event of an instance
// gets the next sequence number, the previous event's hash, and a hash of
// its own canonical form (the native JSON, with prev_hash in it and hash
// left out). Editing, deleting, inserting or reordering an event breaks
// the chain at that point, which Verify finds.
package chain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

// Hash returns the hash of ev's canonical form: SHA-256 of its native JSON
// line with Hash left out, hex-encoded.
func Hash(ev *event.Event) string {
	e := *ev
	e.Hash = ""
	sum := sha256.Sum256(format.AppendJSON(nil, &e))
	return hex.EncodeToString(sum[:])
}

// Chain hands out sequence numbers and links. Its state (the last seq and
// hash) is kept in a file, written before the sealed events are handed to
// any output: a crash can then cost a gap in the numbers (which Verify
// reports as events lost, which they are), never two events with one
// number.
type Chain struct {
	mu    sync.Mutex
	path  string // "" keeps the state in memory only
	state state
}

type state struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Open reads the state at path (a missing file starts a new chain).
func Open(path string) (*Chain, error) {
	c := &Chain{path: path}
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("reading chain state: %w", err)
	}
	if err := json.Unmarshal(data, &c.state); err != nil {
		return nil, fmt.Errorf("reading chain state %s: %w (move it aside to start a new chain; Verify will show the break)", path, err)
	}
	return c, nil
}

// Seal numbers and links evs in order, and saves the state. The caller
// must hand sealed events to outputs in the order Seal saw them (hold the
// same lock across both).
func (c *Chain) Seal(evs []event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := c.state
	for i := range evs {
		ev := &evs[i]
		next.Seq++
		ev.Seq, ev.PrevHash = next.Seq, next.Hash
		ev.Hash = Hash(ev)
		next.Hash = ev.Hash
	}
	if err := c.save(next); err != nil {
		return err
	}
	c.state = next
	return nil
}

func (c *Chain) save(s state) error {
	if c.path == "" {
		return nil
	}
	data, _ := json.Marshal(s)
	tmp := c.path + ".tmp"
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return fmt.Errorf("saving chain state: %w", err)
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("saving chain state: %w", err)
	}
	if err := os.Rename(tmp, c.path); err != nil {
		return fmt.Errorf("saving chain state: %w", err)
	}
	return nil
}
