// Package sqlite is the embedded store engine: one SQLite file through
// modernc.org/sqlite (pure Go, no cgo), in WAL mode so readers never wait
// for the writer. All writes go through one connection (SQLite allows one
// writer at a time; queueing in Go is cheaper than SQLITE_BUSY retries),
// reads through a pool of read-only connections.
//
// The schema, its indexes and the full-text search are described in
// schema.go.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/sqlcommon"
)

func init() {
	store.RegisterEngine("sqlite", func(_ context.Context, path string) (store.Store, error) {
		return Open(path)
	})
}

// Store is an event database in one SQLite file.
type Store struct {
	path string
	w    *sql.DB // the one writer connection
	r    *sql.DB // read-only connections
	// insertMany inserts insertRows events, insertOne one: a batch goes
	// through the first as far as it can, the rest through the second.
	// One statement per row costs a third more per event.
	insertMany, insertOne *sql.Stmt

	mu         sync.Mutex
	unanalyzed int // events inserted since the planner's statistics were updated
	// uncopied counts the events inserted since the checkpointer was last
	// woken.
	uncopied int
	// ck is the checkpointer's own connection; wake tells it to copy the
	// log into the database, done is closed when it has stopped. wake is
	// nil once Close has begun.
	ck   *sql.DB
	wake chan struct{}
	done chan struct{}
}

// checkpointEvery is how many inserted events wake the checkpointer: about
// 16,000 pages of log at a million events.
const checkpointEvery = 4000

// analyzeEvery is how many inserted events make the planner's statistics
// worth updating: they were gathered when the database was smaller, maybe
// empty, and plans chosen on them go wrong as it grows.
const analyzeEvery = 100_000

// insertRows is how many events one INSERT statement holds.
const insertRows = 32

var _ store.Store = (*Store)(nil)

// busyTimeout is how long a connection waits for a lock another process
// (a second auditproxy on the same file, a sqlite3 shell) holds.
const busyTimeout = 5 * time.Second

// Open opens the database at path, creating it and its schema when it does
// not exist.
func Open(path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("opening sqlite store %q: want the path of a database file", path)
	}
	common := fmt.Sprintf("_busy_timeout=%d", busyTimeout.Milliseconds())
	w, err := sql.Open("sqlite", uri(path, common+writerParams))
	if err != nil {
		return nil, fmt.Errorf("opening sqlite store %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &Store{path: path, w: w}
	if err := s.migrate(); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite store %q: %w", path, err)
	}
	// The readers open after migrate, so that they find WAL mode set and
	// the tables there.
	r, err := sql.Open("sqlite", uri(path, common+"&_query_only=1"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite store %q: %w", path, err)
	}
	readers := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	s.r = r
	if err := s.startCheckpointer(common); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite store %q: %w", path, err)
	}
	if s.insertMany, err = w.Prepare(insertSQL(insertRows)); err == nil {
		s.insertOne, err = w.Prepare(insertSQL(1))
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite store %q: preparing insert: %w", path, err)
	}
	return s, nil
}

// writerParams set up the writer connection:
//   - WAL, so that readers never wait for the writer;
//   - synchronous=NORMAL: in WAL mode a commit is handed to the operating
//     system, not fsynced; the promise the file output makes, at a fraction
//     of the cost per batch;
//   - immediate transactions take the write lock at BEGIN, so that one
//     never fails half way for want of it;
//   - a 64 MiB page cache (SQLite's default is 2 MiB): the index pages a
//     batch changes stay at hand;
//   - the writer's own checkpoint at 65536 pages (256 MiB of log) instead
//     of 1000: a page that many batches change is copied back to the
//     database once. The checkpointer (startCheckpointer) copies most of
//     the log before that, beside the writer; this is the bound on the
//     log's size. At a million events, 16384 pages (64 MiB) made ingest
//     about a fifth slower and wrote 36 KiB per event instead of 29.
//
// Not mmap: it made no measurable difference to reads or writes, and it
// makes the process's resident size look like the database file's.
const writerParams = "&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate" +
	"&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(65536)"

// uri is the DSN for path with query: a file: URI, so that a ? or # in the
// path is part of the name.
func uri(path, query string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + query
}

