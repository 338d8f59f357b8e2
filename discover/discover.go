// Package discover drafts rules for an app nobody has written rules for.
// In discovery mode the pipeline hands it the requests no rule covers; it
// keeps the ones that change state or log in, groups them into endpoints
// (method, path template and, for RPC-style apps, conditions on a query
// parameter or body field that says what the request does), and
// writes a rules file with one commented rule per endpoint: a guess at the
// action, actor, target and changes, next to the evidence it came from.
//
// Memory is bounded whatever the traffic: a fixed number of endpoints,
// fields and samples, each sample truncated, sensitive values never kept.
package discover

import (
	"bytes"
	"cmp"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/pipeline"
	"github.com/auditproxy/auditproxy/rules"
)

// Config bounds what a Discoverer keeps and says what it must not keep.
type Config struct {
	// MaxEndpoints bounds the endpoints tracked; 0 (or less) means 1000.
	// Requests to further endpoints are counted (Overflow) and the draft
	// says so.
	MaxEndpoints int
	// MaxSamples bounds the distinct sample values kept per field, and the
	// example paths per endpoint; 0 (or less) means 3.
	MaxSamples int
	// Redact says whether the values of a field, query parameter or JWT
	// claim must never be stored; they show as [FILTERED]. Nil means the
	// rules' built-in list (names containing password, secret, token, ...:
	// rules.DefaultSensitive, compared as rules compare them) and the short
	// names legacy forms give passwords: pass, pw, pin, otp. The draft
	// asks rules to redact the names this adds to their list.
	Redact func(name string) bool
}

// Discoverer learns endpoints from exchanges. It is a pipeline.Unmatched
// and safe for concurrent use.
type Discoverer struct {
	maxEndpoints int
	maxSamples   int
	redact       func(string) bool

	mu sync.Mutex
	// buckets holds the endpoints by method, number of segments and
	// conditions: a request can only belong to an endpoint of its bucket.
	buckets   map[string][]*endpoint
	endpoints int
	overflow  int
}

var _ pipeline.Unmatched = (*Discoverer)(nil)

// New returns an empty Discoverer.
func New(cfg Config) *Discoverer {
	d := &Discoverer{maxEndpoints: 1000, maxSamples: 3, redact: defaultRedact, buckets: map[string][]*endpoint{}}
	if cfg.MaxEndpoints > 0 {
		d.maxEndpoints = cfg.MaxEndpoints
	}
	if cfg.MaxSamples > 0 {
		d.maxSamples = cfg.MaxSamples
	}
	if cfg.Redact != nil {
		d.redact = cfg.Redact
	}
	return d
}

// Wants says, from the request head, whether the request is one discovery
// learns from: a state-changing method, or any method on a login-like path.
// It runs on the request path and allocates nothing for short paths.
func (d *Discoverer) Wants(r *http.Request) bool { return wanted(r.Method, r.URL.Path) }

func wanted(method, path string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	case http.MethodHead, http.MethodOptions:
		return false // link checks and CORS preflights: never a login
	}
	return loginLike(path)
}

// Add learns from an exchange that yielded no event.
func (d *Discoverer) Add(x *event.Exchange) {
	// The pipeline also hands over exchanges a rule asked for but did not
	// match (another status, say): keep only those Wants would have taken.
	// Methods a rules file cannot spell (lower case, odd bytes) are skipped.
	// A redirect that only adds or removes a trailing slash is not the
	// app's answer: the client repeats the request, and rules audit that.
	if !wanted(x.Method, x.Path) || !methodName(x.Method) || x.NormalizingRedirect {
		return
	}
	o := d.observe(x)
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.endpointFor(&o)
	if e == nil {
		d.overflow++
		return
	}
	e.add(&o, d.maxSamples)
}

// Overflow is the number of requests not learned from because MaxEndpoints
// endpoints were already tracked.
func (d *Discoverer) Overflow() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overflow
}

// endpointFor finds the endpoint a request belongs to, or makes one. The
// caller holds d.mu.
func (d *Discoverer) endpointFor(o *observation) *endpoint {
	key := bucketKey(o)
	bucket := d.buckets[key]
	// The most specific endpoint that covers the path: /users/me before
	// /users/{id} when both were learned.
	var best *endpoint
	for _, e := range bucket {
		if e.pattern.covers(o.pattern) && (best == nil || e.pattern.literals() > best.pattern.literals()) {
			best = e
		}
	}
	if best != nil {
		return best
	}
	// A second org after /orgs/acme/users makes the org a parameter; the
	// endpoints the wider pattern now covers join it.
	for _, e := range bucket {
		if i, ok := valueApart(e.pattern, o.pattern); ok {
			e.pattern[i] = param
			kept := bucket[:0]
			for _, other := range bucket {
				if other != e && e.pattern.covers(other.pattern) {
					e.merge(other, d.maxSamples)
					d.endpoints--
					continue
				}
				kept = append(kept, other)
			}
			d.buckets[key] = kept
			return e
		}
	}
	if d.endpoints >= d.maxEndpoints {
		return nil
	}
	e := &endpoint{method: o.method, pattern: o.pattern, conditions: o.conditions, statuses: map[int]int{}, bodyKinds: map[string]int{}}
	d.buckets[key] = append(bucket, e)
	d.endpoints++
	return e
}

