package rules

import (
	"fmt"
	"strings"
)

// Error is one problem in a rules file, located at the YAML node it concerns.
type Error struct {
	File string
	Line int
	Col  int
	Rule string // the rule's name, "" for problems outside a rule
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in file order. A file with
// three mistakes gets three messages.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}
