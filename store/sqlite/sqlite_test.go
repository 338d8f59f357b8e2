package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/sqlcommon"
	"github.com/auditproxy/auditproxy/store/sqlite"
	"github.com/auditproxy/auditproxy/store/storetest"
)

// rawDB opens the database file beside the store, closed when the test
// ends: for what a test does behind the store's back.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawExec runs statements on the database file beside the store and
// closes it again.
func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// openAt opens a store in a new file, closed when the test ends, and says
// where the file is.
func openAt(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func open(t *testing.T) store.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// TestConformanceOtherPlans runs the suite with every text search taking
// the plan for words that match many events, and Each resuming its query
// after every event.
func TestConformanceOtherPlans(t *testing.T) {
	defer sqlite.SetCommonMatches(0)()
	defer sqlcommon.SetEach(7, 0)()
	storetest.Run(t, open)
}

// TestRejected: an event the database refuses is store.Rejected (the
// output dead-letters it); a closed store is not.
func TestRejected(t *testing.T) {
	ctx := context.Background()
	s, path := openAt(t)
	db := rawDB(t, path)
	if _, err := db.Exec(`CREATE TRIGGER no_bad BEFORE INSERT ON events WHEN new.action = 'bad' BEGIN SELECT RAISE(ABORT, 'bad action'); END`); err != nil {
		t.Fatal(err)
	}
	bad := eventtest.Minimal()
	bad.Action = "bad"
	if err := s.Insert(ctx, []event.Event{eventtest.Full(), bad}); !store.IsRejected(err) {
		t.Errorf("Insert refused by a trigger: %v, want a Rejected error", err)
	}
	if n, _ := s.Count(ctx, store.Filter{}); n != 0 {
		t.Errorf("a refused batch left %d events, want 0 (one transaction)", n)
	}
	s.Close()
	if err := s.Insert(ctx, []event.Event{eventtest.Full()}); err == nil || store.IsRejected(err) {
		t.Errorf("Insert on a closed store: %v, want an error that is not Rejected", err)
	}
}

// TestReopen: the file keeps the events; a file made by a newer version is
// not touched.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events?#%.db") // characters a URI would take for its own
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Insert(ctx, []event.Event{eventtest.Full()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at the path given: %v", err)
	}
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx, store.Filter{Text: "bob"}); n != 1 || err != nil {
		t.Errorf("Count after reopening = %d, %v; want 1", n, err)
	}
	s.Close()

	path = filepath.Join(t.TempDir(), "newer.db")
	if s, err = sqlite.Open(path); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawExec(t, path, "PRAGMA user_version = 99")
	if _, err := sqlite.Open(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want an error saying so", err)
	}
	for _, bad := range []string{"", ":memory:", "file:x.db"} {
		if _, err := sqlite.Open(bad); err == nil {
			t.Errorf("Open(%q): no error", bad)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := sqlite.Open(filepath.Join(b.TempDir(), "events.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// TestFTSSettings: the text index's settings are set on a new database and
// on one made before them.
func TestFTSSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	automerge := func() int {
		t.Helper()
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var v int
		if err := db.QueryRow("SELECT v FROM events_fts_config WHERE k = 'automerge'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := automerge(); got != 16 {
		t.Errorf("automerge of a new database = %d, want 16", got)
	}
	// As a database made before the setting has it: FTS5's default.
	rawExec(t, path, "DELETE FROM events_fts_config WHERE k = 'automerge'")
	if s, err = sqlite.Open(path); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := automerge(); got != 16 {
		t.Errorf("automerge of an older database after Open = %d, want 16", got)
	}
}

// TestCheckpointer: inserts that wake the checkpointer many times, with
// reads alongside, lose nothing, and Close stops it.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	batch := make([]event.Event, 0, 1000)
	for i := range n {
		ev := eventtest.Full()
		ev.ID = fmt.Sprintf("ev-%06d", i)
		batch = append(batch, ev)
		if len(batch) == cap(batch) {
			if err := s.Insert(ctx, batch); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Count(ctx, store.Filter{Text: "bob"}); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s, err = sqlite.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range []store.Filter{{}, {Text: "bob"}} {
		if got, err := s.Count(ctx, f); got != n || err != nil {
			t.Errorf("Count(%+v) after reopening = %d, %v; want %d", f, got, err, n)
		}
	}
}

// TestTargetKeys: a target id or name is found whatever it holds, long
// values that share their first bytes (all the index keeps) included, and
// Go makes the same index token as the database does.
func TestTargetKeys(t *testing.T) {
	ctx := context.Background()
	s, path := openAt(t)
	long := strings.Repeat("a long name ", 10)
	values := []string{"x", "43", `say "hi" : {x} OR y*`, "Ünïcode ÄÖ 名前", "tab\tand\nnewline", long + "1", long + "2", strings.Repeat("é", 100)}
	var evs []event.Event
	for i, v := range values {
		ev := eventtest.Minimal()
		ev.ID = fmt.Sprintf("ev-%d", i)
		ev.Target = event.Target{Type: "thing", ID: v, Name: v + " (name)"}
		evs = append(evs, ev)
	}
	if err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for i, v := range values {
		for _, f := range []store.Filter{{Target: store.Target{ID: v}}, {Target: store.Target{Name: v + " (name)"}}} {
			res, err := s.Query(ctx, f, store.Page{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Events) != 1 || res.Events[0].ID != evs[i].ID {
				t.Errorf("Query(%+v) = %d events, want %s alone", f.Target, len(res.Events), evs[i].ID)
			}
		}
	}
	db := rawDB(t, path)
	for _, v := range values {
		var want string
		if err := db.QueryRow("SELECT substr(hex(?), 1, 128)", v).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := sqlite.KeyToken(v); got != want {
			t.Errorf("KeyToken(%q) = %s, the database makes %s", v, got, want)
		}
	}
}

// TestUpgrade: a database of schema version 1, which had B-tree indexes on
// the target id and name, is upgraded on Open: the indexes are gone and its
// events are found by target.
func TestUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	evs := storetest.Fixture(40)
	if err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Back to version 1, as that version made it.
	rawExec(t, path,
		"DROP TABLE events_keys",
		"CREATE INDEX events_target_id ON events (target_id, time)",
		"CREATE INDEX events_target_name ON events (target_name, time)",
		"PRAGMA user_version = 1",
	)
	db := rawDB(t, path)
	if s, err = sqlite.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var v, indexes int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != 2 {
		t.Errorf("user_version after Open = %d, %v; want 2", v, err)
	}
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name IN ('events_target_id', 'events_target_name')").Scan(&indexes); err != nil || indexes != 0 {
		t.Errorf("%d of the old target indexes left after Open (%v), want 0", indexes, err)
	}
	for _, f := range []store.Filter{{Target: store.Target{ID: "INV-1001"}}, {Target: store.Target{Name: "bob@example.com"}}} {
		want := len(storetest.Expect(f, evs))
		if n, err := s.Count(ctx, f); n != int64(want) || want == 0 || err != nil {
			t.Errorf("Count(%+v) after the upgrade = %d, %v; want %d", f.Target, n, err, want)
		}
	}
}

// TestPurgeKeys: Purge takes the purged events out of the target index
// too, so that it does not grow with events no longer stored.
func TestPurgeKeys(t *testing.T) {
	ctx := context.Background()
	s, path := openAt(t)
	evs := storetest.Fixture(60)
	if err := s.Insert(ctx, evs); err != nil {
		t.Fatal(err)
	}
	storetest.SortNewestFirst(evs)
	if _, err := s.Purge(ctx, evs[20].Time); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	var stored, keyed int
	if err := db.QueryRow("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM events_keys)").Scan(&stored, &keyed); err != nil {
		t.Fatal(err)
	}
	if stored != 21 || keyed != stored {
		t.Errorf("after Purge: %d events, %d in the target index; want 21 and 21", stored, keyed)
	}
}
