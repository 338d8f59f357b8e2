package rules

import (
	"net/url"

	"github.com/auditproxy/auditproxy/event"
)

// view reads an exchange for one Set: everything that needs parsing (query,
// bodies, token claims) is parsed once, on first use, and shared by the
// matching of every rule and the building of every event.
type view struct {
	set *Set
	x   *event.Exchange

	query     url.Values
	reqBody   *parsedBody
	respBody  *parsedBody
	before    *parsedBody
	claims    []byte
	claimsOK  bool
	claimsErr string // why the token was rejected, when it was
}

func (v *view) queryValues() url.Values {
	if v.query == nil {
		v.query, _ = url.ParseQuery(v.x.RawQuery)
	}
	return v.query
}

func (v *view) requestBody() *parsedBody {
	if v.reqBody == nil {
		b := parseBody(&v.x.RequestBody, v.x.RequestHeader)
		v.reqBody = &b
	}
	return v.reqBody
}

func (v *view) responseBody() *parsedBody {
	if v.respBody == nil {
		b := parseBody(&v.x.ResponseBody, v.x.ResponseHeader)
		v.respBody = &b
	}
	return v.respBody
}

func (v *view) beforeBody() *parsedBody {
	if v.before == nil {
		b := parseBody(&v.x.Before, v.x.BeforeHeader)
		v.before = &b
	}
	return v.before
}

// condValues finds what a condition tests: all values of a query parameter,
// header or form field, or the JSON value at a body path (as text).
func (v *view) condValues(c *condition) ([]string, bool) {
	switch c.where {
	case inQuery:
		vals, ok := v.queryValues()[c.name]
		return vals, ok
	case inHeader:
		vals := v.x.RequestHeader.Values(c.name)
		return vals, len(vals) > 0
	case inForm:
		b := v.requestBody()
		if b.kind != bodyForm {
			return nil, false
		}
		vals, ok := b.form[c.name]
		return vals, ok
	case inBody:
		b := v.requestBody()
		if b.kind != bodyJSON {
			return nil, false
		}
		val := b.get(c.name)
		if !val.ok {
			return nil, false
		}
		return []string{val.str}, true
	}
	return nil, false
}

// conditions checks everything of r except the method and the path
// structure. With why nil it stops at the first failure; otherwise it
// collects every failure, in words, for Explain.
func (r *Rule) conditions(v *view, why *[]string) bool {
	ok := true
	fail := func(msg string) bool {
		ok = false
		if why != nil {
			*why = append(*why, msg)
		}
		return why == nil // stop?
	}
	x := v.x
	if len(r.hosts) > 0 {
		hit := false
		for _, h := range r.hosts {
			hit = hit || h.match(x.Host)
		}
		if !hit && fail("host "+quoteAll([]string{stripPort(x.Host)})+" is not "+hostList(r.hosts)) {
			return false
		}
	}
	// Status conditions are about the app's answer; when the app never
	// answered, the attempt is still recorded (as a failure).
	if x.UpstreamError == "" {
		if !r.status.has(x.Status) && fail(statusMsg(x.Status, r.status)) {
			return false
		}
		if x.NormalizingRedirect && !r.status.names(x.Status) &&
			fail(redirectMsg(x.Status)) {
			return false
		}
	}
	if len(r.contentTypes) > 0 {
		mt := mediaType(x.RequestHeader.Get("Content-Type"))
		if !containsString(r.contentTypes, mt) && fail("content type "+quoteAll([]string{mt})+" is not "+quoteAll(r.contentTypes)) {
			return false
		}
	}
	for i := range r.conds {
		c := &r.conds[i]
		vals, found := v.condValues(c)
		if pass, msg := c.test(vals, found); !pass && fail(msg) {
			return false
		}
	}
	return ok
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
