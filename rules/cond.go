package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// condWhere says what a condition looks at.
type condWhere uint8

const (
	inQuery  condWhere = iota + 1 // query parameter
	inHeader                      // request header
	inForm                        // field of a form body (urlencoded or multipart)
	inBody                        // gjson path into a JSON request body
)

func (w condWhere) String() string {
	return [...]string{"", "query", "header", "form", "body"}[w]
}

// condOp is how a condition tests the value.
type condOp uint8

const (
	opEquals condOp = iota + 1
	opOneOf
	opExists
	opAbsent
	opRegex
)

// condition is one entry under match.query, match.header, match.form or
// match.body: `name: value` (equality) or `name: {equals|one_of|exists|regex: ...}`.
type condition struct {
	where  condWhere
	name   string
	op     condOp
	values []string       // equals (one), one_of (several)
	re     *regexp.Regexp // regex
}

// test reports whether the condition holds for the values found (a
// parameter or header may repeat: one value passing is enough), and if not,
// why, in words a rule author recognises.
func (c *condition) test(vals []string, found bool) (bool, string) {
	label := c.where.String() + " " + c.name
	switch c.op {
	case opExists:
		if found {
			return true, ""
		}
		return false, label + " is absent, rule wants it present"
	case opAbsent:
		if !found {
			return true, ""
		}
		return false, label + " is present, rule wants it absent"
	}
	if !found {
		return false, fmt.Sprintf("%s is absent, rule wants %s", label, c.want())
	}
	for _, v := range vals {
		switch c.op {
		case opEquals, opOneOf:
			if slices.Contains(c.values, v) {
				return true, ""
			}
		case opRegex:
			if c.re.MatchString(v) {
				return true, ""
			}
		}
	}
	return false, fmt.Sprintf("%s is %s, rule wants %s", label, quoteAll(vals), c.want())
}

func (c *condition) want() string {
	switch c.op {
	case opEquals:
		return fmt.Sprintf("%q", c.values[0])
	case opOneOf:
		return "one of " + quoteAll(c.values)
	case opRegex:
		return "a match of /" + c.re.String() + "/"
	}
	return ""
}

func quoteAll(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// statusRange is an inclusive range of codes, "200-299".
type statusRange struct{ lo, hi int }

// hostPattern matches the request's Host (without port): exact, or a
// leading "*." for any subdomain.
type hostPattern string

func (h hostPattern) match(host string) bool {
	host = strings.ToLower(stripPort(host))
	p := string(h)
	if suffix, ok := strings.CutPrefix(p, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == p
}

func stripPort(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		return host[:i]
	}
	return host
}

// mediaType is the Content-Type without parameters, lowercased: what
// mime.ParseMediaType makes of a valid one, and the same for one it
// rejects, without its allocations (a lower-case value costs none).
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
}

func hostList(hs []hostPattern) string {
	ss := make([]string, len(hs))
	for i, h := range hs {
		ss[i] = string(h)
	}
	return quoteAll(ss)
}

func statusMsg(code int, s statusSet) string {
	return fmt.Sprintf("status %d is not %s", code, s)
}

func redirectMsg(code int) string {
	return fmt.Sprintf("status %d redirects to the same path with or without a trailing slash: the repeated request is the one audited (list %d under status to audit the redirect itself)", code, code)
}
