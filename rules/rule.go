package rules

import (
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

// Rule is one compiled rule: a match and the meaning of the event it builds.
type Rule struct {
	Name     string
	Action   string
	Area     string
	Severity event.Severity // never empty once loaded
	Outcome  event.Outcome  // "" means: from the status
	Continue bool           // after emitting, keep matching later rules
	// Critical (delivery: critical): the client gets the app's response
	// only once the event is durably in the local log, or a 503 when that
	// cannot be done.
	Critical bool
	Line     int // where the rule starts in its file
	Col      int

	methods       []string // nil: any method
	hasPath       bool
	path          pathTemplate
	trailingSlash bool // also match with one trailing slash
	hosts         []hostPattern
	status        statusSet
	contentTypes  []string
	conds         []condition

	description *template
	actor       party
	target      party
	changes     changeSpec
	before      *beforeSpec
	bind        []bindSpec
	unbind      []source

	needsRequestBody  bool
	needsResponseBody bool
	// needsResponseHeader: a source reads a response header or cookie, or
	// the response body (its header says how it is encoded).
	needsResponseHeader bool
}

// party is an actor or a target: where each of its fields comes from.
type party struct {
	id, name, typ expr
}

func (p party) set() bool { return p.id.set() || p.name.set() || p.typ.set() }

// expr is where one event field comes from: a source (jwt.sub), a template
// with references ("{jwt.given} {jwt.family}"), or literal text (user).
// A list of them is a fallback chain: the first with a value wins.
type expr struct {
	lit  string
	src  *source
	tmpl *template
	alts []expr
}

func (e expr) set() bool { return e.lit != "" || e.src != nil || e.tmpl != nil || len(e.alts) > 0 }

func (e expr) sources() []source {
	switch {
	case len(e.alts) > 0:
		var out []source
		for _, a := range e.alts {
			out = append(out, a.sources()...)
		}
		return out
	case e.src != nil:
		return []source{*e.src}
	case e.tmpl != nil:
		return e.tmpl.sources()
	}
	return nil
}

func (e expr) String() string {
	switch {
	case len(e.alts) > 0:
		names := make([]string, len(e.alts))
		for i, a := range e.alts {
			names[i] = a.String()
		}
		return strings.Join(names, " or ")
	case e.src != nil:
		return e.src.text
	case e.tmpl != nil:
		return "template"
	}
	return "literal"
}

// changeSpec says which request body fields are changes: a list of fields,
// or all of them (nested objects flattened to dotted names) but some.
type changeSpec struct {
	fields    []string
	sensitive []bool // fields[i] is a secret by name (markSensitive)
	all       bool
	exclude   []string
}

func (c changeSpec) set() bool { return len(c.fields) > 0 || c.all }

// beforeSpec asks the proxy to GET the current state before a change is
// forwarded, so changes carry real from -> to pairs.
type beforeSpec struct {
	get        *template // a path on the upstream; only head-time sources
	selectPath string    // gjson path of the object inside the answer; "" = the whole body
}

// outcomeOf maps the answer the client got to an outcome: 1xx-3xx success,
// 4xx-5xx failure, and failure when the upstream never answered.
func outcomeOf(x *event.Exchange) event.Outcome {
	switch {
	case x.UpstreamError != "":
		return event.OutcomeFailure
	case x.Status >= 100 && x.Status < 400:
		return event.OutcomeSuccess
	case x.Status >= 400 && x.Status < 600:
		return event.OutcomeFailure
	}
	return event.OutcomeUnknown
}
