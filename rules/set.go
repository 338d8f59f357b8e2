// Package rules turns a rules file into a compiled Set that recognises
// exchanges and builds the meaning of their audit events: action,
// description, area, severity, outcome, actor, target and changes.
package rules

import (
	"net/url"

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
}

// Rules returns the rules in file order.
func (s *Set) Rules() []*Rule { return s.rules }

// Needs says, from the request head alone, whether any rule could match a
// request with this method and path, and which bodies the candidates need
// captured. It runs on the request path for every request.
func (s *Set) Needs(method, path string) (record, requestBody, responseBody bool) {
	var buf [16]int
	for _, i := range s.index.candidates(buf[:0], method, path) {
		r := s.rules[i]
		record = true
		requestBody = requestBody || r.needsRequestBody
		responseBody = responseBody || r.needsResponseBody
	}
	return record, requestBody, responseBody
}

// Match returns the first rule, in file order, that matches the exchange, and
// the path parameters it bound. Status conditions apply to answers from the
// upstream: when the upstream could not be reached, a rule that matches
// otherwise still matches, so the attempt is recorded (as a failure).
func (s *Set) Match(x *event.Exchange) (*Rule, params) {
	var buf [16]int
	var query url.Values
	for _, i := range s.index.candidates(buf[:0], x.Method, x.Path) {
		r := s.rules[i]
		var ps params
		if r.hasPath {
			var ok bool
			if ps, ok = r.path.params(x.Path); !ok {
				continue
			}
		}
		if x.UpstreamError == "" && !r.status.has(x.Status) {
			continue
		}
		if len(r.query) > 0 {
			if query == nil {
				query, _ = url.ParseQuery(x.RawQuery)
			}
			if !queryMatches(r.query, query) {
				continue
			}
		}
		if !headerMatches(r.header, x.RequestHeader) {
			continue
		}
		return r, ps
	}
	return nil, nil
}

// Build returns the events the exchange yields under this set: none when no
// rule matches. Each event carries the rule's meaning; time, source, http
// and id are left for enrichment.
func (s *Set) Build(x *event.Exchange) []event.Event {
	r, ps := s.Match(x)
	if r == nil {
		return nil
	}
	evs := make([]event.Event, 1)
	c := extraction{set: s, rule: r, x: x, params: ps, ev: &evs[0]}
	c.build()
	return evs
}
