// Package postgres is the store engine for several proxies sharing one
// trail: a PostgreSQL table through github.com/jackc/pgx/v5 (pgxpool).
// Every proxy writes its batches with one INSERT ... SELECT FROM unnest(...)
// ON CONFLICT (id) DO NOTHING; reads are plain indexed queries. The schema,
// its indexes and the text search are described in schema.go.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/sqlcommon"
)

func init() {
	store.RegisterEngine("postgres", func(ctx context.Context, dsn string) (store.Store, error) {
		return Open(ctx, dsn)
	})
}

// Store is an event table in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// TextIndexed reports whether the trigram index for text search exists
	// (pg_trgm could be created); without it text search scans.
	TextIndexed bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database dsn names (a URL or key=value pairs, as
// libpq takes them) and creates the table and indexes that are missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, errors.New("opening postgres store: the dsn does not parse (want postgres://user@host/db or host=... dbname=...)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres store on %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return s, nil
}

// schemaLock is the advisory lock key under which proxies starting
// together create the schema one after the other: CREATE ... IF NOT EXISTS
// run concurrently can still fail on the catalog's unique indexes.
const schemaLock = 0x6175646974 // "audit"

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	if _, err := tx.Exec(ctx, schema); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	// pg_trgm is optional: try it in a savepoint, so that a refusal
	// (no CREATE privilege, contrib not installed) leaves the rest.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	if _, err := sp.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm"); err == nil {
		if _, err := sp.Exec(ctx, textIndex); err != nil {
			return fmt.Errorf("creating the text index: %w", err)
		}
		s.TextIndexed = true
		if err := sp.Commit(ctx); err != nil {
			return fmt.Errorf("creating schema: %w", err)
		}
	} else if err := sp.Rollback(ctx); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("creating schema: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// insert takes one array per column and inserts a row per element.
const insert = `INSERT INTO ` + table + ` (id, time, action, area, outcome, severity, actor_id, actor_name,
	target_type, target_id, target_name, country, ip, ip_inet, description, app, rule, doc, seq)
SELECT id, time, action, area, outcome, severity, actor_id, actor_name,
	target_type, target_id, target_name, country, ip, NULLIF(ip_inet, '')::inet, description, app, rule, doc::json, seq
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
	$19::bigint[])
	AS u(id, time, action, area, outcome, severity, actor_id, actor_name,
	target_type, target_id, target_name, country, ip, ip_inet, description, app, rule, doc, seq)
ON CONFLICT (id) DO NOTHING`

// Insert adds the events in one statement; ids already stored are skipped.
func (s *Store) Insert(ctx context.Context, events []event.Event) error {
	if len(events) == 0 {
		return nil
	}
	const ncol = 18
	var cols [ncol][]string
	for i := range cols {
		cols[i] = make([]string, len(events))
	}
	times := make([]time.Time, len(events))
	seqs := make([]int64, len(events))
	for i := range events {
		r := sqlcommon.NewRow(&events[i], nil)
		times[i], seqs[i] = r.Time, r.Seq
		var addr string
		if r.Addr.IsValid() {
			addr = r.Addr.String()
		}
		for c, v := range []string{r.ID, "", r.Action, r.Area, r.Outcome, r.Severity, r.ActorID, r.ActorName,
			r.TargetType, r.TargetID, r.TargetName, r.Country, r.IP, addr, r.Description, r.App, r.Rule, string(r.Doc)} {
			cols[c][i] = v
		}
	}
	args := make([]any, ncol, ncol+1)
	for i := range cols {
		args[i] = cols[i]
	}
	args[1] = times
	args = append(args, seqs)
	if _, err := s.pool.Exec(ctx, insert, args...); err != nil {
		return fmt.Errorf("inserting %d events: %w", len(events), classify(err))
	}
	return nil
}

// classify marks the errors about the data or the schema (SQLSTATE
// classes 22 data exception, 23 integrity constraint, 42 syntax or access
// rule: a column missing, a table altered) as store.Rejected. Connection,
// resource and shutdown errors are left as they are, for a retry.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		case "22", "23", "42":
			return store.Rejected(err)
		}
	}
	return err
}

// where builds the conditions for f.
func where(f store.Filter) (*sqlcommon.Where, error) {
	w := &sqlcommon.Where{Placeholder: func(n int) string { return "$" + strconv.Itoa(n) }}
	w.Equality(f)
	if !f.From.IsZero() {
		w.Add("time >= ?", store.CeilMicro(f.From))
	}
	if !f.To.IsZero() {
		w.Add("time < ?", store.CeilMicro(f.To))
	}
	if f.IP != nil {
		if !f.IP.IsValid() {
			return nil, fmt.Errorf("filtering by IP: invalid prefix %v", *f.IP)
		}
		w.Add("ip_inet <<= ?::inet", sqlcommon.Unmapped(*f.IP).String())
	}
	for _, word := range store.Words(f.Text) {
		w.Add(searchExpr+" ILIKE ?", sqlcommon.LikePattern(word))
	}
	return w, nil
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
	w, err := where(f)
	if err != nil {
		return 0, err
	}
	if after != nil {
		w.Add("time <= ? AND (time < ? OR id < ?)", after.Time, after.Time, sqlcommon.Clean(after.ID))
	}
	q := "SELECT time, id, doc::text FROM " + table + w.Clause() + " ORDER BY time DESC, id DESC LIMIT " + w.Arg(n)
	rows, err := s.pool.Query(ctx, q, w.Args()...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var (
		read int
		ev   event.Event
		doc  []byte
		t    time.Time
		id   string
	)
	for rows.Next() {
		if err := rows.Scan(&t, &id, &doc); err != nil {
			return read, err
		}
		if err := sqlcommon.Decode(doc, &ev); err != nil {
			return read, fmt.Errorf("event %q: %w", id, err)
		}
		read++
		if err := fn(store.Position{Time: t.UTC(), ID: id}, &ev); err != nil {
			return read, err
		}
	}
	return read, rows.Err()
}

// Count returns how many events match f.
func (s *Store) Count(ctx context.Context, f store.Filter) (int64, error) {
	w, err := where(f)
	if err != nil {
		return 0, fmt.Errorf("counting events: %w", err)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+table+w.Clause(), w.Args()...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting events: %w", err)
	}
	return n, nil
}

// Get returns the event with the id.
func (s *Store) Get(ctx context.Context, id string) (event.Event, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, "SELECT doc::text FROM "+table+" WHERE id = $1", sqlcommon.Clean(id)).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
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
	w, err := where(f)
	if err != nil {
		return nil, fmt.Errorf("counting %s facets: %w", field, err)
	}
	w.Add(col + " <> ''")
	label := "''"
	if field == store.FacetActor {
		label = "max(actor_name)"
	}
	q := "SELECT " + col + " AS value, " + label + ", count(*) AS n FROM " + table + w.Clause() +
		" GROUP BY 1 ORDER BY n DESC, value LIMIT " + w.Arg(store.FacetLimit(limit))
	rows, err := s.pool.Query(ctx, q, w.Args()...)
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

// Purge deletes the events older than before. One statement: PostgreSQL's
// inserts do not wait for a delete of other rows.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, "DELETE FROM "+table+" WHERE time < $1", store.CeilMicro(before))
	if err != nil {
		return 0, fmt.Errorf("purging events before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}