// migrate creates the schema on a new database and refuses one made by a
// newer version.
func (s *Store) migrate() error {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this auditproxy knows (%d)", v, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	for ; v > 0 && v < schemaVersion; v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("upgrading schema from version %d: %w", v, err)
		}
	}
	// A setting of the index, kept in the file: set on databases made
	// before it too.
	if _, err := tx.ExecContext(ctx, ftsSettings); err != nil {
		return fmt.Errorf("setting up the text index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	// A full ANALYZE of a million events takes seconds; the planner needs
	// only the shape, which a sample gives.
	if _, err := s.w.ExecContext(ctx, "PRAGMA analysis_limit=1000"); err != nil {
		return fmt.Errorf("setting analysis limit: %w", err)
	}
	return s.analyze(ctx)
}

// analyze updates the query planner's statistics where they are missing or
// stale.
func (s *Store) analyze(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, "PRAGMA optimize=0x10002"); err != nil {
		return fmt.Errorf("updating planner statistics: %w", err)
	}
	return nil
}

// startCheckpointer starts the goroutine that copies the write-ahead log
// into the database while the writer goes on appending to it.
//
// SQLite's own checkpoint runs in the commit that fills the log past
// wal_autocheckpoint pages, on the writer: at a million events that was a
// sixth of the writer's time, and the Insert that ran it waited for its
// copy and fsyncs. A PASSIVE checkpoint on another connection takes no
// lock the writer needs, so the copy runs beside the inserts, on another
// core when there is one. The writer's own checkpoint stays as the bound
// on the log's size: when it comes, most of the log is already copied and
// it has little left to do.
func (s *Store) startCheckpointer(common string) error {
	ck, err := sql.Open("sqlite", uri(s.path, common))
	if err != nil {
		return err
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxLifetime(0)
	s.ck, s.wake, s.done = ck, make(chan struct{}, 1), make(chan struct{})
	go s.checkpoints(s.wake)
	return nil
}

// checkpoints runs a PASSIVE checkpoint each time wake says there is log to
// copy, until wake is closed. A checkpoint that fails (busy, I/O) is left
// to the next one, or to the writer's own.
func (s *Store) checkpoints(wake <-chan struct{}) {
	defer close(s.done)
	for range wake {
		_, _ = s.ck.Exec("PRAGMA wal_checkpoint(PASSIVE)")
	}
}

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	wake := s.wake
	s.wake = nil
	s.mu.Unlock()
	if wake != nil {
		close(wake)
		<-s.done
	}
	var errs []error
	if s.ck != nil {
		errs = append(errs, s.ck.Close())
	}
	for _, st := range []*sql.Stmt{s.insertMany, s.insertOne} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing sqlite store %q: %w", s.path, err)
	}
	return nil
}

// Insert adds the events in one transaction; ids already stored are
// skipped.
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.insertTx(ctx, events); err != nil {
		return fmt.Errorf("inserting %d events into %q: %w", len(events), s.path, classify(err))
	}
	s.mu.Lock()
	s.unanalyzed += len(events)
	due := s.unanalyzed >= analyzeEvery
	if due {
		s.unanalyzed = 0
	}
	s.uncopied += len(events)
	if s.uncopied >= checkpointEvery && s.wake != nil {
		s.uncopied = 0
		select {
		case s.wake <- struct{}{}:
		default: // a checkpoint is running and one is already asked for
		}
	}
	s.mu.Unlock()
	if due {
		// The events are stored; stale statistics are no reason to have
		// them sent again.
		_ = s.analyze(ctx)
	}
	return nil
}

func (s *Store) insertTx(ctx context.Context, events []event.Event) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Rows this transaction inserts get num above the current maximum
	// (there is one writer): the text index is given those.
	var maxNum int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(num), 0) FROM events").Scan(&maxNum); err != nil {
		return err
	}
	many, one := tx.StmtContext(ctx, s.insertMany), tx.StmtContext(ctx, s.insertOne)
	var (
		buf  []byte
		args = make([]any, 0, insertColumns*insertRows)
	)
	for i := 0; i < len(events); {
		stmt, n := many, insertRows
		if len(events)-i < insertRows {
			stmt, n = one, 1
		}
		args = args[:0]
		for j := i; j < i+n; j++ {
			r := sqlcommon.NewRow(&events[j], buf[:0])
			buf = r.Doc
			var addr any // NULL when the event's ip is not an address
			if r.Addr.IsValid() {
				addr = ipBin(r.Addr)
			}
			args = append(args, r.ID, r.Time.UnixMicro(), r.Action, r.Area, r.Outcome, r.Severity,
				r.ActorID, r.ActorName, r.TargetType, r.TargetID, r.TargetName,
				r.Country, r.IP, addr, r.Description, r.App, r.Rule, r.Seq, string(r.Doc))
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			if n == 1 {
				return fmt.Errorf("event %q: %w", events[i].ID, err)
			}
			return fmt.Errorf("events %q to %q: %w", events[i].ID, events[i+n-1].ID, err)
		}
		i += n
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events_fts (rowid, `+ftsColumns+`)
		SELECT num, `+ftsColumns+` FROM events WHERE num > ?`, maxNum); err != nil {
		return fmt.Errorf("indexing text: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events_keys (rowid, target_id, target_name)
		SELECT num, `+keyColumns+` FROM events WHERE num > ?`, maxNum); err != nil {
		return fmt.Errorf("indexing targets: %w", err)
	}
	return tx.Commit()
}

