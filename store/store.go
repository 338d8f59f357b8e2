// Package store keeps audit events in a database and answers the questions
// the activity log asks: who did what, when, from where, filtered, searched,
// counted and exported. One interface, two engines: SQLite (embedded, pure
// Go, the default for one instance) and PostgreSQL (several proxies sharing
// one trail). Later rooms (the query API, the web viewer) read through it;
// nothing here reaches back into the proxy or the rules.
package store

import (
	"context"
	"net/netip"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Store is an event database. Implementations are safe for concurrent use.
type Store interface {
	// Insert adds events in one transaction. An event whose id is already
	// stored is skipped, not an error: delivery is at least once.
	Insert(ctx context.Context, events []event.Event) error
	// Query returns one page of events matching f, newest first (events
	// of the same microsecond by descending id). A cursor Query did not
	// make is ErrInvalidCursor.
	Query(ctx context.Context, f Filter, p Page) (Result, error)
	// Count returns how many events match f.
	Count(ctx context.Context, f Filter) (int64, error)
	// Get returns one event by id; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (event.Event, error)
	// Facets returns the distinct values of a field among the events
	// matching f, with counts, most frequent first (equal counts by
	// value), at most limit of them (see FacetLimit). Empty values are
	// left out: no filter selects them.
	Facets(ctx context.Context, f Filter, field FacetField, limit int) ([]Facet, error)
	// Each calls fn for every event matching f, newest first, streaming
	// from the database (exports of a year of events use flat memory).
	// It stops at the first error fn returns, and returns it.
	Each(ctx context.Context, f Filter, fn func(*event.Event) error) error
	// Purge deletes events older than before (time < before) and returns
	// how many.
	Purge(ctx context.Context, before time.Time) (int64, error)
	Close() error
}

// Filter selects events. Zero fields select everything; set fields combine
// with AND, values within a list with OR.
type Filter struct {
	// Actors: any of these, each matching actor.id or actor.name exactly.
	Actors    []string
	Actions   []string // any of these actions
	Areas     []string
	Target    Target // each set field must match exactly
	Outcome   string
	Countries []string      // any of these source countries
	IP        *netip.Prefix // a single address is a /32 or /128 prefix
	From, To  time.Time     // From <= time < To; zero: unbounded
	// AfterSeq selects events whose hash-chain seq is greater: those
	// sealed after the event of that seq (a live view resuming). 0:
	// unbounded; events without a seq (0) never pass a set AfterSeq.
	AfterSeq int64
	// Text is free text: every word of it (see Words) must appear, as a
	// case-insensitive substring, in the description, actor.id,
	// actor.name, target.id or target.name ("bob exam" finds
	// "bob@example.com"). Case folding is certain for ASCII letters.
	Text string
	// OwnActor, when set, restricts the result to events whose actor.id or
	// actor.name equals it: what a non-admin user may see. It is applied
	// on top of every other field, never replaced by them.
	OwnActor string
}

// Target selects on the event's target.
type Target struct{ Type, ID, Name string }

// Page asks for one page: at most Limit events (0 = 50, max 1000) after the
// opaque Cursor of the previous page ("" = the newest).
type Page struct {
	Limit  int
	Cursor string
}

// Result is one page and the cursor of the next ("" when this is the last).
type Result struct {
	Events []event.Event
	Next   string
}

// FacetField is a field facets can be asked for.
type FacetField string

const (
	FacetAction  FacetField = "action"
	FacetArea    FacetField = "area"
	FacetActor   FacetField = "actor"
	FacetCountry FacetField = "country"
	FacetOutcome FacetField = "outcome"
)

// Facet is one distinct value and how many events have it.
type Facet struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
	// Label is a name to show for Value where one exists: for actors, the
	// Value is actor.id (what the Actor filter matches best) and Label the
	// actor's name; "" otherwise. Actors without an id have their name as
	// Value.
	Label string `json:"label,omitempty"`
}
