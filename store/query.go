package store

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// Page sizes: DefaultLimit when Page.Limit is 0, never more than MaxLimit.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Size is the number of events the page holds at most: Limit, or
// DefaultLimit when it is 0 or less, capped at MaxLimit.
func (p Page) Size() int {
	switch {
	case p.Limit <= 0:
		return DefaultLimit
	case p.Limit > MaxLimit:
		return MaxLimit
	}
	return p.Limit
}

// Facet limits: DefaultFacetLimit when Facets is given 0 or less, never
// more than MaxFacetLimit.
const (
	DefaultFacetLimit = 20
	MaxFacetLimit     = 1000
)

// FacetLimit is the number of facets to return for the limit asked.
func FacetLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultFacetLimit
	case limit > MaxFacetLimit:
		return MaxFacetLimit
	}
	return limit
}

// Valid reports whether f is a field Facets knows.
func (f FacetField) Valid() bool {
	switch f {
	case FacetAction, FacetArea, FacetActor, FacetCountry, FacetOutcome:
		return true
	}
	return false
}

// Position is where a page ends in the order every engine uses: time
// descending, then id descending for events of the same microsecond.
type Position struct {
	Time time.Time // truncated to the microsecond, as stored
	ID   string
}

// EncodeCursor makes the opaque cursor for the page after pos: the time in
// unix microseconds (8 bytes, big endian) then the id, in unpadded
// URL-safe base64 so it can go in a query string as it is.
func EncodeCursor(pos Position) string {
	b := make([]byte, 8, 8+len(pos.ID))
	binary.BigEndian.PutUint64(b, uint64(pos.Time.UnixMicro()))
	b = append(b, pos.ID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor EncodeCursor made. Anything else is
// ErrInvalidCursor.
func DecodeCursor(c string) (Position, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) <= 8 {
		return Position{}, fmt.Errorf("reading cursor %q: %w", c, ErrInvalidCursor)
	}
	us := int64(binary.BigEndian.Uint64(b))
	return Position{Time: time.UnixMicro(us).UTC(), ID: string(b[8:])}, nil
}

// Words splits a Filter.Text into the words that must each appear: runs
// of non-space characters. "" gives none.
func Words(text string) []string {
	return strings.Fields(text)
}

// CeilMicro rounds t up to the next microsecond, the precision events are
// stored with, so that a bound with nanoseconds keeps its meaning: an event
// at 10:00:00.000001 is not before From = 10:00:00.0000005.
func CeilMicro(t time.Time) time.Time {
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		return r.Add(time.Microsecond)
	}
	return t
}
