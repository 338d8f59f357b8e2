package sqlcommon

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// Each streams long queries, so that a sort, where the filter needs one,
// is done once per query, not once per small page. But it closes a query
// after EachChunk events or EachWindow, whichever comes first, and resumes
// after the last event with a new one: a consumer as slow as an export to
// a slow client then never holds a read open for long, which would keep
// SQLite's log from being checkpointed, or PostgreSQL's vacuum from
// cleaning up, the whole time. The bound on events keeps the planners on
// the plans they use for pages (an index walk newest first) rather than a
// sort of the whole table. Variables for tests.
var (
	EachChunk  = 100_000
	EachWindow = time.Second
)

// SetEach sets EachChunk and EachWindow for a test and returns the undo.
func SetEach(chunk int, window time.Duration) (undo func()) {
	oldChunk, oldWindow := EachChunk, EachWindow
	EachChunk, EachWindow = chunk, window
	return func() { EachChunk, EachWindow = oldChunk, oldWindow }
}

// errPause stops a query of Each at the end of its window.
var errPause = errors.New("pause")

// Each is store.Store.Each on an engine's PageFunc.
func Each(ctx context.Context, f store.Filter, fn func(*event.Event) error, page PageFunc) error {
	var (
		after *store.Position
		last  store.Position
		fnErr error // fn's own error, returned as it is
	)
	for {
		start := time.Now()
		n, err := page(ctx, f, after, EachChunk, func(pos store.Position, ev *event.Event) error {
			last = pos
			if fnErr = fn(ev); fnErr != nil {
				return fnErr
			}
			if time.Since(start) > EachWindow {
				return errPause
			}
			return nil
		})
		switch {
		case fnErr != nil:
			return fnErr
		case err == errPause:
			after = &last
		case err != nil:
			return fmt.Errorf("reading events: %w", err)
		case n < EachChunk:
			return nil
		default:
			after = &last
		}
	}
}
