package discover

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A pattern is a path cut into segments, each literal text or param. It is
// the shape endpoints are grouped by; template turns it into a rules path.
type pattern []string

// param marks a segment that stands for any non-empty value. No literal
// segment can be "{}": segments with braces are always values.
const param = "{}"

// segments cuts a path the way the rules index does: the leading slash
// dropped, then every slash a boundary, so "/users/" has two segments and
// "/" has one (empty) segment.
func segments(path string) []string {
	return strings.Split(strings.TrimPrefix(path, "/"), "/")
}

// patternOf classifies the segments of one path.
func patternOf(path string) pattern {
	p := pattern(segments(path))
	for i, s := range p {
		if isValue(s) {
			p[i] = param
		}
	}
	return p
}

// InferTemplate returns the rules path template of paths that reach one
// endpoint: a segment stays literal when every path spells it the same and
// it does not look like a value (a number, UUID, hex id, random token,
// email or slug with a number); otherwise it becomes a parameter, named
// {id} when it is the last one and {<singular of the segment before>_id}
// before that: /orgs/acme/users/7 and /orgs/globex/users/8 give
// /orgs/{org_id}/users/{id}.
//
// The first path fixes the number of segments; paths with another number
// are ignored. No paths give "/".
func InferTemplate(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	p := patternOf(paths[0])
	for _, path := range paths[1:] {
		q := patternOf(path)
		if len(q) != len(p) {
			continue
		}
		for i := range p {
			if p[i] != q[i] {
				p[i] = param
			}
		}
	}
	return p.template()
}

// template spells the pattern as a rules path with named parameters.
func (p pattern) template() string {
	last := -1
	for i, s := range p {
		if s == param {
			last = i
		}
	}
	used := map[string]bool{}
	out := make([]string, len(p))
	for i, s := range p {
		if s != param {
			out[i] = s
			continue
		}
		name := "id"
		if i != last {
			name = "param"
			if i > 0 && p[i-1] != param {
				if w := singular(word(p[i-1])); w != "" {
					name = w + "_id"
				}
			}
		}
		for n := 2; used[name]; n++ {
			name = strings.TrimRight(name, "0123456789") + strconv.Itoa(n)
		}
		used[name] = true
		out[i] = "{" + name + "}"
	}
	return "/" + strings.Join(out, "/")
}

// covers reports whether every path of pattern q also fits p. Parameters
// never stand for an empty segment, as in rules.
func (p pattern) covers(q pattern) bool {
	if len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i] != q[i] && (p[i] != param || q[i] == "") {
			return false
		}
	}
	return true
}

func (p pattern) literals() int {
	n := 0
	for _, s := range p {
		if s != param {
			n++
		}
	}
	return n
}

// valueApart returns the one segment where p and q differ, when they differ
// in exactly one segment, both spell it as non-empty literal text, and the
// segment before it names a collection: /orgs/acme/users and
// /orgs/globex/users are one endpoint with an org in the middle, while
// /api/users and /api/projects, or /users/{}/roles and /users/{}/groups,
// are different endpoints.
func valueApart(p, q pattern) (int, bool) {
	if len(p) != len(q) {
		return 0, false
	}
	at := -1
	for i := range p {
		if p[i] == q[i] {
			continue
		}
		if at >= 0 {
			return 0, false
		}
		at = i
	}
	if at < 1 || p[at] == param || q[at] == param || p[at] == "" || q[at] == "" {
		return 0, false
	}
	return at, p[at-1] != param && plural(p[at-1])
}

// isValue says whether a path segment is data (an id, a name) rather than
// a word of the app's routes, or is something a template cannot spell.
func isValue(s string) bool {
	if s == "" {
		return false
	}
	// Templates keep braces and * for parameters, and the draft is YAML:
	// text that is not printable UTF-8 cannot be a literal.
	if strings.ContainsAny(s, "{}*@") || !utf8.ValidString(s) || strings.IndexFunc(s, notPrint) >= 0 {
		return true // @: emails and @handles
	}
	if len(s) >= 32 {
		return true // no route word is this long; tokens and digests are
	}
	base := s
	if i := strings.LastIndexByte(s, '.'); i > 0 {
		base = s[:i] // 42.json, report-2024.pdf
	}
	return isNumber(base) || isUUID(base) || isHexID(base) || isToken(base) || isNumberedSlug(base)
}

func notPrint(r rune) bool { return !unicode.IsPrint(r) }

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

// isHexID: digests and database ids (deadbeef42, a Mongo ObjectId). The
// digit keeps words made of a-f ("facade", "added") literal.
func isHexID(s string) bool {
	if len(s) < 8 {
		return false
	}
	digit := false
	for i := 0; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
		digit = digit || s[i] <= '9'
	}
	return digit
}

// isToken: a long run of letters and digits, like a base64url key.
func isToken(s string) bool {
	if len(s) < 16 {
		return false
	}
	var letter, digit bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c != '-' && c != '_':
			return false
		}
	}
	return letter && digit
}

// isNumberedSlug: hello-world-42, 2024-01-15, order_1001. A word with a
// digit in it (oauth2-callback, v2) stays literal.
func isNumberedSlug(s string) bool {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' })
	if len(parts) < 2 {
		return false
	}
	for _, p := range parts {
		if isNumber(p) {
			return true
		}
	}
	return false
}

// word turns a segment or name into a lowercase identifier for actions and
// parameter names: UsersManager -> users_manager, index.php -> index_php.
// It returns "" when nothing usable is left.
func word(s string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			if prevLower {
				b.WriteByte('_')
			}
			b.WriteRune(r + 'a' - 'A')
			prevLower = false
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			prevLower = true
		default:
			b.WriteByte('_')
			prevLower = false
		}
	}
	parts := strings.FieldsFunc(b.String(), func(r rune) bool { return r == '_' })
	return strings.Join(parts, "_")
}

// plural guesses whether a route word names a collection: users, orgs,
// companies. Good enough to tell /orgs/acme (an org) from /api/users.
func plural(s string) bool {
	s = strings.ToLower(s)
	return len(s) >= 3 && strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss") && !strings.HasSuffix(s, "us")
}

// singular undoes the common English plurals of a word.
func singular(w string) string {
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && len(w) > 3:
		return w[:len(w)-1]
	}
	return w
}
