package identity

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The file is JSON lines: a header line, then one binding a line, oldest
// first. Lines make damage local: a bad line costs one binding, not the
// rest of the file.
//
//	{"auditproxy_identity_bindings":1}
//	{"key":"<hex SHA-256 of slot and key>","id":"42","name":"alice","last":1767225600000}
const fileHeader = `{"auditproxy_identity_bindings":1}`

type record struct {
	Key  string `json:"key"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	Last int64  `json:"last"` // Unix milliseconds when last bound or looked up
}

// maxLine bounds one line of the file, so that a damaged file cannot make
// startup buffer without limit.
const maxLine = 1 << 20

// Save writes every live binding to File atomically: a temporary file in
// the same directory, written, synced, then renamed over File, so a crash
// leaves the old file or the new one, never half of one. The file is mode
// 0600: its hashes still let anyone holding a session cookie learn whose
// it is. Without a File, Save does nothing.
func (b *Bindings) Save() error {
	if b.file == "" {
		return nil
	}
	b.saveMu.Lock()
	defer b.saveMu.Unlock()
	live, changes := b.snapshot()
	if err := writeAtomic(b.file, live); err != nil {
		return fmt.Errorf("saving identity bindings %q: %w", b.file, err)
	}
	b.mu.Lock()
	b.saved = changes
	b.mu.Unlock()
	return nil
}

// Run saves the bindings every interval while ctx lives, when they changed
// since the last save (a look-up is a change: it renews a TTL), and
// reports each failed save to onError (nil drops them; the next tick tries
// again, the bindings are still in memory). every <= 0 means a minute. It
// returns when ctx is done without saving: Close does that. Without a File
// it returns at once.
func (b *Bindings) Run(ctx context.Context, every time.Duration, onError func(error)) {
	if b.file == "" {
		return
	}
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.mu.Lock()
			dirty := b.changes != b.saved
			b.mu.Unlock()
			if !dirty {
				continue
			}
			if err := b.Save(); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}

// snapshot copies the live bindings, oldest first, with the change count
// they reflect. The lock is held only for the copy; encoding and the disk
// happen without it, so that workers do not wait for an fsync.
func (b *Bindings) snapshot() ([]binding, uint64) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(now)
	live := make([]binding, 0, b.lru.Len())
	for el := b.lru.Back(); el != nil; el = el.Prev() {
		live = append(live, *el.Value.(*binding))
	}
	return live, b.changes
}

func writeAtomic(path string, live []binding) (err error) {
	// CreateTemp makes the file 0600.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 64<<10)
	w.WriteString(fileHeader + "\n")
	enc := json.NewEncoder(w) // Encode ends each record with a newline
	for _, e := range live {
		r := record{Key: hex.EncodeToString(e.key[:]), ID: e.id.ID, Name: e.id.Name, Last: e.last.UnixMilli()}
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable. Best effort: some file systems
	// refuse to sync a directory, and the data is already safe.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// load reads File into the empty b, skipping what it cannot read.
func (b *Bindings) load() error {
	f, err := os.Open(b.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &LoadError{File: b.file, Err: err}
	}
	defer f.Close()

	var loadErr *LoadError
	fail := func(line int, err error) {
		if loadErr == nil {
			loadErr = &LoadError{File: b.file, Line: line, Err: err}
		}
		loadErr.Skipped++
	}
	var recs []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line == 1 {
			if string(bytes.TrimSpace(text)) != fileHeader {
				return &LoadError{File: b.file, Line: 1, Err: errNotBindings}
			}
			continue
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		r, err := parseRecord(text)
		if err != nil {
			fail(line, err)
			continue
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		// The rest of the file is out of reach; keep what was read.
		fail(line+1, fmt.Errorf("%w; the rest of the file is skipped", err))
	} else if line == 0 {
		// Save never writes an empty file, even with no bindings.
		fail(1, errors.New("file is empty"))
	}
	b.restore(recs)
	if loadErr != nil {
		return loadErr
	}
	return nil
}

func parseRecord(text []byte) (record, error) {
	var r record
	if err := json.Unmarshal(text, &r); err != nil {
		return record{}, err
	}
	if k, err := hex.DecodeString(r.Key); err != nil || len(k) != len(digest{}) {
		return record{}, errors.New(`"key" is not a hex SHA-256 hash`)
	}
	return r, nil
}

// restore inserts recs oldest first, so that the LRU order is as it was.
// Expired bindings are dropped; a time in the future (a clock that went
// back) counts as now, so that no binding outlives its TTL by much.
func (b *Bindings) restore(recs []record) {
	now := b.now()
	slices.SortStableFunc(recs, func(x, y record) int { return cmp.Compare(x.Last, y.Last) })
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range recs {
		last := time.UnixMilli(r.Last)
		if last.After(now) {
			last = now
		}
		e := &binding{id: Identity{ID: r.ID, Name: r.Name}, last: last}
		hex.Decode(e.key[:], []byte(r.Key))
		if b.expired(e, now) || e.id == (Identity{}) {
			continue
		}
		if old, ok := b.byKey[e.key]; ok {
			b.remove(old)
		}
		b.byKey[e.key] = b.lru.PushFront(e)
		if b.lru.Len() > b.max {
			b.remove(b.lru.Back())
		}
	}
	b.saved = b.changes // what is in memory is what is on disk
}
