// Package rules turns a rules file into a compiled Set that recognises
// exchanges and builds the meaning of their audit events: action,
// description, area, severity, outcome, actor, target and changes.
package rules

import (
	"net/http"

	"github.com/auditproxy/auditproxy/identity"

	"github.com/auditproxy/auditproxy/event"
)

// Set is a validated, compiled rules file. It is immutable and safe for
// concurrent use; reloading builds a new Set.
type Set struct {
	File         string
	Warnings     Errors // problems that do not stop the rules from loading
	rules        []*Rule
	index        *index
	defaultActor party
	redact       redactor
	authProxy    authProxy
	tokens       tokenSource
	lookup       []source // identities.lookup: slots for identity.*
	bindings     *identity.Bindings
}

// Rules returns the rules in file order.
func (s *Set) Rules() []*Rule { return s.rules }

// Interest is what the set wants from a request, known from its head.
type Interest struct {
	Record       bool // some rule could match
	RequestBody  bool // a candidate reads the request body
	ResponseBody bool // a candidate reads the response body
	// ResponseHeader: a candidate reads a response header or cookie (or
	// the body).
	ResponseHeader bool
	Before         string // path to pre-fetch for a candidate's from values; "" for none
	Critical       bool   // a candidate has delivery: critical
}

// Interest runs on the request path for every request: an index lookup on
// method and path, nothing that grows with the number of rules.
func (s *Set) Interest(r *http.Request) Interest {
	var buf [16]int
	var in Interest
	for _, i := range s.index.candidates(buf[:0], r.Method, r.URL.Path) {
		rule := s.rules[i]
		in.Record = true
		in.RequestBody = in.RequestBody || rule.needsRequestBody
		in.ResponseBody = in.ResponseBody || rule.needsResponseBody
		in.ResponseHeader = in.ResponseHeader || rule.needsResponseHeader
		in.Critical = in.Critical || rule.Critical
		if in.Before == "" && rule.before != nil {
			in.Before = rule.beforePath(r)
		}
	}
	return in
}

// Match returns the first rule, in file order, that matches the exchange,
// and the path parameters it bound.
func (s *Set) Match(x *event.Exchange) (*Rule, params) {
	v := view{set: s, x: x}
	var buf [16]int
	for _, i := range s.index.candidates(buf[:0], x.Method, x.Path) {
		if r, ps, ok := s.try(&v, i); ok {
			return r, ps
		}
	}
	return nil, nil
}

func (s *Set) try(v *view, i int) (*Rule, params, bool) {
	r := s.rules[i]
	var ps params
	if r.hasPath {
		var ok bool
		if ps, ok = r.path.params(v.x.Path); !ok {
			return nil, nil, false
		}
	}
	if !r.conditions(v, nil) {
		return nil, nil, false
	}
	return r, ps, true
}

// Build returns the events the exchange yields under this set: one for the
// first matching rule, and one more for each later match while the rules
// matched so far say continue. None when no rule matches. Each event carries
// the rule's meaning; time, source, http and id are left for enrichment.
func (s *Set) Build(x *event.Exchange) []event.Event {
	return s.AppendEvents(nil, x)
}

// AppendEvents is Build appending to evs: a caller that batches events
// builds them in place.
func (s *Set) AppendEvents(evs []event.Event, x *event.Exchange) []event.Event {
	v := view{set: s, x: x}
	var buf [16]int
	for _, i := range s.index.candidates(buf[:0], x.Method, x.Path) {
		r, ps, ok := s.try(&v, i)
		if !ok {
			continue
		}
		evs = append(evs, event.Event{})
		b := builder{view: &v, rule: r, params: ps, ev: &evs[len(evs)-1]}
		b.build()
		if !r.Continue {
			break
		}
	}
	return evs
}

// Trace says what one rule made of one exchange, for rule authors.
type Trace struct {
	Rule    *Rule
	Matched bool         // the rule matched (whether or not an earlier match stopped it from emitting)
	Emitted bool         // the rule produced an event
	Why     []string     // for a non-match: every condition that failed
	Values  []TraceValue // for an emitting rule: every value extracted
}

// TraceValue is one value a rule extracted.
type TraceValue struct {
	Field   string // actor.id, target.name, changes.email, description ...
	Source  string // where it came from: jwt.sub, template, literal, request.body
	Value   string
	Missing bool // the source had no value
}

// Explain evaluates every rule against the exchange, in file order, saying
// why each one matched or not, and returns the events Build would.
func (s *Set) Explain(x *event.Exchange) ([]Trace, []event.Event) {
	v := view{set: s, x: x}
	traces := make([]Trace, len(s.rules))
	var evs []event.Event
	emitting := true
	for i, r := range s.rules {
		t := &traces[i]
		t.Rule = r
		if len(r.methods) > 0 && !containsString(r.methods, x.Method) {
			t.Why = append(t.Why, "method "+x.Method+" is not "+quoteAll(r.methods))
		}
		var ps params
		if r.hasPath {
			var ok bool
			if ps, ok = r.path.match(x.Path, r.trailingSlash); !ok {
				t.Why = append(t.Why, "path "+x.Path+" does not fit "+r.path.text)
			}
		}
		r.conditions(&v, &t.Why)
		t.Matched = len(t.Why) == 0
		if !t.Matched || !emitting {
			continue
		}
		t.Emitted = true
		evs = append(evs, event.Event{})
		b := builder{view: &v, rule: r, params: ps, ev: &evs[len(evs)-1], trace: &t.Values}
		b.build()
		emitting = r.Continue
	}
	return traces, evs
}

// beforePath renders the rule's pre-fetch path from the request head.
func (r *Rule) beforePath(req *http.Request) string {
	ps, _ := r.path.params(req.URL.Path)
	x := &event.Exchange{Path: req.URL.Path, RawQuery: req.URL.RawQuery, RequestHeader: req.Header}
	b := builder{view: &view{set: &Set{}, x: x}, rule: r, params: ps, ev: &event.Event{}}
	return b.render(r.before.get)
}
