package postgres

// table is the events table. The database may be shared with other
// software, so the names carry the product's prefix.
const table = "auditproxy_events"

// searchExpr is the text Filter.Text searches: the searchable columns, one
// per line, so that a word (which holds no line break) cannot match across
// two of them. Queries must spell it exactly so for the planner to use the
// index on it.
const searchExpr = `(description || E'\n' || actor_id || E'\n' || actor_name || E'\n' || target_id || E'\n' || target_name)`

// schema creates the table and its indexes where they are missing.
//
// Text columns use the "C" collation: ids, cursors and facet ties then
// sort by bytes, as in SQLite, whatever the database's locale. doc is json,
// not jsonb: jsonb reorders object keys (an event's changes keep the
// rule's order) and refuses \u0000, which json keeps as written. ip_inet is
// NULL when the event's ip is not an address; a btree on inet serves <<=
// (PostgreSQL turns it into a range).
const schema = `
CREATE TABLE IF NOT EXISTS ` + table + ` (
	id          text COLLATE "C" PRIMARY KEY,
	time        timestamptz NOT NULL,
	action      text COLLATE "C" NOT NULL,
	area        text COLLATE "C" NOT NULL,
	outcome     text COLLATE "C" NOT NULL,
	severity    text COLLATE "C" NOT NULL,
	actor_id    text COLLATE "C" NOT NULL,
	actor_name  text COLLATE "C" NOT NULL,
	target_type text COLLATE "C" NOT NULL,
	target_id   text COLLATE "C" NOT NULL,
	target_name text COLLATE "C" NOT NULL,
	country     text COLLATE "C" NOT NULL,
	ip          text NOT NULL,
	ip_inet     inet,
	description text NOT NULL,
	app         text NOT NULL,
	rule        text NOT NULL,
	seq         bigint NOT NULL, -- the event's place in its instance's hash chain, 0 when off
	doc         json NOT NULL
);
CREATE INDEX IF NOT EXISTS ` + table + `_time        ON ` + table + ` (time);
CREATE INDEX IF NOT EXISTS ` + table + `_actor_id    ON ` + table + ` (actor_id, time);
CREATE INDEX IF NOT EXISTS ` + table + `_actor_name  ON ` + table + ` (actor_name, time);
CREATE INDEX IF NOT EXISTS ` + table + `_action      ON ` + table + ` (action, time);
CREATE INDEX IF NOT EXISTS ` + table + `_area        ON ` + table + ` (area, time);
CREATE INDEX IF NOT EXISTS ` + table + `_target_id   ON ` + table + ` (target_id, time);
CREATE INDEX IF NOT EXISTS ` + table + `_target_name ON ` + table + ` (target_name, time);
CREATE INDEX IF NOT EXISTS ` + table + `_outcome     ON ` + table + ` (outcome, time);
CREATE INDEX IF NOT EXISTS ` + table + `_country     ON ` + table + ` (country, time);
CREATE INDEX IF NOT EXISTS ` + table + `_ip          ON ` + table + ` (ip_inet);
CREATE INDEX IF NOT EXISTS ` + table + `_seq         ON ` + table + ` (seq);
`

// textIndex is the trigram index for Filter.Text, made when the pg_trgm
// extension is there (it ships with PostgreSQL, in contrib, and a database
// owner may create it). GIN over trigrams serves ILIKE '%word%' for words
// of three characters or more, the same substring meaning SQLite's FTS5
// trigram index gives. Without it text search still works, by scanning
// the rows the other filters leave.
const textIndex = `CREATE INDEX IF NOT EXISTS ` + table + `_search ON ` + table + ` USING gin (` + searchExpr + ` gin_trgm_ops)`