func bucketKey(o *observation) string {
	var b strings.Builder
	b.WriteString(o.method)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(o.pattern)))
	for _, c := range o.conditions {
		b.WriteString(" " + c.In + ":" + c.Name + "=" + c.Value)
	}
	return b.String()
}

// endpoint accumulates what was seen of one endpoint.
type endpoint struct {
	method       string
	pattern      pattern
	conditions   []Condition
	count        int
	statuses     map[int]int
	examples     []string
	bodyKinds    map[string]int
	body         fieldSet
	params       fieldSet
	credentials  fieldSet
	responseKeys []string
	setCookies   []string
	opaqueBearer int
}

func (e *endpoint) add(o *observation, maxSamples int) {
	e.count++
	e.statuses[o.status]++
	e.examples = addSample(e.examples, o.target, maxSamples)
	if o.bodyKind != "" && (len(e.bodyKinds) < 10 || e.bodyKinds[o.bodyKind] > 0) {
		e.bodyKinds[o.bodyKind]++
	}
	for _, f := range o.body {
		e.body.add(f.name, 1, []string{f.value}, maxSamples)
	}
	for _, f := range o.params {
		e.params.add(f.name, 1, []string{f.value}, maxSamples)
	}
	for _, f := range o.credentials {
		e.credentials.add(f.name, 1, []string{f.value}, maxSamples)
	}
	for _, k := range o.responseKeys {
		e.responseKeys = addName(e.responseKeys, k)
	}
	for _, c := range o.setCookies {
		e.setCookies = addName(e.setCookies, c)
	}
	if o.opaqueBearer {
		e.opaqueBearer++
	}
}

// merge adds what other saw, when two endpoints turn out to be one.
func (e *endpoint) merge(other *endpoint, maxSamples int) {
	e.count += other.count
	for s, n := range other.statuses {
		e.statuses[s] += n
	}
	for _, x := range other.examples {
		e.examples = addSample(e.examples, x, maxSamples)
	}
	for k, n := range other.bodyKinds {
		if len(e.bodyKinds) < 10 || e.bodyKinds[k] > 0 {
			e.bodyKinds[k] += n
		}
	}
	e.body.merge(&other.body, maxSamples)
	e.params.merge(&other.params, maxSamples)
	e.credentials.merge(&other.credentials, maxSamples)
	for _, k := range other.responseKeys {
		e.responseKeys = addName(e.responseKeys, k)
	}
	for _, c := range other.setCookies {
		e.setCookies = addName(e.setCookies, c)
	}
	e.opaqueBearer += other.opaqueBearer
}

