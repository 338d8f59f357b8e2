package discover

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/auditproxy/auditproxy/event"
)

// observation is what one exchange tells about its endpoint, with every
// value already truncated and redacted: Add parses outside the lock and
// only this small summary is merged under it.
type observation struct {
	method     string
	pattern    pattern
	conditions []Condition // discriminators: part of the endpoint's identity
	target     string      // path?query, for the examples
	status     int

	bodyKind     string // "json", "form", ...; "" for no body
	body         []kv
	params       []kv // query parameters
	responseKeys []string
	setCookies   []string
	credentials  []kv // jwt.<claim>, basic.user, cookie.<name>
	opaqueBearer bool
}

type kv struct{ name, value string }

const (
	maxValue = 60      // characters of a sample value
	maxNames = 50      // fields, keys or cookies per endpoint: bounds what a generated body can cost
	maxName  = 100     // bytes of a field, key or cookie name; longer ones are data, and skipped
	maxBody  = 8 << 20 // bytes a gzip-encoded body may inflate to
)

// named reports whether a field, key or cookie name is worth keeping.
func named(name string) bool { return name != "" && len(name) <= maxName }

// discriminators are the query parameters and body fields that RPC-style
// apps use to say what a request does, on one path:
// /index.php?module=API&method=UsersManager.addUser, or a form's action=.
// Their order is the order their values form an action name in.
var discriminators = []string{"module", "controller", "action", "method", "op", "operation", "task", "do", "cmd", "command"}

func discriminatorRank(name string) int {
	return slices.Index(discriminators, strings.ToLower(name))
}

// addDiscriminator makes name=value a condition of the endpoint when name
// is a discriminator and value a word of the app (not an id, not free
// text, not a secret: it is written into the draft as it is).
func (d *Discoverer) addDiscriminator(o *observation, in, name, value string) {
	if discriminatorRank(name) < 0 || value == "" || len(value) > maxValue || isValue(value) || d.redact(name) ||
		slices.ContainsFunc(o.conditions, func(c Condition) bool { return c.In == in && c.Name == name }) {
		return
	}
	o.conditions = append(o.conditions, Condition{In: in, Name: name, Value: value})
}

func (d *Discoverer) observe(x *event.Exchange) observation {
	o := observation{
		method:  x.Method,
		pattern: patternOf(x.Path),
		status:  x.Status,
	}
	var query []string
	if x.RawQuery != "" {
		for _, p := range formPairs(x.RawQuery) {
			if !named(p.name) {
				continue
			}
			d.addDiscriminator(&o, "query", p.name, p.value)
			o.params = append(o.params, kv{p.name, d.sample(p.name, p.value)})
			query = append(query, p.name+"="+d.sample(p.name, p.value))
		}
	}
	o.target = d.example(x.Path, query)
	o.bodyKind, o.body = d.requestFields(x, &o)
	slices.SortStableFunc(o.conditions, func(a, b Condition) int { return discriminatorRank(a.Name) - discriminatorRank(b.Name) })
	o.responseKeys = responseKeys(x)
	if x.ResponseHeader != nil {
		for _, c := range (&http.Response{Header: x.ResponseHeader}).Cookies() {
			if named(c.Name) {
				o.setCookies = append(o.setCookies, c.Name)
			}
		}
	}
	o.credentials, o.opaqueBearer = d.credentials(x.RequestHeader)
	return o
}

// example is a request target to show: the path, with a value that
// follows a sensitive word (/password-reset/<token>) filtered, and the
// query with sensitive values filtered.
func (d *Discoverer) example(path string, query []string) string {
	segs := segments(path)
	for i := 1; i < len(segs); i++ {
		if isValue(segs[i]) && d.redact(segs[i-1]) {
			segs[i] = event.Filtered
		}
	}
	s := "/" + strings.Join(segs, "/")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return truncate(s, 200)
}

// requestFields lists the top-level fields of the request body, in order,
// and adds the discriminators among them to o.
func (d *Discoverer) requestFields(x *event.Exchange, o *observation) (string, []kv) {
	b := &x.RequestBody
	switch {
	case !b.Captured:
		return "", nil
	case b.Truncated:
		return "over the capture limit", nil
	case len(b.Data) == 0:
		return "", nil
	}
	data := inflate(b.Data, x.RequestHeader)
	ct, ctParams, _ := mime.ParseMediaType(x.RequestHeader.Get("Content-Type"))
	// Forms are read as rules read them: one bad pair makes the whole body
	// unreadable to a rule, so it yields no fields here either.
	var pairs []kv
	var err error
	switch {
	case ct == "application/x-www-form-urlencoded":
		if _, err = url.ParseQuery(string(data)); err == nil {
			pairs = append([]kv{}, formPairs(string(data))...)
		}
	case ct == "multipart/form-data":
		pairs, err = multipartPairs(data, ctParams["boundary"])
	}
	switch {
	case err != nil:
		return "unreadable " + ct, nil
	case pairs != nil:
		var fields []kv
		for _, p := range pairs {
			if !named(p.name) {
				continue
			}
			d.addDiscriminator(o, "form", p.name, p.value)
			fields = append(fields, kv{p.name, d.sample(p.name, p.value)})
		}
		if ct == "multipart/form-data" {
			return "multipart", fields
		}
		return "form", fields
	case gjson.ValidBytes(data) && gjson.ParseBytes(data).IsObject():
		// Legacy apps label JSON in many ways: trust the bytes, as rules do.
		var fields []kv
		gjson.ParseBytes(data).ForEach(func(k, v gjson.Result) bool {
			if !named(k.String()) {
				return true
			}
			if v.Type == gjson.String && plainName(k.Str) { // a body condition's name is a gjson path
				d.addDiscriminator(o, "body", k.Str, v.Str)
			}
			fields = append(fields, kv{k.String(), d.sample(k.String(), jsonSample(v))})
			return len(fields) < maxNames
		})
		return "json", fields
	case ct != "":
		return truncate(ct, 40), nil
	}
	return "other", nil
}

