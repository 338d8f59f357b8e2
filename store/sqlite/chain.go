package sqlite

import (
	"context"
	"fmt"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/sqlcommon"
)

var _ store.ChainReader = (*Store)(nil)

// EachInChainOrder streams every event by seq, events of one seq in the
// order they were stored (num). The seq index holds num (the rowid), so
// each chunk is one index range read in order, resumed after the last
// (seq, num) read: no sort, and no read open longer than a chunk.
func (s *Store) EachInChainOrder(ctx context.Context, fn func(seq int64, ev *event.Event) error) error {
	var (
		seq, num int64 = -1 << 63, 0
		doc      []byte
		id       string
	)
	for {
		rows, err := s.r.QueryContext(ctx, `SELECT seq, num, id, doc FROM events INDEXED BY events_seq
			WHERE seq >= ? AND (seq > ? OR num > ?) ORDER BY seq, num LIMIT ?`, seq, seq, num, store.ChainChunk)
		if err != nil {
			return fmt.Errorf("reading events in chain order: %w", err)
		}
		n, err := sqlcommon.ChainRows(rows, []any{&seq, &num, &id, &doc}, &seq, &id, &doc, fn)
		rows.Close()
		if err != nil {
			return err
		}
		if n < store.ChainChunk {
			return nil
		}
	}
}
