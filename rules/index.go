package rules

import (
	"slices"
	"strings"
)

// index finds the rules whose method and path could match a request without
// looking at the others: a tree of path segments per method, so the cost of
// a lookup depends on the path's depth, not on the number of rules.
type index struct {
	byMethod  map[string]*node
	anyMethod *node
}

type node struct {
	lit  map[string]*node
	wild *node // one segment of any value: {param} or a middle *
	end  []int // rules whose template ends here
	rest []int // rules whose template ends here with a trailing * (or has no path)
}

func newIndex() *index {
	return &index{byMethod: map[string]*node{}, anyMethod: &node{}}
}

// add files rule i under each of its methods (all methods when none).
// With trailingSlash the rule is filed under the path with one trailing
// slash too.
func (ix *index) add(i int, methods []string, pt *pathTemplate, hasPath, trailingSlash bool) {
	roots := []*node{ix.anyMethod}
	if len(methods) > 0 {
		roots = roots[:0]
		for _, m := range methods {
			n := ix.byMethod[m]
			if n == nil {
				n = &node{}
				ix.byMethod[m] = n
			}
			roots = append(roots, n)
		}
	}
	for _, n := range roots {
		if !hasPath {
			n.rest = append(n.rest, i)
			continue
		}
		for _, seg := range pt.segments {
			n = n.child(seg)
		}
		if pt.rest {
			n.rest = append(n.rest, i)
			continue
		}
		n.end = append(n.end, i)
		if trailingSlash && len(pt.segments) > 0 && pt.segments[len(pt.segments)-1] != (segment{}) {
			slash := n.child(segment{lit: ""})
			slash.end = append(slash.end, i)
		}
	}
}

func (n *node) child(seg segment) *node {
	if seg.wild {
		if n.wild == nil {
			n.wild = &node{}
		}
		return n.wild
	}
	if n.lit == nil {
		n.lit = map[string]*node{}
	}
	c := n.lit[seg.lit]
	if c == nil {
		c = &node{}
		n.lit[seg.lit] = c
	}
	return c
}

// candidates appends to dst, in rule order, every rule whose method and path
// structure fit; conditions, regexes and status are checked by the caller.
func (ix *index) candidates(dst []int, method, path string) []int {
	rest := strings.TrimPrefix(path, "/")
	if n := ix.byMethod[method]; n != nil {
		dst = n.collect(dst, rest, true)
	}
	dst = ix.anyMethod.collect(dst, rest, true)
	slices.Sort(dst)
	return slices.Compact(dst)
}

// collect walks the remaining path. more is false once the path is used up.
func (n *node) collect(dst []int, rest string, more bool) []int {
	dst = append(dst, n.rest...)
	if !more {
		return append(dst, n.end...)
	}
	seg, tail, hasTail := strings.Cut(rest, "/")
	if c := n.lit[seg]; c != nil {
		dst = c.collect(dst, tail, hasTail)
	}
	if n.wild != nil && seg != "" { // a parameter is never empty
		dst = n.wild.collect(dst, tail, hasTail)
	}
	return dst
}
