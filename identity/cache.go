package identity

import "sync"

// tokenCache remembers what tokens decoded or verified to, for the next
// requests that carry the same token: clients send one token many times.
// It holds at most max entries; when full, an arbitrary one makes room
// (the map's order), which is enough for a cache whose misses only cost
// the work it saves. A nil *tokenCache remembers nothing. Safe for
// concurrent use.
type tokenCache[V any] struct {
	mu  sync.Mutex
	max int
	m   map[string]V
}

// maxCachedToken bounds the tokens remembered, so that a cache's memory is
// bounded by its size times this.
const maxCachedToken = 8 << 10

// newTokenCache returns a cache of size entries; nil when size <= 0.
func newTokenCache[V any](size int) *tokenCache[V] {
	if size <= 0 {
		return nil
	}
	return &tokenCache[V]{max: size, m: make(map[string]V)}
}

func (c *tokenCache[V]) get(token string) (V, bool) {
	if c == nil {
		var zero V
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[token]
	return v, ok
}

func (c *tokenCache[V]) put(token string, v V) {
	if c == nil || len(token) > maxCachedToken {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[token]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[token] = v
}

func (c *tokenCache[V]) forget(token string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, token)
}

func (c *tokenCache[V]) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// DefaultCacheSize is how many tokens a Verifier or Decoder remembers
// unless told otherwise.
const DefaultCacheSize = 4096

// Decoder is DecodeUnverified remembering the last tokens it decoded
// (failures are not remembered). The claims it returns are shared:
// callers only read them. Safe for concurrent use.
type Decoder struct{ cache *tokenCache[[]byte] }

// NewDecoder remembers size tokens; 0 means DefaultCacheSize, negative
// none.
func NewDecoder(size int) *Decoder {
	if size == 0 {
		size = DefaultCacheSize
	}
	return &Decoder{cache: newTokenCache[[]byte](size)}
}

// Decode is DecodeUnverified, from memory for a token seen before. A nil
// *Decoder remembers nothing.
func (d *Decoder) Decode(token string) ([]byte, bool) {
	if d == nil {
		return DecodeUnverified(token)
	}
	if claims, ok := d.cache.get(token); ok {
		return claims, true
	}
	claims, ok := DecodeUnverified(token)
	if ok {
		d.cache.put(token, claims)
	}
	return claims, ok
}
