package sqlcommon

import (
	"fmt"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// Rows is what the rows of a query have in both engines' drivers
// (database/sql's *sql.Rows, pgx's Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Facets reads the rows of a facet query, (value, label, count) each,
// leaving out a label that only repeats its value.
func Facets(rows Rows) ([]store.Facet, error) {
	var out []store.Facet
	for rows.Next() {
		var fc store.Facet
		if err := rows.Scan(&fc.Value, &fc.Label, &fc.Count); err != nil {
			return nil, err
		}
		if fc.Label == fc.Value {
			fc.Label = ""
		}
		out = append(out, fc)
	}
	return out, rows.Err()
}

// ChainRows reads one chunk of a chain-order query: each row scanned into
// dest (which holds seq, id and doc among the row's columns), its document
// decoded and handed to fn. It returns how many rows it read; a read
// error is wrapped, fn's error comes back as it is.
func ChainRows(rows Rows, dest []any, seq *int64, id *string, doc *[]byte, fn func(seq int64, ev *event.Event) error) (int, error) {
	var ev event.Event
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, fmt.Errorf("reading events in chain order: %w", err)
		}
		n++
		if err := Decode(*doc, &ev); err != nil {
			return n, fmt.Errorf("reading events in chain order: event %q: %w", *id, err)
		}
		if err := fn(*seq, &ev); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("reading events in chain order: %w", err)
	}
	return n, nil
}
