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
		doc []byte
	)
	for {
		rows, err := s.pool.Query(ctx, `SELECT seq, id, doc::text FROM `+table+`
			WHERE seq >= $1 AND (seq > $1 OR id > $2) ORDER BY seq, id LIMIT $3`, seq, id, store.ChainChunk)
		if err != nil {
			return fmt.Errorf("reading events in chain order: %w", err)
		}
		n, err := sqlcommon.ChainRows(rows, []any{&seq, &id, &doc}, &seq, &id, &doc, fn)
		rows.Close()
		if err != nil {
			return err
		}
		if n < store.ChainChunk {
			return nil
		}
	}
}
