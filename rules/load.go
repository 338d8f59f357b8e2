package rules

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"net/netip"

	"gopkg.in/yaml.v3"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/identity"
)

// Load reads and compiles a rules file. On any problem it returns Errors
// listing every one found, each located file:line:col.
func Load(path string, opts ...Option) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading rules file: %w", err)
	}
	return Parse(path, data, opts...)
}

// Parse compiles rules from data; file names the source in messages, and
// key files the rules name are found relative to it.
func Parse(file string, data []byte, opts ...Option) (*Set, error) {
	l := &loader{file: file, opts: opts}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.yamlError(err)
		return nil, l.errs
	}
	if len(doc.Content) == 0 {
		l.errs = append(l.errs, &Error{File: file, Line: 1, Col: 1, Msg: "empty rules file: want version: 1 and rules:"})
		return nil, l.errs
	}
	set := l.file1(doc.Content[0])
	if set != nil && len(l.errs) == 0 {
		l.warns = append(l.warns, shadowed(set)...)
		set.markSensitive()
	}
	sortByPosition(l.errs)
	sortByPosition(l.warns)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	set.Warnings = l.warns
	return set, nil
}

type loader struct {
	opts  []Option
	file  string
	errs  Errors
	warns Errors
	rule  string // name of the rule being read, for messages
}