// insertColumns are the columns insertSQL fills.
const insertColumns = 19

// insertSQL is the INSERT of n rows.
func insertSQL(n int) string {
	row := "(?" + strings.Repeat(", ?", insertColumns-1) + ")"
	return `INSERT OR IGNORE INTO events
		(id, time, action, area, outcome, severity, actor_id, actor_name, target_type, target_id, target_name,
		 country, ip, ip_bin, description, app, rule, seq, doc)
		VALUES ` + row + strings.Repeat(", "+row, n-1)
}

// classify marks the errors that are about the data or the schema, which a
// retry cannot fix, as store.Rejected. Busy, full, I/O and interrupted are
// left as they are.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE, sqlite3.SQLITE_ERROR:
		return store.Rejected(err)
	}
	return err
}

// where builds the conditions for f. paging says the query reads newest
// first and stops at a page's end.
func (s *Store) where(ctx context.Context, f store.Filter, paging bool) (*sqlcommon.Where, error) {
	w := &sqlcommon.Where{Placeholder: func(int) string { return "?" }}
	eq := f
	eq.Target.ID, eq.Target.Name = "", "" // below, with events_keys
	w.Equality(eq)
	if !f.From.IsZero() {
		w.Add("time >= ?", store.CeilMicro(f.From).UnixMicro())
	}
	if !f.To.IsZero() {
		w.Add("time < ?", store.CeilMicro(f.To).UnixMicro())
	}
	if f.IP != nil {
		if !f.IP.IsValid() {
			return nil, fmt.Errorf("filtering by IP: invalid prefix %v", *f.IP)
		}
		lo, hi, v4 := sqlcommon.IPRange(*f.IP)
		w.Add("ip_bin BETWEEN ? AND ?", lo[:], hi[:])
		if v4 {
			w.Add("ip_bin NOT BETWEEN ? AND ?", sqlcommon.V4Lo[:], sqlcommon.V4Hi[:])
		}
	}
	match, short := textQuery(f.Text)
	for _, word := range short {
		// The trigram index finds words of three characters or more; a
		// shorter one is compared with LIKE, row by row, among the rows
		// the other conditions leave.
		p := sqlcommon.LikePattern(word)
		w.Add(`(description LIKE ? ESCAPE '\' OR actor_id LIKE ? ESCAPE '\' OR actor_name LIKE ? ESCAPE '\'`+
			` OR target_id LIKE ? ESCAPE '\' OR target_name LIKE ? ESCAPE '\')`, p, p, p, p, p)
	}
	if match != "" {
		common, err := s.common(ctx, "events_fts", match)
		if err != nil {
			return nil, err
		}
		// For a few matches, the best plan fetches each and sorts them.
		// For many (a word like "invoice" in a tenth of a million
		// events), fetching them all costs far more than walking an index
		// newest first (time's, or another condition's) and testing each
		// row against the set of matches; "+num" keeps SQLite from
		// choosing the fetch.
		col := "num"
		if common {
			col = "+num"
		}
		w.Add(col+" IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ?)", match)
	}
	if keys := keysQuery(f.Target); keys != "" {
		// events_keys finds the rows, the columns' comparison makes it
		// exact. Fetching every match and sorting them makes a page of a
		// target with many events slow, where walking the time index
		// newest first finds the page's events soon; so for many matches,
		// "+num" and likely() (SQLite takes an equality on a column
		// without an index for a rare one) lead the planner there. A count
		// or facets read every match anyway, and fetching them costs less
		// than testing every row.
		common := false
		if paging {
			var err error
			if common, err = s.common(ctx, "events_keys", keys); err != nil {
				return nil, err
			}
		}
		col, eq := "num", "%s = ?"
		if common {
			col, eq = "+num", "likely(%s = ?)"
		}
		for _, c := range []struct{ col, v string }{{"target_id", f.Target.ID}, {"target_name", f.Target.Name}} {
			if c.v != "" {
				w.Add(fmt.Sprintf(eq, c.col), sqlcommon.Clean(c.v))
			}
		}
		w.Add(col+" IN (SELECT rowid FROM events_keys WHERE events_keys MATCH ?)", keys)
	}
	return w, nil
}

