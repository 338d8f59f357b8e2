package rules

import (
	"net/url"
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
	Line     int            // where the rule starts in its file
	Col      int

	methods []string // nil: any method
	hasPath bool
	path    pathTemplate
	status  statusSet
	query   []equality
	header  []equality

	description *template
	actor       party
	target      party
	changes     []string

	needsRequestBody  bool
	needsResponseBody bool
}

// party is an actor or a target: where each of its fields comes from.
type party struct {
	id, name, typ expr
}

func (p party) set() bool { return p.id.set() || p.name.set() || p.typ.set() }

// expr is where one event field comes from: a source (jwt.sub), a template
// with references ("{jwt.given} {jwt.family}"), or literal text (user).
type expr struct {
	lit  string
	src  *source
	tmpl *template
}

func (e expr) set() bool { return e.lit != "" || e.src != nil || e.tmpl != nil }

func (e expr) sources() []source {
	switch {
	case e.src != nil:
		return []source{*e.src}
	case e.tmpl != nil:
		return e.tmpl.sources()
	}
	return nil
}

// extraction evaluates one rule against one exchange, parsing what it needs
// (bodies, token claims, query) once and only when first asked.
type extraction struct {
	set    *Set
	rule   *Rule
	x      *event.Exchange
	params params
	ev     *event.Event

	query    url.Values
	reqBody  *parsedBody
	respBody *parsedBody
	claims   []byte
	claimsOK bool
}

func (c *extraction) warn(msg string) {
	for _, w := range c.ev.Warnings {
		if w == msg {
			return
		}
	}
	c.ev.Warnings = append(c.ev.Warnings, msg)
}

func (c *extraction) requestBody() *parsedBody {
	if c.reqBody == nil {
		b := parseBody(&c.x.RequestBody, c.x.RequestHeader)
		c.reqBody = &b
		if p := b.problem("request"); p != "" {
			c.warn(p)
		}
	}
	return c.reqBody
}

func (c *extraction) responseBody() *parsedBody {
	if c.respBody == nil {
		b := parseBody(&c.x.ResponseBody, c.x.ResponseHeader)
		c.respBody = &b
		if p := b.problem("response"); p != "" {
			c.warn(p)
		}
	}
	return c.respBody
}

// source reads one source, with redaction applied by the source's name.
func (c *extraction) source(s *source) value {
	v := c.rawSource(s)
	if v.ok && (c.set.redact.sensitive(s.leafName()) || (s.kind == srcJWT && c.set.redact.sensitive(s.key))) {
		return stringValue(event.Filtered)
	}
	if v.ok && v.raw != nil && (v.raw[0] == '{' || v.raw[0] == '[') {
		raw := c.set.redact.json(v.raw)
		return value{ok: true, str: string(raw), raw: raw}
	}
	return v
}

func (c *extraction) rawSource(s *source) value {
	x := c.x
	switch s.kind {
	case srcPath:
		if v, ok := c.params.get(s.key); ok {
			return stringValue(v)
		}
	case srcQuery:
		if c.query == nil {
			c.query, _ = url.ParseQuery(x.RawQuery)
		}
		if vs, ok := c.query[s.key]; ok && len(vs) > 0 {
			return stringValue(vs[0])
		}
	case srcHeader:
		if vs := x.RequestHeader.Values(s.key); len(vs) > 0 {
			return stringValue(vs[0])
		}
	case srcResponseHeader:
		if vs := x.ResponseHeader.Values(s.key); len(vs) > 0 {
			return stringValue(vs[0])
		}
	case srcCookie:
		if ck, err := cookieFrom(x.RequestHeader, s.key); err == nil {
			return stringValue(ck)
		}
	case srcRequestBody:
		return c.requestBody().get(s.key)
	case srcResponseBody:
		return c.responseBody().get(s.key)
	case srcJWT:
		if !c.claimsOK {
			c.claims, c.claimsOK = jwtClaims(bearerToken(x.RequestHeader)), true
		}
		if c.claims != nil {
			return jsonValue(gjsonGet(c.claims, s.key))
		}
	case srcBasicUser:
		if u := basicUser(x.RequestHeader); u != "" {
			return stringValue(u)
		}
	case srcClientIP:
		if x.ClientIP != "" {
			return stringValue(x.ClientIP)
		}
	}
	return value{}
}

// text evaluates an expr to the string an event field holds.
func (c *extraction) text(e expr) string {
	switch {
	case e.src != nil:
		return c.source(e.src).str
	case e.tmpl != nil:
		return c.render(e.tmpl)
	}
	return e.lit
}

func (c *extraction) render(t *template) string {
	var b strings.Builder
	for _, p := range t.parts {
		var s string
		switch {
		case p.src != nil:
			if v := c.source(p.src); v.ok {
				s = v.str
			}
		case p.field != fieldNone:
			s = c.field(p.field)
		default:
			b.WriteString(p.lit)
			continue
		}
		if s == "" {
			s = missingValue
		}
		b.WriteString(s)
	}
	return b.String()
}

func (c *extraction) field(f eventField) string {
	ev := c.ev
	switch f {
	case fieldActorID:
		return ev.Actor.ID
	case fieldActorName:
		return ev.Actor.Name
	case fieldActorType:
		return ev.Actor.Type
	case fieldTargetType:
		return ev.Target.Type
	case fieldTargetID:
		return ev.Target.ID
	case fieldTargetName:
		return ev.Target.Name
	case fieldAction:
		return ev.Action
	case fieldArea:
		return ev.Area
	case fieldRule:
		return ev.Rule
	}
	return ""
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

// build fills in the rule's part of the event: everything but the time,
// source, http and id, which enrichment adds.
func (c *extraction) build() {
	r, ev := c.rule, c.ev
	ev.Rule = r.Name
	ev.Action = r.Action
	ev.Area = r.Area
	ev.Severity = r.Severity
	ev.Outcome = r.Outcome
	if ev.Outcome == "" {
		ev.Outcome = outcomeOf(c.x)
	}
	actor := r.actor
	if !actor.set() {
		actor = c.set.defaultActor
	}
	ev.Actor = event.Actor{ID: c.text(actor.id), Name: c.text(actor.name), Type: c.text(actor.typ)}
	ev.Target = event.Target{Type: c.text(r.target.typ), ID: c.text(r.target.id), Name: c.text(r.target.name)}
	for _, field := range r.changes {
		v := c.requestBody().get(field)
		if !v.ok {
			continue // absent from the request: not changed
		}
		to := v.json()
		if c.set.redact.sensitive(field) {
			to = filteredJSON
		} else {
			to = c.set.redact.json(to)
		}
		ev.Changes = append(ev.Changes, event.Change{Field: field, To: to})
	}
	if r.description != nil {
		ev.Description = c.render(r.description)
	}
}
