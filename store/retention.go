package store

import (
	"context"
	"fmt"
	"time"
)

// RunRetention purges events older than keep, now and then every every,
// until ctx is done. onPurge (may be nil) is called after each purge that
// deleted something, with the count and the cut-off, for the caller to
// record in the trail: a purge that removes nothing is not worth an event.
//
// It returns nil when ctx is done, or the first purge error: a database
// that cannot purge is something to log, and the caller may run it again.
func RunRetention(ctx context.Context, s Store, keep, every time.Duration, onPurge func(n int64, before time.Time)) error {
	if keep <= 0 || every <= 0 {
		return fmt.Errorf("running retention: keep (%v) and every (%v) must be positive", keep, every)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		before := time.Now().Add(-keep)
		n, err := s.Purge(ctx, before)
		if ctx.Err() != nil {
			return nil
		}
		// A purge that fails part way has still deleted n events: they
		// are recorded before the error is returned.
		if n > 0 && onPurge != nil {
			onPurge(n, before)
		}
		if err != nil {
			return fmt.Errorf("purging events before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