// keysQuery is the events_keys query for the target id and name t holds,
// "" when it holds neither.
func keysQuery(t store.Target) string {
	var terms []string
	for _, c := range []struct{ col, v string }{{"target_id", t.ID}, {"target_name", t.Name}} {
		if c.v != "" {
			terms = append(terms, c.col+` : "`+keyToken(sqlcommon.Clean(c.v))+`"`)
		}
	}
	return strings.Join(terms, " AND ")
}

// keyToken is v's events_keys token, as keyColumns makes it.
func keyToken(v string) string {
	t := strings.ToUpper(hex.EncodeToString([]byte(v)))
	return t[:min(len(t), keyTokenMax)]
}

// textQuery splits Filter.Text into the FTS5 query for the words of three
// characters or more (each a quoted string, all of them required) and the
// shorter words.
func textQuery(text string) (match string, short []string) {
	var quoted []string
	for _, word := range store.Words(text) {
		if utf8.RuneCountInString(word) < 3 {
			short = append(short, word)
			continue
		}
		quoted = append(quoted, `"`+strings.ReplaceAll(sqlcommon.Clean(word), `"`, `""`)+`"`)
	}
	return strings.Join(quoted, " AND "), short
}

// commonMatches is the count of text or target matches above which where
// lets SQLite walk an index instead of fetching every match.
var commonMatches = 5000

// common reports whether the query match of the FTS5 table has more than
// commonMatches matches. The index stops counting there, so this costs
// little whatever the answer.
func (s *Store) common(ctx context.Context, table, match string) (bool, error) {
	var n int
	err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+table+" WHERE "+table+" MATCH ? LIMIT ?)",
		match, commonMatches+1).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("searching %s: %w", table, err)
	}
	return n > commonMatches, nil
}

// Query returns one page, newest first.
func (s *Store) Query(ctx context.Context, f store.Filter, p store.Page) (store.Result, error) {
	return sqlcommon.Query(ctx, f, p, s.page)
}

// Each streams every matching event, newest first.
func (s *Store) Each(ctx context.Context, f store.Filter, fn func(*event.Event) error) error {
	return sqlcommon.Each(ctx, f, fn, s.page)
}

// page is the sqlcommon.PageFunc of this engine.
func (s *Store) page(ctx context.Context, f store.Filter, after *store.Position, n int, fn func(store.Position, *event.Event) error) (int, error) {
	w, err := s.where(ctx, f, true)
	if err != nil {
		return 0, err
	}
	if after != nil {
		// time <= t alone is what the time-ordered indexes can seek to;
		// the OR settles the events of the same microsecond.
		t := after.Time.UnixMicro()
		w.Add("time <= ? AND (time < ? OR id < ?)", t, t, after.ID)
	}
	q := "SELECT time, id, doc FROM events" + w.Clause() + " ORDER BY time DESC, id DESC LIMIT " + w.Arg(n)
	rows, err := s.r.QueryContext(ctx, q, w.Args()...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		read int
		ev   event.Event
		doc  []byte
		us   int64
		id   string
	)
	for rows.Next() {
		if err := rows.Scan(&us, &id, &doc); err != nil {
			return read, err
		}
		if err := sqlcommon.Decode(doc, &ev); err != nil {
			return read, fmt.Errorf("event %q: %w", id, err)
		}
		read++
		if err := fn(store.Position{Time: time.UnixMicro(us).UTC(), ID: id}, &ev); err != nil {
			return read, err
		}
	}
	return read, rows.Err()
}