func addSample(list []string, s string, max int) []string {
	if len(list) >= max || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func addName(list []string, s string) []string {
	if len(list) >= maxNames || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// fieldSet keeps, per name in first-seen order, how often it was seen and
// a few distinct sample values.
type fieldSet struct{ fields []Field }

func (s *fieldSet) add(name string, count int, samples []string, maxSamples int) {
	i := slices.IndexFunc(s.fields, func(f Field) bool { return f.Name == name })
	if i < 0 {
		if len(s.fields) >= maxNames {
			return
		}
		s.fields = append(s.fields, Field{Name: name})
		i = len(s.fields) - 1
	}
	f := &s.fields[i]
	f.Count += count
	for _, v := range samples {
		f.Samples = addSample(f.Samples, v, maxSamples)
	}
}

func (s *fieldSet) merge(other *fieldSet, maxSamples int) {
	for _, f := range other.fields {
		s.add(f.Name, f.Count, f.Samples, maxSamples)
	}
}

// clone copies the fields, so a snapshot shares nothing with live state.
func (s *fieldSet) clone() []Field {
	out := slices.Clone(s.fields)
	for i := range out {
		out[i].Samples = slices.Clone(out[i].Samples)
	}
	return out
}

// Condition is an equality that tells an RPC-style endpoint from others
// on its path: In is "query", "form" (a form body field) or "body" (a
// top-level JSON body field), as in a rule's match.
type Condition struct{ In, Name, Value string }

// Field is a request body field, query parameter or credential as seen.
type Field struct {
	Name    string
	Count   int      // times seen
	Samples []string // distinct values, truncated; [FILTERED] for sensitive names
}

// Endpoint is what was seen of one endpoint and the rule suggested for it.
type Endpoint struct {
	Method   string
	Template string // rules path template, e.g. /users/{id}
	// Conditions tell an RPC-style endpoint from others on its path, in the
	// order their values name the action.
	Conditions []Condition
	Count      int // requests seen
	Statuses   map[int]int
	Examples   []string // request paths with their query, truncated

	BodyKinds    map[string]int // request bodies by kind: json, form, multipart, ...
	Body         []Field        // request body fields: JSON top-level keys or form fields, first seen first
	Params       []Field        // query parameters
	ResponseKeys []string       // keys of JSON object responses, and one level down (user.id)
	SetCookies   []string       // cookies the responses set
	// Credentials are where a rule can read who called, as rule sources:
	// jwt.<claim>, basic.user, cookie.<session cookie>.
	Credentials  []Field
	OpaqueBearer int // requests with a bearer token that is not a JWT

	Login   bool // the path looks like a login or logout
	Suggest Suggestion

	pattern pattern
}

// Endpoints returns what was learned, most requested first (then by
// template), each with its suggested rule.
func (d *Discoverer) Endpoints() []Endpoint {
	d.mu.Lock()
	var out []Endpoint
	for _, bucket := range d.buckets {
		for _, e := range bucket {
			out = append(out, Endpoint{
				Method:       e.method,
				Template:     e.pattern.template(),
				Conditions:   slices.Clone(e.conditions),
				Count:        e.count,
				Statuses:     maps.Clone(e.statuses),
				Examples:     slices.Clone(e.examples),
				BodyKinds:    maps.Clone(e.bodyKinds),
				Body:         e.body.clone(),
				Params:       e.params.clone(),
				ResponseKeys: slices.Clone(e.responseKeys),
				SetCookies:   slices.Clone(e.setCookies),
				Credentials:  e.credentials.clone(),
				OpaqueBearer: e.opaqueBearer,
				pattern:      slices.Clone(e.pattern),
			})
		}
	}
	d.mu.Unlock()
	bound := map[string]bool{}
	for i := range out {
		e := &out[i]
		e.Login = loginLike(e.words())
		e.Suggest = suggest(e)
		if b := e.Suggest.Bind; b != nil {
			bound[b.Slot] = true
		}
	}
	for i := range out {
		if s := &out[i].Suggest; s.IdentitySlot != "" && !bound[s.IdentitySlot] {
			s.Notes = append(s.Notes, "no login seen here sets "+s.IdentitySlot+": unless a login rule you have binds it, add one, or identity.* stay empty")
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Template, b.Template),
			strings.Compare(a.Method, b.Method), slices.CompareFunc(a.Conditions, b.Conditions, compareCondition))
	})
	return out
}

func compareCondition(a, b Condition) int {
	return cmp.Or(strings.Compare(a.In, b.In), strings.Compare(a.Name, b.Name), strings.Compare(a.Value, b.Value))
}

// literalPath is the pattern's literal text, parameters left empty: what
// login detection looks at, so that a value never makes a login.
func (p pattern) literalPath() string {
	var b strings.Builder
	for _, s := range p {
		b.WriteByte('/')
		if s != param {
			b.WriteString(s)
		}
	}
	return b.String()
}

// methodName reports whether a rules file can spell the method.
func methodName(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// loginWords mark a login-like path. "auth" is counted apart, because
// "author" contains it and is not a login while "authorize" is.
var loginWords = [][]byte{
	[]byte("login"), []byte("log-in"), []byte("log_in"), []byte("logon"),
	[]byte("signin"), []byte("sign-in"), []byte("sign_in"), []byte("session"), []byte("token"),
}

// loginLike looks for a login word in the path, in any case, without
// allocating for paths up to 256 bytes: Wants runs on the request path.
func loginLike(path string) bool {
	var buf [256]byte
	lower := buf[:0]
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, w := range loginWords {
		if bytes.Contains(lower, w) {
			return true
		}
	}
	auth := bytes.Count(lower, []byte("auth")) - bytes.Count(lower, []byte("author")) +
		bytes.Count(lower, []byte("authoriz")) + bytes.Count(lower, []byte("authoris"))
	return auth > 0
}

// logoutLike: logouts carry none of the login words but must not be
// mistaken for resources named "logout".
func logoutLike(path string) bool {
	p := strings.ToLower(path)
	for _, w := range []string{"logout", "log-out", "log_out", "logoff", "signout", "sign-out", "sign_out"} {
		if strings.Contains(p, w) {
			return true
		}
	}
	return false
}

// defaultRedact compares names as the rules' redaction does: lower case,
// without -, _, . and spaces, containing a sensitive fragment. Short
// password names must be the whole name: "pin" is in "shipping".
func defaultRedact(name string) bool {
	n := normalizeName(name)
	switch n {
	case "pass", "pw", "pin", "otp", "passphrase", "passcode":
		return true
	}
	return rulesRedact(n)
}

// rulesRedact: what rules redact without being told.
func rulesRedact(normalized string) bool {
	for _, f := range rules.DefaultSensitive {
		if strings.Contains(normalized, f) {
			return true
		}
	}
	return false
}

func normalizeName(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(name))
}
