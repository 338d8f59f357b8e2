package identity

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Identity is who a binding says a request is from.
type Identity struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// BindingsConfig bounds and persists Bindings.
type BindingsConfig struct {
	// MaxEntries bounds the bindings; past it the least recently bound or
	// looked up goes first. 0 means 100000.
	MaxEntries int
	// TTL is how long a binding lives after it was last bound or looked
	// up: a session nobody uses is forgotten. 0 means 24h.
	TTL time.Duration
	// File, when set, keeps the bindings across restarts, so that users
	// logged in before a restart still have a name after it. See Save and
	// Run. "" keeps them in memory only.
	File string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const (
	defaultMaxEntries = 100000
	defaultTTL        = 24 * time.Hour
)

// Bindings maps what later requests carry (a session cookie, a numeric id
// in a token) to the identity a login taught. It is an LRU cache with a
// sliding TTL, safe for concurrent use.
//
// Keys are session secrets: only a SHA-256 hash of slot and key is kept, in
// memory and in File, so neither a heap dump nor the file gives a session
// away.
type Bindings struct {
	max  int
	ttl  time.Duration
	file string
	now  func() time.Time

	mu sync.Mutex
	// lru holds *binding values, most recently used at the front. Since
	// every use moves an entry to the front with the current time, the
	// back is the oldest: expired entries gather there.
	lru     *list.List
	byKey   map[digest]*list.Element
	changes uint64 // counts changes, so that Run saves only when there were some
	saved   uint64 // changes as of the last successful save

	saveMu sync.Mutex // one Save at a time: an older snapshot never replaces a newer one
}

type digest [sha256.Size]byte

type binding struct {
	key  digest
	id   Identity
	last time.Time // last bound or looked up
}

// NewBindings returns empty bindings, or the ones File holds when it exists.
//
// A File that cannot be read in full does not stop startup: forgetting
// who was logged in costs some actor names, refusing to start costs the
// audit trail. NewBindings then returns usable Bindings holding every entry
// it could read together with a *LoadError for the caller to log. Any other
// error (a bad config) comes with nil Bindings.
func NewBindings(cfg BindingsConfig) (*Bindings, error) {
	if cfg.MaxEntries < 0 {
		return nil, fmt.Errorf("configuring identity bindings: MaxEntries %d is negative", cfg.MaxEntries)
	}
	if cfg.TTL < 0 {
		return nil, fmt.Errorf("configuring identity bindings: TTL %v is negative", cfg.TTL)
	}
	b := &Bindings{
		max:   cfg.MaxEntries,
		ttl:   cfg.TTL,
		file:  cfg.File,
		now:   cfg.Now,
		lru:   list.New(),
		byKey: make(map[digest]*list.Element),
	}
	if b.max == 0 {
		b.max = defaultMaxEntries
	}
	if b.ttl == 0 {
		b.ttl = defaultTTL
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.file == "" {
		return b, nil
	}
	if err := b.load(); err != nil {
		return b, err
	}
	return b, nil
}

// hashKey hashes slot and key together, the slot's length first so that no
// two (slot, key) pairs give the same input.
func hashKey(slot, key string) digest {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(slot)))
	h.Write(n[:])
	h.Write([]byte(slot))
	h.Write([]byte(key))
	var d digest
	h.Sum(d[:0])
	return d
}

// Bind binds key, a value of slot (say slot "cookie.sid", key the cookie's
// value), to id, replacing what it was bound to. An empty key or identity
// binds nothing: a request without the cookie must never resolve to
// whoever logged in last without one.
func (b *Bindings) Bind(slot, key string, id Identity) {
	if key == "" || id == (Identity{}) {
		return
	}
	d := hashKey(slot, key)
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.changes++
	if el, ok := b.byKey[d]; ok {
		e := el.Value.(*binding)
		e.id, e.last = id, now
		b.lru.MoveToFront(el)
	} else {
		b.byKey[d] = b.lru.PushFront(&binding{key: d, id: id, last: now})
		if b.lru.Len() > b.max {
			b.remove(b.lru.Back())
		}
	}
	b.prune(now)
}

// Lookup returns the identity key is bound to in slot, and makes the binding
// live another TTL.
func (b *Bindings) Lookup(slot, key string) (Identity, bool) {
	if key == "" {
		return Identity{}, false
	}
	d := hashKey(slot, key)
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.byKey[d]
	if !ok {
		return Identity{}, false
	}
	e := el.Value.(*binding)
	if b.expired(e, now) {
		b.remove(el)
		b.changes++
		return Identity{}, false
	}
	e.last = now
	b.lru.MoveToFront(el)
	b.changes++
	return e.id, true
}

// Drop forgets key in slot, as a logout does.
func (b *Bindings) Drop(slot, key string) {
	d := hashKey(slot, key)
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.byKey[d]; ok {
		b.remove(el)
		b.changes++
	}
}

// Len returns how many bindings are live.
func (b *Bindings) Len() int {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(now)
	return b.lru.Len()
}

func (b *Bindings) expired(e *binding, now time.Time) bool {
	return !now.Before(e.last.Add(b.ttl))
}

// prune removes expired entries from the back. It stops at the first live
// one, so it costs O(1) amortized; an expired entry it misses (after the
// clock went back) is still never returned, since Lookup checks too.
func (b *Bindings) prune(now time.Time) {
	for el := b.lru.Back(); el != nil && b.expired(el.Value.(*binding), now); el = b.lru.Back() {
		b.remove(el)
	}
}

func (b *Bindings) remove(el *list.Element) {
	delete(b.byKey, el.Value.(*binding).key)
	b.lru.Remove(el)
}

// Close saves the bindings when File is set. Stop Run first.
func (b *Bindings) Close() error {
	if b.file == "" {
		return nil
	}
	return b.Save()
}

// LoadError reports a bindings file that could be read only in part, or not
// at all. NewBindings returns it with Bindings holding every entry it could
// read; log it and go on.
type LoadError struct {
	File    string
	Line    int // first line that could not be read; 0 when the file could not be opened
	Skipped int // lines that could not be read
	Err     error
}

func (e *LoadError) Error() string {
	msg := fmt.Sprintf("loading identity bindings %q: ", e.File)
	if e.Line > 0 {
		msg += fmt.Sprintf("line %d: ", e.Line)
	}
	msg += e.Err.Error()
	if e.Skipped > 1 {
		msg += fmt.Sprintf(" (%d lines skipped)", e.Skipped)
	}
	return msg
}

func (e *LoadError) Unwrap() error { return e.Err }

var errNotBindings = errors.New("not an auditproxy identity bindings file; nothing loaded")