// Count returns how many events match f.
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	q := "SELECT count(*) FROM events"
	var args []any
	if match, short := textQuery(f.Text); match != "" && len(short) == 0 && onlyText(f) {
		// Every event is in the text index once: count there.
		q, args = "SELECT count(*) FROM events_fts WHERE events_fts MATCH ?", []any{match}
	} else {
		w, err := s.where(ctx, f, false)
		if err != nil {
			return 0, fmt.Errorf("counting events: %w", err)
		}
		q, args = q+w.Clause(), w.Args()
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting events: %w", err)
	}
	return n, nil
}

// Get returns the event with the id.
func (s *Store) Get(ctx context.Context, id string) (event.Event, error) {
	var doc []byte
	err := s.r.QueryRowContext(ctx, "SELECT doc FROM events WHERE id = ?", sqlcommon.Clean(id)).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return event.Event{}, fmt.Errorf("getting event %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return event.Event{}, fmt.Errorf("getting event %q: %w", id, err)
	}
	var ev event.Event
	if err := sqlcommon.Decode(doc, &ev); err != nil {
		return event.Event{}, fmt.Errorf("getting event %q: %w", id, err)
	}
	return ev, nil
}

// Facets counts the distinct values of field among the matching events.
func (s *Store) Facets(ctx context.Context, f store.Filter, field store.FacetField, limit int) ([]store.Facet, error) {
	col := sqlcommon.FacetColumn(field)
	if col == "" {
		return nil, fmt.Errorf("counting facets: unknown field %q", field)
	}
	w, err := s.where(ctx, f, false)
	if err != nil {
		return nil, fmt.Errorf("counting %s facets: %w", field, err)
	}
	w.Add(col + " <> ''")
	label := "''"
	if field == store.FacetActor {
		label = "max(actor_name)"
	}
	q := "SELECT " + col + " AS value, " + label + ", count(*) AS n FROM events" + w.Clause() +
		" GROUP BY value ORDER BY n DESC, value LIMIT " + w.Arg(store.FacetLimit(limit))
	rows, err := s.r.QueryContext(ctx, q, w.Args()...)
	if err != nil {
		return nil, fmt.Errorf("counting %s facets: %w", field, err)
	}
	defer rows.Close()
	out, err := sqlcommon.Facets(rows)
	if err != nil {
		return nil, fmt.Errorf("counting %s facets: %w", field, err)
	}
	return out, nil
}

// ftsColumns are the columns of events_fts, named as in events.
const ftsColumns = "description, actor_id, actor_name, target_id, target_name"

// purgeChunk is how many events one transaction of Purge removes, so that
// inserts get the writer between chunks instead of waiting for the whole
// purge.
const purgeChunk = 5000

// Purge deletes the events older than before.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	t := store.CeilMicro(before).UnixMicro()
	var total int64
	for {
		n, err := s.purgeChunk(ctx, t)
		total += n
		if err != nil {
			return total, fmt.Errorf("purging events before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		if n < purgeChunk {
			return total, nil
		}
	}
}

// purgeChunk deletes up to purgeChunk events older than t (unix
// microseconds) and their text index entries, in one transaction.
func (s *Store) purgeChunk(ctx context.Context, t int64) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// The same rows twice: the writer is alone in its transaction.
	const chunk = "num IN (SELECT num FROM events WHERE time < ? ORDER BY time, num LIMIT ?)"
	// An external-content index forgets a row when told its old values.
	if _, err := tx.ExecContext(ctx, `INSERT INTO events_fts (events_fts, rowid, `+ftsColumns+`)
		SELECT 'delete', num, `+ftsColumns+` FROM events WHERE `+chunk, t, purgeChunk); err != nil {
		return 0, fmt.Errorf("unindexing text: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM events_keys WHERE rowid IN (SELECT num FROM events WHERE "+chunk+")", t, purgeChunk); err != nil {
		return 0, fmt.Errorf("unindexing targets: %w", err)
	}
	res, err := tx.ExecContext(ctx, "DELETE FROM events WHERE "+chunk, t, purgeChunk)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// onlyText reports whether Text is the only field of f that is set.
func onlyText(f store.Filter) bool {
	f.Text = ""
	return len(f.Actors) == 0 && len(f.Actions) == 0 && len(f.Areas) == 0 && f.Target == store.Target{} &&
		f.Outcome == "" && len(f.Countries) == 0 && f.IP == nil && f.From.IsZero() && f.To.IsZero() &&
		f.AfterSeq == 0 && f.OwnActor == ""
}

// ipBin is the 16-byte form of a for the ip_bin column.
func ipBin(a netip.Addr) []byte {
	b := a.As16()
	return b[:]
}
