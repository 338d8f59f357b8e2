package rules

import (
	"fmt"
	"slices"
	"strings"
)

// shadowed warns about rules that can never emit because an earlier rule
// without continue matches every request they match. Candidates come from
// the index (a path standing for the later rule, its parameters replaced by
// a value no literal equals), so the cost stays near linear in the rules.
func shadowed(s *Set) Errors {
	var warns Errors
	for bi, b := range s.rules {
		for _, ai := range shadowCandidates(s, b) {
			if ai >= bi {
				break
			}
			a := s.rules[ai]
			if !a.Continue && covers(a, b) {
				warns = append(warns, &Error{File: s.File, Line: b.Line, Col: b.Col, Rule: b.Name,
					Msg: fmt.Sprintf("can never match: rule %q (line %d) comes first and matches every request this one does (move this rule above it, or give %q continue: true)", a.Name, a.Line, a.Name)})
				break
			}
		}
	}
	return warns
}

// sentinel stands for "any value" in a representative path.
const sentinel = "\x00"

func shadowCandidates(s *Set, b *Rule) []int {
	var segs []string
	for _, seg := range b.path.segments {
		if seg.wild {
			segs = append(segs, sentinel)
		} else {
			segs = append(segs, seg.lit)
		}
	}
	if b.path.rest || !b.hasPath {
		segs = append(segs, sentinel)
	}
	path := "/" + strings.Join(segs, "/")
	var out []int
	if len(b.methods) == 0 {
		out = s.index.anyMethod.collect(nil, strings.TrimPrefix(path, "/"), true)
	} else {
		out = s.index.candidates(nil, b.methods[0], path)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// covers reports, conservatively, whether a matches every request b does.
func covers(a, b *Rule) bool {
	if len(a.methods) > 0 {
		if len(b.methods) == 0 {
			return false
		}
		for _, m := range b.methods {
			if !slices.Contains(a.methods, m) {
				return false
			}
		}
	}
	if len(a.hosts) > 0 {
		if len(b.hosts) == 0 {
			return false
		}
		for _, bh := range b.hosts {
			if !slices.ContainsFunc(a.hosts, func(ah hostPattern) bool {
				return ah == bh || (strings.HasPrefix(string(ah), "*.") && ah.match(strings.TrimPrefix(string(bh), "*.")))
			}) {
				return false
			}
		}
	}
	if a.hasPath && !pathCovers(a, b) {
		return false
	}
	if !statusCovers(a.status, b.status) {
		return false
	}
	if len(a.contentTypes) > 0 {
		if len(b.contentTypes) == 0 {
			return false
		}
		for _, ct := range b.contentTypes {
			if !slices.Contains(a.contentTypes, ct) {
				return false
			}
		}
	}
	for _, ac := range a.conds {
		if !slices.ContainsFunc(b.conds, func(bc condition) bool { return sameCondition(ac, bc) }) {
			return false
		}
	}
	return true
}

func pathCovers(a, b *Rule) bool {
	if !b.hasPath || (b.trailingSlash && !a.trailingSlash) {
		return false
	}
	as, bs := a.path.segments, b.path.segments
	if a.path.rest {
		if len(bs) < len(as) {
			return false
		}
	} else if b.path.rest || len(as) != len(bs) {
		return false
	}
	for i, sa := range as {
		sb := bs[i]
		switch {
		case sa.wild && sa.re == nil:
		case sa.wild:
			if sb.wild || !sa.re.MatchString(sb.lit) {
				return false
			}
		case sb.wild || sa.lit != sb.lit:
			return false
		}
	}
	return true
}

func statusCovers(a, b statusSet) bool {
	if a.any() {
		return true
	}
	if b.any() {
		return false
	}
	for c := 100; c <= 599; c++ {
		if b.has(c) && !a.has(c) {
			return false
		}
	}
	return true
}

func sameCondition(a, b condition) bool {
	if a.where != b.where || a.name != b.name || a.op != b.op || !slices.Equal(a.values, b.values) {
		return false
	}
	return (a.re == nil) == (b.re == nil) && (a.re == nil || a.re.String() == b.re.String())
}
