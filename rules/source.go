package rules

import (
	"fmt"
	"strings"
)

// sourceKind says where a value comes from in an exchange.
type sourceKind uint8

const (
	srcPath sourceKind = iota + 1
	srcQuery
	srcHeader
	srcCookie
	srcRequestBody
	srcResponseBody
	srcResponseHeader
	srcJWT
	srcBasicUser
	srcClientIP
	srcResponseCookie
	srcTLS
	srcAuthProxyUser
	srcIdentity
)

// sourceSyntax is the one syntax for "where a value comes from", shared by
// actor, target, description templates and (later) conditions.
var sourceSyntax = []struct {
	prefix string // with the trailing dot when a key follows
	kind   sourceKind
}{
	{"path.", srcPath},
	{"query.", srcQuery},
	{"header.", srcHeader},
	{"cookie.", srcCookie},
	{"request.body.", srcRequestBody},
	{"response.body.", srcResponseBody},
	{"response.header.", srcResponseHeader},
	{"response.cookie.", srcResponseCookie},
	{"tls.", srcTLS},
	{"auth_proxy.user", srcAuthProxyUser},
	{"identity.", srcIdentity},
	{"jwt.", srcJWT},
	{"basic.user", srcBasicUser},
	{"client.ip", srcClientIP},
}

const sourceHelp = "sources are path.NAME, query.NAME, header.NAME, cookie.NAME, request.body.PATH, response.body.PATH, response.header.NAME, response.cookie.NAME, jwt.CLAIM, basic.user, client.ip, tls.subject|cn|issuer|serial|email|dns, auth_proxy.user, identity.id|name"

// tlsFields are the names after tls.
var tlsFields = []string{"subject", "cn", "issuer", "serial", "email", "dns"}

// source is one parsed value source, e.g. request.body.user.email.
type source struct {
	kind sourceKind
	key  string // the part after the prefix: a param, header, cookie or claim name, or a gjson path
	text string // as written, for messages
	// sensitive: its values are always [FILTERED]. Decided once, when the
	// set is loaded (markSensitive), not for every value.
	sensitive bool
}

// parseSource reads s as a source. ok is false when s does not look like a
// source at all (a literal); err is set when it looks like one but is wrong.
func parseSource(s string) (src source, ok bool, err error) {
	for _, syn := range sourceSyntax {
		if !strings.HasSuffix(syn.prefix, ".") {
			if s == syn.prefix {
				return source{kind: syn.kind, text: s}, true, nil
			}
			continue
		}
		if key, found := strings.CutPrefix(s, syn.prefix); found {
			if key == "" {
				return source{}, true, fmt.Errorf("source %q needs a name after the dot", s)
			}
			if syn.kind == srcTLS && !containsString(tlsFields, key) {
				return source{}, true, fmt.Errorf("source %q: tls. takes one of %s", s, strings.Join(tlsFields, ", "))
			}
			if syn.kind == srcIdentity && key != "id" && key != "name" {
				return source{}, true, fmt.Errorf("source %q: identity. takes id or name", s)
			}
			return source{kind: syn.kind, key: key, text: s}, true, nil
		}
		if s == strings.TrimSuffix(syn.prefix, ".") {
			return source{}, true, fmt.Errorf("source %q needs a name: %s%s", s, syn.prefix, "NAME")
		}
	}
	// Something dotted that no prefix claims is almost certainly a typo of a
	// source (requst.body.email), not literal text: say so instead of
	// silently emitting the words.
	if root, _, dotted := strings.Cut(s, "."); dotted && isIdent(root) {
		return source{}, true, fmt.Errorf("unknown source %q (%s)", s, sourceHelp)
	}
	return source{}, false, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// leafName is the field name a source's value is known by, for redaction:
// request.body.user.password -> password, header.Authorization -> Authorization.
func (s source) leafName() string {
	k := s.key
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		k = k[i+1:]
	}
	return k
}
