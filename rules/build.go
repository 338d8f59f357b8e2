package rules

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/auditproxy/auditproxy/event"
)

// builder fills in one event for one matched rule.
type builder struct {
	*view
	rule   *Rule
	params params
	ev     *event.Event
	trace  *[]TraceValue // when explaining: every value extracted
}

func (b *builder) warn(msg string) {
	if msg == "" {
		return
	}
	for _, w := range b.ev.Warnings {
		if w == msg {
			return
		}
	}
	b.ev.Warnings = append(b.ev.Warnings, msg)
}

// source reads one source, with redaction applied by the source's name and
// by value patterns.
func (b *builder) source(s *source) value {
	v := b.rawSource(s)
	if !v.ok {
		return v
	}
	red := &b.set.redact
	if s.sensitive {
		return stringValue(event.Filtered)
	}
	if v.raw != nil && (v.raw[0] == '{' || v.raw[0] == '[') {
		raw := red.json(v.raw)
		return value{ok: true, str: string(raw), raw: raw}
	}
	if s := red.text(v.str); s != v.str {
		return stringValue(s)
	}
	return v
}

func (b *builder) rawSource(s *source) value {
	x := b.x
	switch s.kind {
	case srcPath:
		if v, ok := b.params.get(s.key); ok {
			return stringValue(v)
		}
	case srcQuery:
		if vs, ok := b.queryValues()[s.key]; ok && len(vs) > 0 {
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
		body := b.requestBody()
		b.warn(body.problem("request"))
		return body.get(s.key)
	case srcResponseBody:
		body := b.responseBody()
		b.warn(body.problem("response"))
		return body.get(s.key)
	case srcJWT:
		return b.claim(s.key)
	case srcIdentity:
		if id, ok := b.identityOf(); ok {
			if s.key == "id" && id.ID != "" {
				return stringValue(id.ID)
			}
			if s.key == "name" && id.Name != "" {
				return stringValue(id.Name)
			}
		}
	case srcBasicUser:
		if u := basicUser(x.RequestHeader); u != "" {
			return stringValue(u)
		}
	case srcClientIP:
		if x.ClientIP != "" {
			return stringValue(x.ClientIP)
		}
	case srcResponseCookie:
		for _, c := range (&http.Response{Header: x.ResponseHeader}).Cookies() {
			if c.Name == s.key {
				return stringValue(c.Value)
			}
		}
	case srcTLS:
		if v := tlsField(x.ClientCert, s.key); v != "" {
			return stringValue(v)
		}
	case srcAuthProxyUser:
		if u := b.set.authProxy.user(x); u != "" {
			return stringValue(u)
		}
	}
	return value{}
}

func tlsField(c *event.ClientCert, name string) string {
	if c == nil {
		return ""
	}
	first := func(vs []string) string {
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	switch name {
	case "subject":
		return c.Subject
	case "cn":
		return c.CommonName
	case "issuer":
		return c.Issuer
	case "serial":
		return c.SerialNumber
	case "email":
		return first(c.EmailAddresses)
	case "dns":
		return first(c.DNSNames)
	}
	return ""
}

// eval evaluates one alternative of a fallback chain.
func (b *builder) eval(e expr) string {
	switch {
	case e.src != nil:
		return b.source(e.src).str
	case e.tmpl != nil:
		return b.render(e.tmpl)
	}
	return e.lit
}

// text evaluates an expr to the string an event field holds; field names
// it for Explain.
func (b *builder) text(field string, e expr) string {
	if !e.set() {
		return ""
	}
	var s string
	switch {
	case len(e.alts) > 0:
		for _, a := range e.alts {
			if s = b.eval(a); s != "" {
				break
			}
		}
	case e.src != nil:
		s = b.source(e.src).str
	case e.tmpl != nil:
		s = b.render(e.tmpl)
	default:
		s = e.lit
	}
	if b.trace != nil {
		*b.trace = append(*b.trace, TraceValue{Field: field, Source: e.String(), Value: s, Missing: s == ""})
	}
	return s
}

func (b *builder) render(t *template) string {
	var sb strings.Builder
	for _, p := range t.parts {
		var s string
		switch {
		case p.src != nil:
			if v := b.source(p.src); v.ok {
				s = v.str
			}
		case p.field != fieldNone:
			s = b.field(p.field)
		default:
			sb.WriteString(p.lit)
			continue
		}
		if s == "" {
			s = missingValue
		}
		sb.WriteString(s)
	}
	return b.set.redact.text(sb.String())
}

func (b *builder) field(f eventField) string {
	ev := b.ev
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

// build fills in the rule's part of the event: everything but the time,
// source, http and id, which enrichment adds.
func (b *builder) build() {
	r, ev := b.rule, b.ev
	ev.Rule = r.Name
	ev.Action = r.Action
	ev.Area = r.Area
	ev.Severity = r.Severity
	ev.Outcome = r.Outcome
	if ev.Outcome == "" {
		ev.Outcome = outcomeOf(b.x)
	}
	actor := r.actor
	if !actor.set() {
		actor = b.set.defaultActor
	}
	ev.Actor = event.Actor{
		ID:   b.text("actor.id", actor.id),
		Name: b.text("actor.name", actor.name),
		Type: b.text("actor.type", actor.typ),
	}
	ev.Target = event.Target{
		Type: b.text("target.type", r.target.typ),
		ID:   b.text("target.id", r.target.id),
		Name: b.text("target.name", r.target.name),
	}
	if r.changes.set() {
		b.changes()
	}
	if len(r.bind) > 0 || len(r.unbind) > 0 {
		b.learn()
	}
	if r.description != nil {
		ev.Description = b.render(r.description)
		if b.trace != nil {
			*b.trace = append(*b.trace, TraceValue{Field: "description", Source: "template", Value: ev.Description})
		}
	}
}

// changes fills ev.Changes from the request body: to values always; from
// values when the rule pre-fetched the previous state, in which case only
// fields whose value differs are kept.
func (b *builder) changes() {
	r := b.rule
	body := b.requestBody()
	b.warn(body.problem("request"))
	var fields []field
	if r.changes.all {
		fields = body.flatten()
		for i := range fields {
			fields[i].sensitive = b.set.redact.sensitive(fields[i].name)
		}
	} else {
		fields = make([]field, 0, len(r.changes.fields))
		for i, name := range r.changes.fields {
			if v := body.get(name); v.ok {
				fields = append(fields, field{name: name, raw: v.json(), sensitive: r.changes.sensitive[i]})
			}
		}
	}
	var prev *parsedBody
	if r.before != nil {
		prev = b.previousState()
	}
	red := &b.set.redact
	b.ev.Changes = slices.Grow(b.ev.Changes, len(fields))
	for _, f := range fields {
		if containsString(r.changes.exclude, f.name) {
			continue
		}
		c := event.Change{Field: f.name, To: f.raw}
		if prev != nil {
			if old := prev.get(gjsonEscape(f.name)); old.ok {
				if jsonEqual(old.json(), f.raw) {
					continue // unchanged
				}
				c.From = old.json()
			} else {
				c.From = json.RawMessage("null") // the field did not exist before
			}
		}
		if f.sensitive {
			c.To = filteredJSON
			if c.From != nil && string(c.From) != "null" { // "did not exist" is no secret
				c.From = filteredJSON
			}
		} else {
			c.To = red.json(c.To)
			if c.From != nil {
				c.From = red.json(c.From)
			}
		}
		b.ev.Changes = append(b.ev.Changes, c)
		if b.trace != nil {
			*b.trace = append(*b.trace, TraceValue{Field: "changes." + f.name, Source: "request.body", Value: string(c.To)})
		}
	}
}

// previousState returns the pre-fetched state, or nil (with a warning)
// when it is not usable.
func (b *builder) previousState() *parsedBody {
	x := b.x
	switch {
	case !x.Before.Captured:
		b.warn("before: no previous state was fetched; changes carry no from values")
		return nil
	case x.BeforeError != "":
		b.warn("before: fetching the previous state failed (" + x.BeforeError + "); changes carry no from values")
		return nil
	}
	prev := b.beforeBody()
	if p := prev.problem("before"); p != "" || prev.kind != bodyJSON {
		if p == "" {
			p = "before body is not a JSON object"
		}
		b.warn(p + "; changes carry no from values")
		return nil
	}
	if sel := b.rule.before.selectPath; sel != "" {
		inner := gjson.GetBytes(prev.json, sel)
		if !inner.IsObject() {
			b.warn("before: " + sel + " is not an object in the previous state; changes carry no from values")
			return nil
		}
		return &parsedBody{kind: bodyJSON, json: []byte(inner.Raw)}
	}
	return prev
}

// jsonEqual compares two JSON values ignoring insignificant whitespace.
func jsonEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// gjsonEscape makes a flattened field name (a.b) usable as a gjson path
// while keeping the dots as separators: only gjson's other special
// characters are escaped.
func gjsonEscape(name string) string {
	if !strings.ContainsAny(name, `*?|#@!\`) {
		return name
	}
	var sb strings.Builder
	for _, c := range name {
		if strings.ContainsRune(`*?|#@!\`, c) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(c)
	}
	return sb.String()
}