// responseKeys lists the keys of a JSON object response, and those of its
// objects one level down (user.id), which is where ids and names of what
// was created, or of who logged in, usually are.
func responseKeys(x *event.Exchange) []string {
	b := &x.ResponseBody
	if !b.Captured || b.Truncated || len(b.Data) == 0 {
		return nil
	}
	data := inflate(b.Data, x.ResponseHeader)
	if !gjson.ValidBytes(data) {
		return nil
	}
	var keys []string
	gjson.ParseBytes(data).ForEach(func(k, v gjson.Result) bool {
		if !named(k.String()) {
			return true
		}
		keys = append(keys, k.String())
		if v.IsObject() {
			v.ForEach(func(k2, _ gjson.Result) bool {
				if named(k2.String()) {
					keys = append(keys, k.String()+"."+k2.String())
				}
				return len(keys) < maxNames
			})
		}
		return len(keys) < maxNames
	})
	return keys
}

// credentials says where a rule could read who the caller is. JWT claims
// are read without verifying the token, as the rules' jwt.* source does by
// default, whatever the scheme word (Bearer, Token, JWT, ...).
func (d *Discoverer) credentials(h http.Header) (creds []kv, opaqueBearer bool) {
	auth := strings.TrimSpace(h.Get("Authorization"))
	scheme, cred, found := strings.Cut(auth, " ")
	if !found {
		cred = auth // a bare token
	}
	switch {
	case strings.EqualFold(scheme, "Basic") && found:
		if user, _, ok := (&http.Request{Header: h}).BasicAuth(); ok {
			creds = append(creds, kv{"basic.user", d.sample("user", user)})
		}
	case auth != "":
		claims := jwtClaims(strings.TrimSpace(cred))
		if claims == nil {
			opaqueBearer = true
			break
		}
		gjson.ParseBytes(claims).ForEach(func(k, v gjson.Result) bool {
			switch k.String() {
			case "iat", "exp", "nbf", "jti": // times and nonces: never who
			default:
				if named(k.String()) {
					creds = append(creds, kv{"jwt." + k.String(), d.sample(k.String(), jsonSample(v))})
				}
			}
			return len(creds) < maxNames
		})
	}
	for _, c := range (&http.Request{Header: h}).Cookies() {
		if named(c.Name) && sessionCookie(c.Name) {
			// A session id is a credential: never stored, whatever its name.
			creds = append(creds, kv{"cookie." + c.Name, event.Filtered})
		}
	}
	return creds, opaqueBearer
}

// sessionCookie guesses whether a cookie carries a session: PHPSESSID,
// JSESSIONID, connect.sid, laravel_session, sid, auth_token, ...
func sessionCookie(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"sess", "sid", "auth", "token", "login", "logged", "remember"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func jwtClaims(token string) []byte {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	claims, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil || !gjson.ValidBytes(claims) || !gjson.ParseBytes(claims).IsObject() {
		return nil
	}
	return claims
}

// formPairs decodes a query string or form body in order, keeping repeats
// and skipping what url.ParseQuery (which rules use) skips: pairs that do
// not decode or hold a semicolon.
func formPairs(s string) []kv {
	var out []kv
	for pair := range strings.SplitSeq(s, "&") {
		if strings.Contains(pair, ";") {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if k == "" || err1 != nil || err2 != nil {
			continue
		}
		out = append(out, kv{k, v})
		if len(out) == maxNames {
			break
		}
	}
	return out
}

// multipartPairs reads the fields of a multipart form in order: a file
// by its file name, never its content.
func multipartPairs(data []byte, boundary string) ([]kv, error) {
	if boundary == "" {
		return nil, errors.New("multipart body without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	out := []kv{}
	for len(out) < maxNames {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := part.FormName()
		switch {
		case name == "":
		case part.FileName() != "":
			out = append(out, kv{name, part.FileName()})
		default:
			// Enough to show a sample, and to tell a short value from a long one.
			v, err := io.ReadAll(io.LimitReader(part, 4*maxValue))
			if err != nil {
				return nil, err
			}
			out = append(out, kv{name, string(v)})
		}
	}
	return out, nil
}

// inflate decodes a gzip-encoded body, bounded; anything else comes back
// as it is.
func inflate(data []byte, h http.Header) []byte {
	if enc := h.Get("Content-Encoding"); enc != "gzip" && enc != "x-gzip" {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxBody))
	if err != nil {
		return nil
	}
	return out
}

// sample is how a value is kept: [FILTERED] for a sensitive name, else
// truncated.
func (d *Discoverer) sample(name, value string) string {
	if d.redact(name) {
		return event.Filtered
	}
	return truncate(value, maxValue)
}

// jsonSample shows a JSON value: strings as text, numbers and booleans as
// written, objects by their keys and arrays by their length, so that a
// secret nested inside is never kept.
func jsonSample(v gjson.Result) string {
	switch {
	case v.IsObject():
		var keys []string
		v.ForEach(func(k, _ gjson.Result) bool {
			keys = append(keys, k.String())
			return len(keys) < 10
		})
		return "{" + strings.Join(keys, ", ") + "}"
	case v.IsArray():
		n := 0
		v.ForEach(func(_, _ gjson.Result) bool { n++; return true })
		return "[" + strconv.Itoa(n) + " items]"
	case v.Type == gjson.String:
		return v.Str
	}
	return v.Raw
}

// truncate cuts s to n characters, on a character boundary, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + "…"
}
