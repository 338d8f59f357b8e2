package sqlcommon

import "github.com/auditproxy/auditproxy/store"

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
