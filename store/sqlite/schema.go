package sqlite

// schemaVersion is PRAGMA user_version once schema has run. A database with
// a higher version was made by a newer auditproxy and is not touched.
//
// 2: the target id and name are found through events_keys, not B-tree
// indexes (see below); migrate moves a version 1 database over.
const schemaVersion = 2

// schema creates the tables on a new database; on an existing one it does
// nothing.
//
// events holds one row per event: the columns the filters read, and doc,
// the native JSON, which is what reads return. num is the rowid made
// explicit, so VACUUM cannot renumber it: the full-text index refers to
// rows by it. It is the order events were stored in, which is not seq, the
// event's own place in its instance's hash chain (0 when chaining is off).
//
// Indexes: each filter column with time after it, so that "this actor's
// events, newest first" reads one index range in order and stops at the
// page's end; ip_bin (16 bytes, IPv4 mapped into IPv6) so that a CIDR is a
// BETWEEN; seq, to walk a chain in order; id's UNIQUE index is what
// INSERT OR IGNORE deduplicates on.
//
// events_keys finds the events of a target id or name: an FTS5 index with
// one token per value, the value's UTF-8 bytes in hex (keyToken), so that
// a match is the value itself, not a word of it; the column comparison
// (target_id = ?) stays in the query and settles what the 64 bytes a
// token keeps cannot. Not a B-tree index on (target_id, time) as for the
// other columns: target ids and names arrive in random order, so each row
// put a key on a page of its own in each of the two indexes: at a million
// events they were about half of the pages a batch of 10,000 wrote
// (docs/BENCHMARKS.md). FTS5 writes a batch's keys as one new sorted
// segment and merges segments in order, as a log-structured tree does. What
// the B-tree gave and this does not is the events of one target in time
// order: a page of a target with many events walks the time index instead
// (where, commonMatches), and a count reads each of its events. Contentless
// (the values are in events) with deletes, for Purge.
//
// events_fts is the free-text index: FTS5 with the trigram tokenizer over
// the searchable columns, so a word matches as a case-insensitive substring
// ("exam" finds "bob@example.com"), the same meaning PostgreSQL gives with
// pg_trgm. It is an external-content table: it stores the index only and
// reads the text from events. Insert and Purge keep it in step, one
// statement per batch. Not triggers: FTS5 flushes its pending index to a
// new segment at every statement a trigger runs, so a trigger made each
// row a segment and inserts ~50 times slower as the merges piled up.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	num         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	time        INTEGER NOT NULL, -- unix microseconds
	action      TEXT    NOT NULL,
	area        TEXT    NOT NULL,
	outcome     TEXT    NOT NULL,
	severity    TEXT    NOT NULL,
	actor_id    TEXT    NOT NULL,
	actor_name  TEXT    NOT NULL,
	target_type TEXT    NOT NULL,
	target_id   TEXT    NOT NULL,
	target_name TEXT    NOT NULL,
	country     TEXT    NOT NULL,
	ip          TEXT    NOT NULL, -- as the event has it
	ip_bin      BLOB,             -- 16 bytes; NULL when ip is not an address
	description TEXT    NOT NULL,
	app         TEXT    NOT NULL,
	rule        TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	doc         TEXT    NOT NULL  -- native JSON, the event as stored
);
CREATE INDEX IF NOT EXISTS events_time        ON events (time);
CREATE INDEX IF NOT EXISTS events_actor_id    ON events (actor_id, time);
CREATE INDEX IF NOT EXISTS events_actor_name  ON events (actor_name, time);
CREATE INDEX IF NOT EXISTS events_action      ON events (action, time);
CREATE INDEX IF NOT EXISTS events_area        ON events (area, time);
CREATE INDEX IF NOT EXISTS events_outcome     ON events (outcome, time);
CREATE INDEX IF NOT EXISTS events_country     ON events (country, time);
CREATE INDEX IF NOT EXISTS events_ip          ON events (ip_bin);
CREATE INDEX IF NOT EXISTS events_seq         ON events (seq);

CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
	description, actor_id, actor_name, target_id, target_name,
	content = 'events', content_rowid = 'num', tokenize = 'trigram'
);

CREATE VIRTUAL TABLE IF NOT EXISTS events_keys USING fts5(
	target_id, target_name,
	content = '', contentless_delete = 1, detail = column, tokenize = 'ascii'
);
`

// migrations bring a database of an older version to schemaVersion, after
// schema has run: migrations[v] is the step from version v. Version 0 is a
// new database, which schema made whole.
var migrations = map[int]string{
	1: `DROP INDEX IF EXISTS events_target_id;
DROP INDEX IF EXISTS events_target_name;
INSERT INTO events_keys (rowid, target_id, target_name) SELECT num, ` + keyColumns + ` FROM events;`,
}

// keyColumns are the tokens of a row of events for events_keys, in an
// INSERT ... SELECT: the hex of each target column's UTF-8 bytes (one
// token to the ascii tokenizer, whatever the value holds), at most
// keyTokenMax characters of it, so that a long value makes no long token.
// keyToken is the same in Go.
const keyColumns = "substr(hex(target_id), 1, 128), substr(hex(target_name), 1, 128)"

// keyTokenMax is the length of the longest events_keys token, the 128 in
// keyColumns: the first 64 bytes of a value.
const keyTokenMax = 128

// ftsSettings tune events_fts; migrate sets them on every open, so that a
// database made before a setting gets it too.
//
// automerge 16 instead of FTS5's 4: every Insert adds a segment to the
// index, and FTS5 merges segments of a level once this many are there, so
// each entry is rewritten once per level, log base automerge of the
// segment count. 16 halves the levels, and the merging that was a tenth of
// ingest. A search reads up to 16 segments a level instead of 4: at a
// million events storebench's text pages took 10 ms instead of 7 (a target
// id) and 48 instead of 38 (two words), far under the 200 ms asked.
const ftsSettings = `INSERT INTO events_fts (events_fts, rank) VALUES ('automerge', 16)`
