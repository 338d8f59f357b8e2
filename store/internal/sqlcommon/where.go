// Package sqlcommon is what the two SQL engines share: the columns an
// event is stored in (Row), the WHERE clause for the fields of store.Filter
// that are plain equality on a column, and decoding stored documents. Each
// engine adds what it spells its own way (time, IP ranges, text search).
package sqlcommon

import (
	"strings"

	"github.com/auditproxy/auditproxy/store"
)

// Where collects conditions joined with AND and their arguments.
type Where struct {
	// Placeholder spells the n-th argument (1-based): "?" for SQLite,
	// "$n" for PostgreSQL.
	Placeholder func(n int) string

	conds []string
	args  []any
}

// Add appends a condition in which each ? stands for the next of args. The
// condition must hold no other question mark.
func (w *Where) Add(cond string, args ...any) {
	if len(args) > 0 {
		var b strings.Builder
		for _, part := range strings.SplitAfter(cond, "?") {
			if strings.HasSuffix(part, "?") {
				w.args = append(w.args, nil) // reserve the number
				b.WriteString(part[:len(part)-1])
				b.WriteString(w.Placeholder(len(w.args)))
				continue
			}
			b.WriteString(part)
		}
		cond = b.String()
		copy(w.args[len(w.args)-len(args):], args)
	}
	w.conds = append(w.conds, cond)
}

// Arg appends an argument without a condition (a LIMIT, a cursor used in
// an ORDER BY) and returns its placeholder.
func (w *Where) Arg(v any) string {
	w.args = append(w.args, v)
	return w.Placeholder(len(w.args))
}

// Clause is " WHERE c1 AND c2 ..." or "" when there are no conditions.
func (w *Where) Clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// Args are the arguments in placeholder order.
func (w *Where) Args() []any { return w.args }

// Equality adds the fields of f that compare a column with a value: actors
// (by id or name), actions, areas, target, outcome, countries, the seq
// bound, and the OwnActor restriction, which is one more AND so nothing
// else can widen it.
func (w *Where) Equality(f store.Filter) {
	if len(f.Actors) > 0 {
		// Two IN lists, each answered by its column's index.
		w.Add("(" + w.inCond("actor_id", f.Actors) + " OR " + w.inCond("actor_name", f.Actors) + ")")
	}
	w.in("action", f.Actions)
	w.in("area", f.Areas)
	for _, c := range []struct{ col, v string }{
		{"target_type", f.Target.Type},
		{"target_id", f.Target.ID},
		{"target_name", f.Target.Name},
		{"outcome", f.Outcome},
	} {
		if c.v != "" {
			w.Add(c.col+" = ?", Clean(c.v))
		}
	}
	w.in("country", f.Countries)
	if f.AfterSeq != 0 {
		w.Add("seq > ?", f.AfterSeq)
	}
	if f.OwnActor != "" {
		a := Clean(f.OwnActor)
		w.Add("(actor_id = ? OR actor_name = ?)", a, a)
	}
}

func (w *Where) in(col string, values []string) {
	if len(values) > 0 {
		w.Add(w.inCond(col, values))
	}
}

// inCond appends values (at least one) as arguments and returns the
// condition that col is one of them: "col = $1" or "col IN ($1, $2)".
func (w *Where) inCond(col string, values []string) string {
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = w.Arg(Clean(v))
	}
	if len(ph) == 1 {
		return col + " = " + ph[0]
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")"
}

// LikePattern is %word% for a LIKE with ESCAPE '\': the word's own %, _ and
// \ match themselves.
func LikePattern(word string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(Clean(word)) + "%"
}

// FacetColumn is the SQL expression whose values a facet counts; for
// actors the id when there is one, else the name (what Filter.Actor
// matches).
func FacetColumn(f store.FacetField) string {
	switch f {
	case store.FacetAction:
		return "action"
	case store.FacetArea:
		return "area"
	case store.FacetActor:
		return "CASE WHEN actor_id <> '' THEN actor_id ELSE actor_name END"
	case store.FacetCountry:
		return "country"
	case store.FacetOutcome:
		return "outcome"
	}
	return ""
}
