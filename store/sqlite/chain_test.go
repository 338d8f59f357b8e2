package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/sqlite"
	"github.com/auditproxy/auditproxy/store/storetest"
)

func TestChain(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) (store.Store, storetest.Tamper) {
		path := filepath.Join(t.TempDir(), "events.db")
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", path+"?_busy_timeout=5000")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		exec := func(t *testing.T, q string, args ...any) {
			t.Helper()
			if res, err := db.Exec(q, args...); err != nil {
				t.Fatal(err)
			} else if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("%s %v: %d rows, want 1", q, args, n)
			}
		}
		return s, storetest.Tamper{
			SetDoc: func(t *testing.T, id string, doc []byte) {
				exec(t, "UPDATE events SET doc = ? WHERE id = ?", string(doc), id)
			},
			Delete: func(t *testing.T, id string) { exec(t, "DELETE FROM events WHERE id = ?", id) },
			SetSeq: func(t *testing.T, id string, seq int64) { exec(t, "UPDATE events SET seq = ? WHERE id = ?", seq, id) },
		}
	})
}
