package sqlcommon

import (
	"context"
	"fmt"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// PageFunc reads up to n events matching f after the position after (nil:
// from the newest), newest first, calling fn for each with its position.
// It returns how many it read, and fn's error as it is.
type PageFunc func(ctx context.Context, f store.Filter, after *store.Position, n int, fn func(store.Position, *event.Event) error) (int, error)

// Query is store.Store.Query on an engine's PageFunc.
func Query(ctx context.Context, f store.Filter, p store.Page, page PageFunc) (store.Result, error) {
	var after *store.Position
	if p.Cursor != "" {
		pos, err := store.DecodeCursor(p.Cursor)
		if err != nil {
			return store.Result{}, fmt.Errorf("querying events: %w", err)
		}
		after = &pos
	}
	size := p.Size()
	var (
		res  store.Result
		last store.Position // of the last event of the page
	)
	// One more than the page, to know whether there is a next one.
	_, err := page(ctx, f, after, size+1, func(pos store.Position, ev *event.Event) error {
		if len(res.Events) == size {
			res.Next = store.EncodeCursor(last)
			return nil
		}
		res.Events = append(res.Events, *ev)
		last = pos
		return nil
	})
	if err != nil {
		return store.Result{}, fmt.Errorf("querying events: %w", err)
	}
	return res, nil
}

// EachChunk is how many events Each reads per query.
const EachChunk = 1000

// Each is store.Store.Each on an engine's PageFunc. It reads keyset pages
// of EachChunk events rather than through one long query, so that a slow
// consumer (an export to a slow client) holds no transaction and no
// connection between chunks: a long read would keep SQLite's log from
// being checkpointed, and PostgreSQL's vacuum from cleaning up, the whole
// time.
func Each(ctx context.Context, f store.Filter, fn func(*event.Event) error, page PageFunc) error {
	var (
		after *store.Position
		last  store.Position
		fnErr error // fn's own error, returned as it is
	)
	for {
		n, err := page(ctx, f, after, EachChunk, func(pos store.Position, ev *event.Event) error {
			last = pos
			fnErr = fn(ev)
			return fnErr
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		if n < EachChunk {
			return nil
		}
		after = &last
	}
}
