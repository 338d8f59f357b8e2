package event

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// lastTick is the time part of the previous id: Unix milliseconds << 12 |
// a 12-bit fraction of the millisecond. Its lock also guards random, bytes
// from crypto/rand fetched 4 KiB at a time: one call per id cost about as
// much as the rest of NewID, and the proxy makes two ids per audited
// request (the event's and the request id).
var lastTick struct {
	sync.Mutex
	t      int64
	random [4096]byte
	used   int // bytes of random already handed out
}

// NewID returns a new UUIDv7 (RFC 9562) in its canonical lowercase form.
// Ids from one process are unique and strictly increasing, so they sort in
// the order they were made, also as strings: the 12 bits after the
// millisecond timestamp hold a finer fraction of the millisecond (RFC 9562
// section 6.2, method 3), bumped by one when two ids would share it or the
// clock stepped back. The last 62 bits are random, so ids from different
// processes do not collide either.
func NewID() string {
	var u [16]byte
	now := time.Now()
	t := now.UnixMilli()<<12 | int64(now.Nanosecond()%1e6)*4096/1e6
	lastTick.Lock()
	if t <= lastTick.t {
		t = lastTick.t + 1
	}
	lastTick.t = t
	if lastTick.used == 0 || lastTick.used+8 > len(lastTick.random) {
		rand.Read(lastTick.random[:]) // never returns an error; it crashes the program first
		lastTick.used = 0
	}
	lastTick.used += copy(u[8:], lastTick.random[lastTick.used:])
	lastTick.Unlock()

	ms, frac := t>>12, t&0xfff
	for i := 5; i >= 0; i-- {
		u[i] = byte(ms)
		ms >>= 8
	}
	u[6] = 0x70 | byte(frac>>8) // version 7
	u[7] = byte(frac)
	u[8] = 0x80 | u[8]&0x3f // variant 10

	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
