package rules

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// pathTemplate is a compiled path pattern: /users/{id}, /files/*,
// /users/{id:[0-9]+}. A {param} or a * in the middle matches exactly one
// segment; a trailing * matches the rest of the path, including nothing.
type pathTemplate struct {
	text     string
	segments []segment
	rest     bool // ends with *
}

type segment struct {
	lit   string         // literal text, when not a parameter
	param string         // parameter name; "" with wild for an anonymous *
	wild  bool           // matches any one segment
	re    *regexp.Regexp // optional constraint on a parameter's value
}

func parsePath(text string) (pathTemplate, error) {
	if !strings.HasPrefix(text, "/") {
		return pathTemplate{}, fmt.Errorf("path %q must start with /", text)
	}
	pt := pathTemplate{text: text}
	parts := strings.Split(text[1:], "/")
	seen := map[string]bool{}
	for i, p := range parts {
		last := i == len(parts)-1
		switch {
		case p == "*" && last:
			pt.rest = true
		case p == "*":
			pt.segments = append(pt.segments, segment{wild: true})
		case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
			name, expr, hasRe := strings.Cut(p[1:len(p)-1], ":")
			if !isIdent(name) {
				return pathTemplate{}, fmt.Errorf("path %q: parameter {%s} needs a name of letters, digits, _ or -", text, p[1:len(p)-1])
			}
			if seen[name] {
				return pathTemplate{}, fmt.Errorf("path %q: parameter {%s} appears twice", text, name)
			}
			seen[name] = true
			seg := segment{param: name, wild: true}
			if hasRe {
				re, err := regexp.Compile("^(?:" + expr + ")$")
				if err != nil {
					return pathTemplate{}, fmt.Errorf("path %q: parameter {%s}: bad regex: %v", text, name, err)
				}
				seg.re = re
			}
			pt.segments = append(pt.segments, seg)
		case strings.ContainsAny(p, "{}*"):
			return pathTemplate{}, fmt.Errorf("path %q: segment %q mixes text with {param} or *; a parameter or * takes a whole segment", text, p)
		default:
			pt.segments = append(pt.segments, segment{lit: p})
		}
	}
	return pt, nil
}

// params binds the template's parameters to a path that the index already
// matched structurally; ok is false when a regex constraint fails.
func (pt *pathTemplate) params(path string) (ps params, ok bool) {
	rest := strings.TrimPrefix(path, "/")
	for i, seg := range pt.segments {
		var s string
		s, rest, _ = strings.Cut(rest, "/")
		if seg.param == "" {
			continue
		}
		if seg.re != nil && !seg.re.MatchString(s) {
			return nil, false
		}
		if ps == nil {
			ps = make(params, 0, len(pt.segments)-i)
		}
		ps = append(ps, param{seg.param, s})
	}
	return ps, true
}

type param struct{ name, value string }

type params []param

func (ps params) get(name string) (string, bool) {
	for _, p := range ps {
		if p.name == name {
			return p.value, true
		}
	}
	return "", false
}

// statusSet is a status condition: codes and classes (2xx). Empty means any.
type statusSet struct {
	codes   []int
	classes uint8 // bit n set: class nxx
}

func (s statusSet) any() bool { return len(s.codes) == 0 && s.classes == 0 }

func (s statusSet) has(code int) bool {
	if s.any() {
		return true
	}
	if c := code / 100; c >= 1 && c <= 5 && s.classes&(1<<c) != 0 {
		return true
	}
	for _, c := range s.codes {
		if c == code {
			return true
		}
	}
	return false
}

// addStatus parses one status item: 201, "201", "2xx".
func (s *statusSet) add(item string) error {
	if len(item) == 3 && strings.EqualFold(item[1:], "xx") && item[0] >= '1' && item[0] <= '5' {
		s.classes |= 1 << (item[0] - '0')
		return nil
	}
	code, err := strconv.Atoi(item)
	if err != nil || code < 100 || code > 599 {
		return fmt.Errorf("status %q is not a code (100-599) or a class (1xx-5xx)", item)
	}
	s.codes = append(s.codes, code)
	return nil
}

// only says whether the set contains nothing but the given codes, e.g. 204.
func (s statusSet) only(codes ...int) bool {
	if s.any() || s.classes != 0 {
		return false
	}
	for _, c := range s.codes {
		found := false
		for _, want := range codes {
			found = found || c == want
		}
		if !found {
			return false
		}
	}
	return true
}

// equality is one `query:` or `header:` condition.
type equality struct {
	name, value string
}

func queryMatches(conds []equality, q url.Values) bool {
	for _, c := range conds {
		vs, ok := q[c.name]
		if !ok {
			return false
		}
		found := false
		for _, v := range vs {
			found = found || v == c.value
		}
		if !found {
			return false
		}
	}
	return true
}

func headerMatches(conds []equality, h http.Header) bool {
	for _, c := range conds {
		found := false
		for _, v := range h.Values(c.name) {
			found = found || v == c.value
		}
		if !found {
			return false
		}
	}
	return true
}