func (l *loader) errf(n *yaml.Node, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Line: n.Line, Col: n.Column, Rule: l.rule, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlError turns a YAML syntax error, which carries a line but no column,
// into located messages.
func (l *loader) yamlError(err error) {
	for _, msg := range strings.Split(strings.TrimPrefix(err.Error(), "yaml: "), "\n") {
		msg = strings.TrimSpace(msg)
		if msg == "" || strings.HasPrefix(msg, "unmarshal errors:") {
			continue
		}
		line := 1
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		l.errs = append(l.errs, &Error{File: l.file, Line: line, Col: 1, Msg: "yaml: " + msg})
	}
}

// fields reads a mapping, reporting unknown and duplicate keys. It returns
// nil when n is not a mapping (after reporting that).
func (l *loader) fields(n *yaml.Node, what string, known ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		l.errf(n, "%s: want a mapping, got %s", what, kindName(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !contains(known, k.Value):
			l.errf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		case out[k.Value] != nil:
			l.errf(k, "%s: key %q given twice", what, k.Value)
		default:
			out[k.Value] = v
		}
	}
	return out
}

func sortByPosition(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "a document"
}

// scalar reads a string scalar.
func (l *loader) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errf(n, "%s: want a value, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

// scalars reads one scalar or a list of them.
func (l *loader) scalars(n *yaml.Node, what string) ([]*yaml.Node, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		if _, ok := l.scalar(n, what); !ok {
			return nil, false
		}
		return []*yaml.Node{n}, true
	case yaml.SequenceNode:
		ok := len(n.Content) > 0
		if !ok {
			l.errf(n, "%s: empty list", what)
		}
		for _, item := range n.Content {
			if _, good := l.scalar(item, what); !good {
				ok = false
			}
		}
		return n.Content, ok
	}
	l.errf(n, "%s: want a value or a list, got %s", what, kindName(n))
	return nil, false
}

func (l *loader) file1(root *yaml.Node) *Set {
	f := l.fields(root, "rules file", "version", "defaults", "redact", "auth_proxy", "jwt", "identities", "rules")
	if f == nil {
		return nil
	}
	set := &Set{File: l.file, index: newIndex()}
	for _, o := range l.opts {
		o(set)
	}
	if j := f["jwt"]; j != nil {
		set.tokens = l.jwt(j)
	}
	if set.tokens.verifier == nil {
		set.tokens.decoder = identity.NewDecoder(0)
	}
	if ids := f["identities"]; ids != nil {
		idf := l.fields(ids, "identities", "lookup")
		if v := idf["lookup"]; v == nil {
			l.errf(ids, "identities: missing lookup: the slots later requests carry, e.g. [cookie.sid, jwt.id]")
		} else {
			set.lookup = l.slots(v, "identities.lookup")
		}
	}
	if v := f["version"]; v == nil {
		l.errf(root, "missing version: 1")
	} else if v.Value != "1" || v.Kind != yaml.ScalarNode {
		l.errf(v, "version: only version 1 is known, got %s", kindName(v))
	}

	var defaultArea string
	defaultSeverity := event.SeverityInfo
	if d := f["defaults"]; d != nil {
		df := l.fields(d, "defaults", "actor", "area", "severity")
		if a := df["actor"]; a != nil {
			set.defaultActor = l.party(a, "defaults.actor")
		}
		if a := df["area"]; a != nil {
			defaultArea, _ = l.scalar(a, "defaults.area")
		}
		if s := df["severity"]; s != nil {
			defaultSeverity = l.severity(s)
		}
	}

	extra, withDefaults := []string(nil), true
	var valuePatterns []*regexp.Regexp
	if r := f["redact"]; r != nil {
		rf := l.fields(r, "redact", "fields", "default_fields", "values")
		if n := rf["fields"]; n != nil {
			items, _ := l.scalars(n, "redact.fields")
			for _, it := range items {
				extra = append(extra, it.Value)
			}
		}
		if n := rf["default_fields"]; n != nil {
			withDefaults = l.boolean(n, "redact.default_fields")
		}
		if n := rf["values"]; n != nil {
			items, _ := l.scalars(n, "redact.values")
			for _, it := range items {
				re, err := regexp.Compile(it.Value)
				if err != nil {
					l.errf(it, "redact.values: bad regex: %v", err)
					continue
				}
				valuePatterns = append(valuePatterns, re)
			}
		}
	}
	set.redact = newRedactor(extra, withDefaults, valuePatterns)
	if a := f["auth_proxy"]; a != nil {
		set.authProxy = l.authProxy(a)
	}

	rs := f["rules"]
	if rs == nil {
		l.errf(root, "missing rules: (a list of rules)")
		return set
	}
	if rs.Kind != yaml.SequenceNode {
		l.errf(rs, "rules: want a list, got %s", kindName(rs))
		return set
	}
	names := map[string]*yaml.Node{}
	for i, rn := range rs.Content {
		r := l.rule1(rn, i, defaultArea, defaultSeverity, set.defaultActor)
		if r == nil {
			continue
		}
		if prev := names[r.Name]; prev != nil {
			l.errf(rn, "name given twice (first at line %d)", prev.Line)
		}
		names[r.Name] = rn
		set.index.add(len(set.rules), r.methods, &r.path, r.hasPath, r.trailingSlash)
		set.rules = append(set.rules, r)
	}
	l.rule = ""
	if set.bindings == nil && (len(set.lookup) > 0 || slices.ContainsFunc(set.rules, func(r *Rule) bool { return len(r.bind)+len(r.unbind) > 0 })) {
		set.bindings, _ = identity.NewBindings(identity.BindingsConfig{}) // memory only: cannot fail
	}
	return set
}

// jwt reads `jwt: {from: [...], verify: {key_file | jwks_file, algorithms, leeway}}`.
func (l *loader) jwt(n *yaml.Node) tokenSource {
	var ts tokenSource
	f := l.fields(n, "jwt", "from", "verify")
	if v := f["from"]; v != nil {
		items, _ := l.scalars(v, "jwt.from")
		for _, it := range items {
			src, ok, err := parseSource(it.Value)
			switch {
			case err != nil:
				l.errf(it, "jwt.from: %v", err)
			case !ok || (src.kind != srcHeader && src.kind != srcCookie && src.kind != srcQuery):
				l.errf(it, "jwt.from: %q: a token comes from header.NAME, cookie.NAME or query.NAME", it.Value)
			default:
				ts.from = append(ts.from, src)
			}
		}
	}
	v := f["verify"]
	if v == nil {
		return ts
	}
	vf := l.fields(v, "jwt.verify", "key_file", "jwks_file", "algorithms", "leeway")
	var cfg identity.VerifyConfig
	if k := vf["key_file"]; k != nil {
		cfg.KeyFile, _ = l.scalar(k, "jwt.verify.key_file")
		cfg.KeyFile = l.relative(cfg.KeyFile)
	}
	if k := vf["jwks_file"]; k != nil {
		cfg.JWKSFile, _ = l.scalar(k, "jwt.verify.jwks_file")
		cfg.JWKSFile = l.relative(cfg.JWKSFile)
	}
	if a := vf["algorithms"]; a != nil {
		items, _ := l.scalars(a, "jwt.verify.algorithms")
		for _, it := range items {
			cfg.Algorithms = append(cfg.Algorithms, it.Value)
		}
	}
	if lw := vf["leeway"]; lw != nil {
		if s, ok := l.scalar(lw, "jwt.verify.leeway"); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				l.errf(lw, "jwt.verify.leeway: %q: want a duration like 30s", s)
			}
			cfg.Leeway = d
		}
	}
	ver, err := identity.NewVerifier(cfg)
	if err != nil {
		l.errf(v, "jwt.verify: %v", err)
		return ts
	}
	ts.verifier = ver
	return ts
}

