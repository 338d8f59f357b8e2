package postgres

import (
	"context"
	"fmt"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/sqlcommon"
)

var _ store.ChainReader = (*Store)(nil)

// EachInChainOrder streams every event by seq, events of one seq by id.
// Each chunk resumes after the last (seq, id) read, walking the seq index
// (the few events of one seq, one per chain, are sorted on the way), so no
// read stays open longer than a chunk.
func (s *Store) EachInChainOrder(ctx context.Context, fn func(seq int64, ev *event.Event) error) error {
	var (
		seq int64 = -1 << 63
		id  string
		ev  event.Event
		doc []byte
	)
	for {
		rows, err := s.pool.Query(ctx, `SELECT seq, id, doc::text FROM `+table+`
			WHERE seq >= $1 AND (seq > $1 OR id > $2) ORDER BY seq, id LIMIT $3`, seq, id, store.ChainChunk)
		if err != nil {
			return fmt.Errorf("reading events in chain order: %w", err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&seq, &id, &doc); err != nil {
				rows.Close()
				return fmt.Errorf("reading events in chain order: %w", err)
			}
			n++
			if err := sqlcommon.Decode(doc, &ev); err != nil {
				rows.Close()
				return fmt.Errorf("reading events in chain order: event %q: %w", id, err)
			}
			if err := fn(seq, &ev); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("reading events in chain order: %w", err)
		}
		if n < store.ChainChunk {
			return nil
		}
	}
}
