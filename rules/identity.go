package rules

import (
	"strings"

	"github.com/auditproxy/auditproxy/identity"
)

// Option changes how a rules file is loaded.
type Option func(*Set)

// WithBindings gives the set the identity bindings to learn into and look
// up in. They outlive the set: a reload must not forget who is logged in.
// Without it, a file that uses bind/identity gets memory-only bindings of
// its own.
func WithBindings(b *identity.Bindings) Option {
	return func(s *Set) { s.bindings = b }
}

// tokenSource says where JWTs are found (jwt.from) and how they are
// checked (jwt.verify).
type tokenSource struct {
	from     []source           // default: header.Authorization
	verifier *identity.Verifier // nil: claims are read without verification
	decoder  *identity.Decoder  // when not verifying; remembers decoded tokens
}

var defaultTokenFrom = []source{{kind: srcHeader, key: "Authorization", text: "header.Authorization"}}

// bindSpec is a rule's `bind:` entry: what this exchange teaches about the
// requests that follow it.
type bindSpec struct {
	slot string // what later requests carry, as a source: cookie.sid, jwt.id
	key  source // where this exchange has that value: response.cookie.sid
	id   expr
	name expr
}

// token returns the first JWT found in the places jwt.from lists. A header
// value loses its scheme word (Bearer, Token, JWT ...); values that are not
// three dot-separated parts are not tokens.
func (b *builder) token() string {
	from := b.set.tokens.from
	if len(from) == 0 {
		from = defaultTokenFrom
	}
	for i := range from {
		v := b.rawSource(&from[i])
		if !v.ok {
			continue
		}
		t := strings.TrimSpace(v.str)
		if scheme, rest, ok := strings.Cut(t, " "); ok && isIdent(scheme) {
			t = strings.TrimSpace(rest)
		}
		if strings.Count(t, ".") == 2 {
			return t
		}
	}
	return ""
}

// jwtClaims reads the claims of the request's token once: verified when
// the file says jwt.verify, in which case a token that fails yields no
// claims at all, and the event says why.
func (b *builder) jwtClaims() []byte {
	if b.claimsOK {
		return b.claims
	}
	b.claimsOK = true
	tok := b.token()
	if tok == "" {
		return nil
	}
	if v := b.set.tokens.verifier; v != nil {
		claims, err := v.Verify(tok)
		if err != nil {
			b.claimsErr = err.Error()
			return nil
		}
		b.claims = claims
		return claims
	}
	b.claims, _ = b.set.tokens.decoder.Decode(tok)
	return b.claims
}

func (b *builder) claim(key string) value {
	claims := b.jwtClaims()
	if b.claimsErr != "" {
		b.warn(b.claimsErr + "; nothing taken from the token")
	}
	if claims == nil {
		return value{}
	}
	return getJSON(claims, key)
}

// identityOf resolves identity.id / identity.name: the first slot of
// identities.lookup whose value in this request has a learned binding.
func (b *builder) identityOf() (identity.Identity, bool) {
	if b.set.bindings == nil {
		return identity.Identity{}, false
	}
	for i := range b.set.lookup {
		slot := &b.set.lookup[i]
		v := b.rawSource(slot)
		if !v.ok || v.str == "" {
			continue
		}
		if id, ok := b.set.bindings.Lookup(slot.text, v.str); ok {
			return id, true
		}
	}
	return identity.Identity{}, false
}

// learn applies the rule's bind and unbind entries. When explaining, it
// only reports what it would do.
func (b *builder) learn() {
	r := b.rule
	for _, spec := range r.bind {
		key := b.rawSource(&spec.key)
		if !key.ok || key.str == "" {
			b.warn("bind " + spec.slot + ": " + spec.key.text + " has no value; nothing learned")
			continue
		}
		id := identity.Identity{ID: b.text("bind."+spec.slot+".id", spec.id), Name: b.text("bind."+spec.slot+".name", spec.name)}
		if id == (identity.Identity{}) {
			b.warn("bind " + spec.slot + ": neither id nor name has a value; nothing learned")
			continue
		}
		if b.trace == nil {
			b.set.bindings.Bind(spec.slot, key.str, id)
		}
	}
	for i := range r.unbind {
		slot := &r.unbind[i]
		if v := b.rawSource(slot); v.ok && v.str != "" {
			if b.trace != nil {
				*b.trace = append(*b.trace, TraceValue{Field: "unbind", Source: slot.text, Value: "(forgotten)"})
			} else {
				b.set.bindings.Drop(slot.text, v.str)
			}
		}
	}
}