// relative resolves a path from the rules file's directory.
func (l *loader) relative(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(l.file), p)
}

// slots reads a list of sources that name what requests carry: cookie.sid,
// jwt.id, header.X-Session, query.sid.
func (l *loader) slots(n *yaml.Node, what string) []source {
	items, _ := l.scalars(n, what)
	var out []source
	for _, it := range items {
		src, ok, err := parseSource(it.Value)
		switch {
		case err != nil:
			l.errf(it, "%s: %v", what, err)
		case !ok || (src.kind != srcCookie && src.kind != srcJWT && src.kind != srcHeader && src.kind != srcQuery):
			l.errf(it, "%s: %q: a slot is something every request carries: cookie.NAME, jwt.CLAIM, header.NAME or query.NAME", what, it.Value)
		default:
			out = append(out, src)
		}
	}
	return out
}

// binds reads a rule's `bind:` list: {slot, key, id, name} each.
func (l *loader) binds(n *yaml.Node) []bindSpec {
	if n.Kind != yaml.SequenceNode {
		l.errf(n, "bind: want a list of {slot, key, id, name}, got %s", kindName(n))
		return nil
	}
	var out []bindSpec
	for _, item := range n.Content {
		f := l.fields(item, "bind", "slot", "key", "id", "name")
		if f == nil {
			continue
		}
		var b bindSpec
		if v := f["slot"]; v == nil {
			l.errf(item, "bind: missing slot (what later requests carry, e.g. cookie.sid)")
			continue
		} else if slots := l.slots(v, "bind.slot"); len(slots) == 1 {
			b.slot = slots[0].text
		} else {
			continue
		}
		v := f["key"]
		if v == nil {
			l.errf(item, "bind: missing key (where this exchange has the slot's value, e.g. response.cookie.sid)")
			continue
		}
		s, ok := l.scalar(v, "bind.key")
		if !ok {
			continue
		}
		src, isSrc, err := parseSource(s)
		if err != nil || !isSrc {
			l.errf(v, "bind.key: %q is not a source (%s)", s, sourceHelp)
			continue
		}
		b.key = src
		for key, dst := range map[string]*expr{"id": &b.id, "name": &b.name} {
			if v := f[key]; v != nil {
				*dst = l.expr(v, "bind."+key)
			}
		}
		if !b.id.set() && !b.name.set() {
			l.errf(item, "bind: give id or name (or both): who the slot's value stands for")
			continue
		}
		out = append(out, b)
	}
	return out
}

func (l *loader) authProxy(n *yaml.Node) authProxy {
	var a authProxy
	f := l.fields(n, "auth_proxy", "header", "trusted_proxies")
	if v := f["header"]; v == nil {
		l.errf(n, "auth_proxy: missing header (e.g. X-Forwarded-User)")
	} else {
		a.header, _ = l.scalar(v, "auth_proxy.header")
	}
	v := f["trusted_proxies"]
	if v == nil {
		l.errf(n, "auth_proxy: missing trusted_proxies: the addresses of the auth proxy (anyone else could send the header)")
		return a
	}
	items, _ := l.scalars(v, "auth_proxy.trusted_proxies")
	for _, it := range items {
		p, err := netip.ParsePrefix(it.Value)
		if err != nil {
			ip, ierr := netip.ParseAddr(it.Value)
			if ierr != nil {
				l.errf(it, "auth_proxy.trusted_proxies: %q: want a CIDR like 10.0.0.0/8 or an address", it.Value)
				continue
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		a.trusted = append(a.trusted, p.Masked())
	}
	return a
}

func (l *loader) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		l.errf(n, "%s: want true or false, got %s", what, kindName(n))
	}
	return b
}

func (l *loader) severity(n *yaml.Node) event.Severity {
	s, ok := l.scalar(n, "severity")
	if !ok {
		return event.SeverityInfo
	}
	for _, known := range event.Severities {
		if s == string(known) {
			return known
		}
	}
	l.errf(n, "severity: %q is not one of debug, info, notice, warning, error, critical", s)
	return event.SeverityInfo
}

