package discover

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/event"
)

const draftHeader = `# Draft audit rules, written by auditproxy's discovery mode from requests
# that changed state (or logged in) and that no rule matched.
#
# THIS IS A DRAFT: review every rule before you use it. Each rule is a guess
# at what requests to one endpoint mean (action, actor, target, changes),
# with the evidence above it: how often the endpoint was called, how it
# answered, sample values. Values of fields named like password, secret or
# token were never stored: they show as [FILTERED]. Rename actions to your
# own vocabulary, delete what is not worth an audit event, then move the
# rules into your rules file (after the rules already there) and run
# auditproxy check on it. The rules are ordered most specific first, as
# the first matching rule wins. This file is rewritten while discovery runs:
# edit a copy.
#
`

// WriteDraft writes a rules file (format v1) with one commented rule per
// endpoint, two for logins (failed, then successful). It always loads with
// rules.Parse.
func (d *Discoverer) WriteDraft(w io.Writer) error {
	eps := d.Endpoints()
	overflow := d.Overflow()
	slices.SortStableFunc(eps, specificFirst)

	var b bytes.Buffer
	b.WriteString(draftHeader)
	requests := 0
	for _, e := range eps {
		requests += e.Count
	}
	fmt.Fprintf(&b, "# %d endpoints from %d requests.\n", len(eps), requests)
	if overflow > 0 {
		fmt.Fprintf(&b, "# %d more requests went to endpoints beyond the limit of %d tracked: not included.\n", overflow, d.maxEndpoints)
	}
	b.WriteString("version: 1\n")
	if extra := d.extraRedactions(eps); len(extra) > 0 {
		b.WriteString("\n# Fields seen whose values are secrets, but that rules do not filter by default.\n")
		fmt.Fprintf(&b, "redact:\n  fields: [%s]\n", strings.Join(extra, ", "))
	}
	if slots := identitySlots(eps); len(slots) > 0 {
		b.WriteString("\n# Session cookies that later requests carry instead of a name: logins bind them\n")
		b.WriteString("# to the user (bind:), other rules read identity.id and identity.name.\n")
		fmt.Fprintf(&b, "identities:\n  lookup: [%s]\n\n", strings.Join(slots, ", "))
	}
	if len(eps) == 0 {
		b.WriteString("rules: []\n")
		_, err := w.Write(b.Bytes())
		return err
	}
	b.WriteString("rules:\n")
	names := map[string]bool{}
	for i := range eps {
		e := &eps[i]
		b.WriteByte('\n')
		writeEvidence(&b, e)
		if f := e.Suggest.Failure; f != nil {
			writeRule(&b, uniqueName(names, f.Action), e, f)
		}
		writeRule(&b, uniqueName(names, e.Suggest.Action), e, &e.Suggest)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// extraRedactions lists the field names this Discoverer filtered that
// rules would not: the draft's redact: section makes rules agree.
func (d *Discoverer) extraRedactions(eps []Endpoint) []string {
	var out []string
	for _, e := range eps {
		for _, fs := range [][]Field{e.Body, e.Params} {
			for _, f := range fs {
				if d.redact(f.Name) && !rulesRedact(normalizeName(f.Name)) && normalizeName(f.Name) != "" {
					out = append(out, scalar(f.Name))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// identitySlots lists the slots the draft's rules bind or look up.
func identitySlots(eps []Endpoint) []string {
	var slots []string
	for _, e := range eps {
		if s := e.Suggest.IdentitySlot; s != "" {
			slots = append(slots, scalar(s))
		}
		if b := e.Suggest.Bind; b != nil {
			slots = append(slots, scalar(b.Slot))
		}
	}
	slices.Sort(slots)
	return slices.Compact(slots)
}

// specificFirst orders endpoints so that no rule shadows a later one: where
// two templates differ first, a literal segment goes before a parameter, so
// /users/me comes before /users/{id}; on one template, more conditions go
// first.
func specificFirst(a, b Endpoint) int {
	for i := 0; i < len(a.pattern) && i < len(b.pattern); i++ {
		x, y := a.pattern[i], b.pattern[i]
		switch {
		case x == y:
			continue
		case x == param:
			return 1
		case y == param:
			return -1
		}
		return strings.Compare(x, y)
	}
	return cmp.Or(cmp.Compare(len(a.pattern), len(b.pattern)),
		cmp.Compare(len(b.Conditions), len(a.Conditions)),
		slices.CompareFunc(a.Conditions, b.Conditions, compareCondition),
		strings.Compare(a.Method, b.Method))
}

// writeEvidence writes what the rule is guessed from, as comments.
func writeEvidence(b *bytes.Buffer, e *Endpoint) {
	head := e.Method + " " + e.Template
	for _, c := range e.Conditions {
		head += " " + c.In + ":" + c.Name + "=" + c.Value
	}
	comment(b, "%s: %d %s, answered %s", clean(head), e.Count, plural1(e.Count, "request"), statuses(e.Statuses))
	comment(b, "  examples: %s", clean(strings.Join(e.Examples, "  ")))
	if len(e.BodyKinds) > 0 {
		comment(b, "  request body (%s): %s", clean(strings.Join(slices.Sorted(maps.Keys(e.BodyKinds)), ", ")), fields(e.Body))
	}
	if len(e.Params) > 0 {
		comment(b, "  query: %s", fields(e.Params))
	}
	if len(e.ResponseKeys) > 0 {
		comment(b, "  response body: %s", clean(strings.Join(e.ResponseKeys, ", ")))
	}
	if len(e.SetCookies) > 0 {
		comment(b, "  responses set cookies: %s", clean(strings.Join(e.SetCookies, ", ")))
	}
	if len(e.Credentials) > 0 {
		comment(b, "  caller: %s", fields(e.Credentials))
	}
	if e.OpaqueBearer > 0 {
		comment(b, "  bearer tokens that are not JWTs: %d", e.OpaqueBearer)
	}
	for _, n := range e.Suggest.Notes {
		for i, line := range wrap(clean(n), 90) {
			if i == 0 {
				comment(b, "  note: %s", line)
			} else {
				comment(b, "        %s", line)
			}
		}
	}
}

func writeRule(b *bytes.Buffer, name string, e *Endpoint, s *Suggestion) {
	fmt.Fprintf(b, "  - name: %s\n", scalar(name))
	match := []string{"method: " + e.Method, "path: " + strconv.Quote(e.Template)}
	for _, in := range []string{"query", "form", "body"} {
		var eqs []string
		for _, c := range e.Conditions {
			if c.In == in {
				eqs = append(eqs, scalar(c.Name)+": "+scalar(c.Value))
			}
		}
		if len(eqs) > 0 {
			match = append(match, in+": {"+strings.Join(eqs, ", ")+"}")
		}
	}
	if s.Status != "" {
		match = append(match, "status: "+s.Status)
	}
	fmt.Fprintf(b, "    match: {%s}\n", strings.Join(match, ", "))
	fmt.Fprintf(b, "    action: %s\n", scalar(s.Action))
	if s.Severity != "" {
		fmt.Fprintf(b, "    severity: %s\n", s.Severity)
	}
	if !s.Actor.empty() {
		fmt.Fprintf(b, "    actor: %s\n", party(s.Actor))
	}
	if !s.Target.empty() {
		fmt.Fprintf(b, "    target: %s\n", party(s.Target))
	}
	if len(s.Changes) > 0 {
		var cs []string
		for _, c := range s.Changes {
			cs = append(cs, scalar(c))
		}
		fmt.Fprintf(b, "    changes: [%s]\n", strings.Join(cs, ", "))
	}
	if bd := s.Bind; bd != nil {
		p := party(Party{ID: bd.ID, Name: bd.Name})
		fmt.Fprintf(b, "    bind:\n      - {slot: %s, key: %s, %s}\n", scalar(bd.Slot), scalar(bd.Key), p[1:len(p)-1])
	}
	if len(s.Unbind) > 0 {
		var us []string
		for _, u := range s.Unbind {
			us = append(us, scalar(u))
		}
		fmt.Fprintf(b, "    unbind: [%s]\n", strings.Join(us, ", "))
	}
}

func party(p Party) string {
	var kv []string
	for _, f := range [][2]string{{"type", p.Type}, {"id", p.ID}, {"name", p.Name}} {
		if f[1] != "" {
			kv = append(kv, f[0]+": "+scalar(f[1]))
		}
	}
	return "{" + strings.Join(kv, ", ") + "}"
}

// uniqueName derives a rule name from an action: user.logged_in ->
// user-logged-in, then user-logged-in-2, ...
func uniqueName(used map[string]bool, action string) string {
	base := strings.NewReplacer(".", "-", "_", "-").Replace(action)
	name := base
	for n := 2; used[name]; n++ {
		name = base + "-" + strconv.Itoa(n)
	}
	used[name] = true
	return name
}

func comment(b *bytes.Buffer, format string, args ...any) {
	b.WriteString("  # ")
	fmt.Fprintf(b, format, args...)
	b.WriteByte('\n')
}

func statuses(m map[int]int) string {
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d (%d)", code, m[code]))
	}
	return strings.Join(parts, ", ")
}

// fields shows fields with their samples: email "a@x.org", "b@y.org"; password [FILTERED].
func fields(fs []Field) string {
	if len(fs) == 0 {
		return "no fields"
	}
	var parts []string
	for _, f := range fs {
		parts = append(parts, clean(f.Name)+" "+strings.Join(quoteAll(f.Samples), ", "))
	}
	return strings.Join(parts, "; ")
}

// quoteSample shows a sample value in a comment, quoted so that its end and
// any unprintable character are visible; [FILTERED] stays bare.
func quoteSample(s string) string {
	if s == event.Filtered {
		return s
	}
	return strconv.Quote(strings.ToValidUTF8(s, "\uFFFD"))
}

// clean makes text safe in a comment line: anything unprintable, line
// breaks included, becomes '?'.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// scalar writes a YAML value: plain when it is a simple word YAML reads as
// a string, double-quoted otherwise (strconv.Quote's escapes are YAML's for
// valid UTF-8).
func scalar(s string) string {
	if plainScalar(s) {
		return s
	}
	return strconv.Quote(strings.ToValidUTF8(s, "\uFFFD"))
}

func plainScalar(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] == '_') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "null", "true", "false", "yes", "no", "on", "off", "y", "n":
		return false
	}
	return true
}

// wrap breaks text into lines of at most width bytes, at spaces, so that
// notes read as comments rather than one long line.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

func plural1(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
