package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// pathTemplate is a compiled path pattern: /users/{id}, /files/*,
// /users/{id:[0-9]+}. A {param} or a * in the middle matches exactly one
// segment, never an empty one; a trailing * matches the rest of the path,
// including nothing.
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

// match checks path against the template from scratch (the index does
// this structurally for Match; Explain needs it spelled out) and binds the
// parameters. With trailingSlash, one trailing slash is ignored.
func (pt *pathTemplate) match(path string, trailingSlash bool) (params, bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return nil, false
	}
	if trailingSlash && len(pt.segments) > 0 && pt.segments[len(pt.segments)-1] != (segment{}) {
		rest = strings.TrimSuffix(rest, "/")
	}
	segs := strings.Split(rest, "/")
	if len(segs) < len(pt.segments) || (!pt.rest && len(segs) != len(pt.segments)) {
		return nil, false
	}
	if pt.rest && len(pt.segments) == 0 && rest == "" {
		return nil, true
	}
	for i, seg := range pt.segments {
		if (!seg.wild && segs[i] != seg.lit) || (seg.wild && segs[i] == "") {
			return nil, false
		}
	}
	return pt.params(path)
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
	ranges  []statusRange
	items   []string // as written, for messages
}

func (s statusSet) any() bool { return len(s.codes) == 0 && s.classes == 0 && len(s.ranges) == 0 }

func (s statusSet) String() string {
	if len(s.items) == 1 {
		return s.items[0]
	}
	return "[" + strings.Join(s.items, ", ") + "]"
}

// names reports whether code is listed by itself (not through a class or
// range): how a rule asks for a redirect that is otherwise skipped.
func (s statusSet) names(code int) bool { return slices.Contains(s.codes, code) }

func (s statusSet) has(code int) bool {
	if s.any() {
		return true
	}
	if c := code / 100; c >= 1 && c <= 5 && s.classes&(1<<c) != 0 {
		return true
	}
	for _, r := range s.ranges {
		if code >= r.lo && code <= r.hi {
			return true
		}
	}
	return slices.Contains(s.codes, code)
}

// add parses one status item: 201, "201", "2xx", "200-299".
func (s *statusSet) add(item string) error {
	s.items = append(s.items, item)
	if lo, hi, ok := strings.Cut(item, "-"); ok {
		l, err1 := strconv.Atoi(strings.TrimSpace(lo))
		h, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
			return fmt.Errorf("status range %q: want LOW-HIGH within 100-599, e.g. 200-299", item)
		}
		s.ranges = append(s.ranges, statusRange{l, h})
		return nil
	}
	if len(item) == 3 && strings.EqualFold(item[1:], "xx") && item[0] >= '1' && item[0] <= '5' {
		s.classes |= 1 << (item[0] - '0')
		return nil
	}
	code, err := strconv.Atoi(item)
	if err != nil || code < 100 || code > 599 {
		return fmt.Errorf("status %q is not a code (100-599), a class (1xx-5xx) or a range (200-299)", item)
	}
	s.codes = append(s.codes, code)
	return nil
}

// only says whether the set contains nothing but the given codes, e.g. 204.
func (s statusSet) only(codes ...int) bool {
	if s.any() || s.classes != 0 || len(s.ranges) != 0 {
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