var actionSyntax = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)*$`)

func (l *loader) rule1(n *yaml.Node, i int, area string, sev event.Severity, defActor party) *Rule {
	l.rule = fmt.Sprintf("#%d", i+1)
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" && n.Content[j+1].Kind == yaml.ScalarNode {
				l.rule = n.Content[j+1].Value
			}
		}
	}
	f := l.fields(n, "rule", "name", "match", "action", "description", "area", "severity", "outcome", "actor", "target", "changes", "before", "continue", "bind", "unbind", "delivery")
	if f == nil {
		return nil
	}
	before := len(l.errs)
	r := &Rule{Line: n.Line, Col: n.Column, Area: area, Severity: sev}
	if v := f["name"]; v == nil {
		l.errf(n, "missing name")
	} else if s, ok := l.scalar(v, "name"); ok {
		r.Name = s
	}
	if v := f["action"]; v == nil {
		l.errf(n, "missing action (e.g. action: user.created)")
	} else if s, ok := l.scalar(v, "action"); ok {
		if !actionSyntax.MatchString(s) {
			l.errf(v, "action: %q should be lowercase dotted words, e.g. user.created", s)
		}
		r.Action = s
	}
	if v := f["match"]; v == nil {
		l.errf(n, "missing match (e.g. match: {method: POST, path: /users, status: 2xx})")
	} else {
		l.match(v, r)
	}
	if v := f["area"]; v != nil {
		r.Area, _ = l.scalar(v, "area")
	}
	if v := f["severity"]; v != nil {
		r.Severity = l.severity(v)
	}
	if v := f["outcome"]; v != nil {
		if s, ok := l.scalar(v, "outcome"); ok {
			switch o := event.Outcome(s); o {
			case event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeUnknown:
				r.Outcome = o
			default:
				l.errf(v, "outcome: %q is not one of success, failure, unknown", s)
			}
		}
	}
	if v := f["description"]; v != nil {
		if s, ok := l.scalar(v, "description"); ok {
			t, err := parseTemplate(s)
			if err != nil {
				l.errf(v, "description: %v", err)
			}
			r.description = t
		}
	}
	if v := f["actor"]; v != nil {
		r.actor = l.party(v, "actor")
	}
	if v := f["target"]; v != nil {
		r.target = l.party(v, "target")
	}
	if v := f["changes"]; v != nil {
		r.changes = l.changes(v)
	}
	if v := f["before"]; v != nil {
		r.before = l.before(v)
	}
	if v := f["continue"]; v != nil {
		r.Continue = l.boolean(v, "continue")
	}
	if v := f["bind"]; v != nil {
		r.bind = l.binds(v)
	}
	if v := f["delivery"]; v != nil {
		if s, ok := l.scalar(v, "delivery"); ok {
			switch s {
			case "critical":
				r.Critical = true
			case "normal":
			default:
				l.errf(v, "delivery: %q is not one of normal, critical", s)
			}
		}
	}
	if v := f["unbind"]; v != nil {
		r.unbind = l.slots(v, "unbind")
	}
	if len(l.errs) > before {
		return nil
	}
	r.planCapture(defActor)
	l.check(r, n)
	return r
}

func (l *loader) party(n *yaml.Node, what string) party {
	f := l.fields(n, what, "id", "name", "type")
	var p party
	for key, dst := range map[string]*expr{"id": &p.id, "name": &p.name, "type": &p.typ} {
		if v := f[key]; v != nil {
			*dst = l.expr(v, what+"."+key)
		}
	}
	return p
}

// expr reads a field's value: one source, template or literal, or a list
// of them tried in order (a fallback chain: [jwt.sub, identity.id]).
func (l *loader) expr(n *yaml.Node, what string) expr {
	items, ok := l.scalars(n, what)
	if !ok {
		return expr{}
	}
	var alts []expr
	for _, it := range items {
		e, err := parseExpr(it.Value)
		if err != nil {
			l.errf(it, "%s: %v", what, err)
			continue
		}
		alts = append(alts, e)
	}
	if n.Kind == yaml.ScalarNode && len(alts) == 1 {
		return alts[0]
	}
	return expr{alts: alts}
}

// parseExpr reads a field's value: a template when it has braces, a source
// when it names one, literal text otherwise.
func parseExpr(s string) (expr, error) {
	if strings.ContainsAny(s, "{}") {
		t, err := parseTemplate(s)
		return expr{tmpl: t}, err
	}
	src, ok, err := parseSource(s)
	if err != nil {
		return expr{}, err
	}
	if ok {
		return expr{src: &src}, nil
	}
	return expr{lit: s}, nil
}

func (l *loader) match(n *yaml.Node, r *Rule) {
	f := l.fields(n, "match", "method", "host", "path", "trailing_slash", "status", "content_type", "query", "header", "form", "body")
	if f == nil {
		return
	}
	if v := f["method"]; v != nil {
		items, _ := l.scalars(v, "match.method")
		for _, it := range items {
			m := it.Value
			if m != strings.ToUpper(m) || !isIdent(m) {
				l.errf(it, "match.method: %q is not an HTTP method (write it in capitals: GET, POST, ...)", m)
				continue
			}
			r.methods = append(r.methods, m)
		}
	}
	if v := f["path"]; v != nil {
		if s, ok := l.scalar(v, "match.path"); ok {
			pt, err := parsePath(s)
			if err != nil {
				l.errf(v, "match.path: %v", err)
			}
			r.path, r.hasPath = pt, true
		}
	}
	if v := f["method"]; v == nil && f["path"] == nil {
		l.errf(n, "match: needs a method or a path")
	}
	if v := f["status"]; v != nil {
		items, _ := l.scalars(v, "match.status")
		for _, it := range items {
			if err := r.status.add(it.Value); err != nil {
				l.errf(it, "match.status: %v", err)
			}
		}
	}
	if v := f["trailing_slash"]; v != nil {
		r.trailingSlash = l.boolean(v, "match.trailing_slash")
	}
	if v := f["host"]; v != nil {
		items, _ := l.scalars(v, "match.host")
		for _, it := range items {
			h := strings.ToLower(it.Value)
			if strings.Contains(strings.TrimPrefix(h, "*."), "*") || strings.ContainsAny(h, "/:") {
				l.errf(it, "match.host: %q: want a host name, or *.domain for its subdomains (no port, no path)", it.Value)
				continue
			}
			r.hosts = append(r.hosts, hostPattern(h))
		}
	}
	if v := f["content_type"]; v != nil {
		items, _ := l.scalars(v, "match.content_type")
		for _, it := range items {
			r.contentTypes = append(r.contentTypes, mediaType(it.Value))
		}
	}
	for _, w := range []condWhere{inQuery, inHeader, inForm, inBody} {
		if v := f[w.String()]; v != nil {
			r.conds = append(r.conds, l.conditions(v, w)...)
		}
	}
}

// conditions reads match.query/header/form/body: name: value for equality,
// or name: {equals: v | one_of: [a, b] | exists: true|false | regex: re}.
func (l *loader) conditions(n *yaml.Node, where condWhere) []condition {
	what := "match." + where.String()
	if n.Kind != yaml.MappingNode {
		l.errf(n, "%s: want a mapping of name: condition, got %s", what, kindName(n))
		return nil
	}
	var out []condition
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		c := condition{where: where, name: k.Value}
		if where == inHeader {
			c.name = canonicalHeader(c.name)
		}
		w := what + "." + k.Value
		if v.Kind == yaml.ScalarNode {
			if s, ok := l.scalar(v, w); ok {
				c.op, c.values = opEquals, []string{s}
				out = append(out, c)
			}
			continue
		}
		ops := l.fields(v, w, "equals", "one_of", "exists", "regex")
		if ops == nil {
			continue
		}
		if len(ops) != 1 {
			l.errf(v, "%s: give exactly one of equals, one_of, exists, regex", w)
			continue
		}
		switch {
		case ops["equals"] != nil:
			if s, ok := l.scalar(ops["equals"], w+".equals"); ok {
				c.op, c.values = opEquals, []string{s}
			}
		case ops["one_of"] != nil:
			items, ok := l.scalars(ops["one_of"], w+".one_of")
			if !ok {
				continue
			}
			c.op = opOneOf
			for _, it := range items {
				c.values = append(c.values, it.Value)
			}
		case ops["exists"] != nil:
			c.op = opAbsent
			if l.boolean(ops["exists"], w+".exists") {
				c.op = opExists
			}
		case ops["regex"] != nil:
			s, ok := l.scalar(ops["regex"], w+".regex")
			if !ok {
				continue
			}
			re, err := regexp.Compile(s)
			if err != nil {
				l.errf(ops["regex"], "%s.regex: %v", w, err)
				continue
			}
			c.op, c.re = opRegex, re
		}
		if c.op != 0 {
			out = append(out, c)
		}
	}
	return out
}

// changes reads `changes: [a, b]` or `changes: {all: true, exclude: [x]}`
// or `changes: {fields: [a, b], exclude: [...]}`.
func (l *loader) changes(n *yaml.Node) changeSpec {
	var c changeSpec
	if n.Kind == yaml.SequenceNode {
		items, _ := l.scalars(n, "changes")
		for _, it := range items {
			c.fields = append(c.fields, it.Value)
		}
		return c
	}
	if n.Kind != yaml.MappingNode {
		l.errf(n, "changes: want a list of request body fields, e.g. [email, role], or {all: true, exclude: [...]}, got %s", kindName(n))
		return c
	}
	f := l.fields(n, "changes", "all", "fields", "exclude")
	if v := f["all"]; v != nil {
		c.all = l.boolean(v, "changes.all")
	}
	if v := f["fields"]; v != nil {
		items, _ := l.scalars(v, "changes.fields")
		for _, it := range items {
			c.fields = append(c.fields, it.Value)
		}
	}
	if v := f["exclude"]; v != nil {
		items, _ := l.scalars(v, "changes.exclude")
		for _, it := range items {
			c.exclude = append(c.exclude, it.Value)
		}
	}
	if c.all == (len(c.fields) > 0) {
		l.errf(n, "changes: give either all: true or fields: [...]")
	}
	return c
}

// before reads `before: /users/{path.id}` or
// `before: {get: /users/{path.id}, select: data}`.
func (l *loader) before(n *yaml.Node) *beforeSpec {
	b := &beforeSpec{}
	getNode := n
	if n.Kind == yaml.MappingNode {
		f := l.fields(n, "before", "get", "select")
		if f["get"] == nil {
			l.errf(n, "before: missing get: (the path to fetch the current state from)")
			return b
		}
		getNode = f["get"]
		if v := f["select"]; v != nil {
			b.selectPath, _ = l.scalar(v, "before.select")
		}
	}
	s, ok := l.scalar(getNode, "before")
	if !ok {
		return b
	}
	if !strings.HasPrefix(s, "/") {
		l.errf(getNode, "before: %q: want a path on the upstream starting with /, e.g. /users/{path.id}", s)
		return b
	}
	t, err := parseTemplate(s)
	if err != nil {
		l.errf(getNode, "before: %v", err)
		return b
	}
	for _, src := range t.sources() {
		if src.kind != srcPath && src.kind != srcQuery && src.kind != srcHeader {
			l.errf(getNode, "before: %s is not known before the request is sent (use path., query. or header. sources)", src.text)
		}
	}
	for _, p := range t.parts {
		if p.field != fieldNone {
			l.errf(getNode, "before: event fields are not known before the request is sent (use path., query. or header. sources)")
		}
	}
	b.get = t
	return b
}

// reads says which parts of an exchange beyond its request head the
// sources read.
func reads(srcs []source) (requestBody, responseBody, responseHeader bool) {
	for _, s := range srcs {
		requestBody = requestBody || s.kind == srcRequestBody
		responseBody = responseBody || s.kind == srcResponseBody
		responseHeader = responseHeader || s.kind == srcResponseHeader || s.kind == srcResponseCookie
	}
	return requestBody, responseBody, responseHeader || responseBody
}

// planCapture decides, once at load, which bodies (and whether the
// response header) the rule reads, so the proxy keeps only those.
func (r *Rule) planCapture(defActor party) {
	var srcs []source
	actor := r.actor
	if !actor.set() {
		actor = defActor
	}
	for _, p := range []party{actor, r.target} {
		for _, e := range []expr{p.id, p.name, p.typ} {
			srcs = append(srcs, e.sources()...)
		}
	}
	if r.description != nil {
		srcs = append(srcs, r.description.sources()...)
	}
	for _, b := range r.bind {
		srcs = append(srcs, b.key)
		srcs = append(srcs, b.id.sources()...)
		srcs = append(srcs, b.name.sources()...)
	}
	r.needsRequestBody, r.needsResponseBody, r.needsResponseHeader = reads(srcs)
	r.needsRequestBody = r.needsRequestBody || r.changes.set()
	for _, c := range r.conds {
		r.needsRequestBody = r.needsRequestBody || c.where == inForm || c.where == inBody
	}
}

// check warns about sources that cannot exist for the rule, e.g. a
// response body on a rule that only matches bodiless statuses. The rule
// still loads: it may be right for a server that breaks HTTP.
func (l *loader) check(r *Rule, n *yaml.Node) {
	if r.needsResponseBody && r.status.only(204, 304) {
		l.warns = append(l.warns, &Error{File: l.file, Line: n.Line, Col: n.Column, Rule: r.Name,
			Msg: fmt.Sprintf("uses response.body but only matches status %v, which has no body", r.status.codes)})
	}
}
