package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/postgres"
	"github.com/auditproxy/auditproxy/store/storetest"
)

func TestChain(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) (store.Store, storetest.Tamper) {
		ctx := context.Background()
		dsn := server.NewDB(t)
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		exec := func(t *testing.T, q string, args ...any) {
			t.Helper()
			if tag, err := conn.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			} else if tag.RowsAffected() != 1 {
				t.Fatalf("%s %v: %d rows, want 1", q, args, tag.RowsAffected())
			}
		}
		return s, storetest.Tamper{
			SetDoc: func(t *testing.T, id string, doc []byte) {
				exec(t, "UPDATE auditproxy_events SET doc = $1::json WHERE id = $2", string(doc), id)
			},
			Delete: func(t *testing.T, id string) { exec(t, "DELETE FROM auditproxy_events WHERE id = $1", id) },
			SetSeq: func(t *testing.T, id string, seq int64) {
				exec(t, "UPDATE auditproxy_events SET seq = $1 WHERE id = $2", seq, id)
			},
		}
	})
}
