package identity

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidwall/gjson"
)

// VerifyConfig says which JWTs a Verifier accepts.
type VerifyConfig struct {
	// Algorithms allowed, among HS256, HS384, HS512, RS256, RS384, RS512,
	// PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA. Each must fit a
	// configured key. Empty means every one the keys fit. "none" is never
	// allowed.
	Algorithms []string
	// KeyFile is a PEM public key (RSA, ECDSA or Ed25519; PKIX, PKCS #1 or
	// a certificate) or, for HS*, a file holding the shared secret (trailing
	// newlines trimmed). A file that looks like a key or like JSON is never
	// used as a secret. A secret of any length is taken: RFC 7518 wants one
	// as long as the hash, but the legacy app chose it, not us. A token's
	// "kid" is ignored.
	KeyFile string
	// JWKSFile is a JWK Set (RFC 7517) file. A token's "kid" picks the key;
	// a token without one is tried against every key that fits its
	// algorithm. Set exactly one of KeyFile and JWKSFile.
	JWKSFile string
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// 0 allows none.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheSize is how many tokens are remembered after their signature
	// was verified, so that the same token on the next request costs a
	// lookup instead of a signature check (RS256 and ES256 take tens of
	// microseconds). Validity times are checked again on every use. 0
	// means 4096; negative, no cache.
	CacheSize int
}

// Verifier checks JWT signatures and validity times. Keys are read once, by
// NewVerifier; tokens whose signature held are remembered (see
// VerifyConfig.CacheSize). It is safe for concurrent use.
type Verifier struct {
	keys   []key
	byKID  bool // keys come from a JWKS: the token's kid chooses
	algs   []string
	parser *jwt.Parser
	now    func() time.Time
	leeway time.Duration

	cache *tokenCache[verified] // nil: no cache
}

// verified is a token whose signature held: its claims, and the times to
// check again at each use.
type verified struct {
	claims        []byte
	exp, nbf, iat time.Time // zero when the token has none
}

// NewVerifier reads the keys cfg names and checks that every allowed
// algorithm fits one of them.
func NewVerifier(cfg VerifyConfig) (*Verifier, error) {
	if (cfg.KeyFile == "") == (cfg.JWKSFile == "") {
		return nil, errors.New("configuring jwt verification: set exactly one of KeyFile and JWKSFile")
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("configuring jwt verification: leeway %v is negative", cfg.Leeway)
	}
	v := &Verifier{byKID: cfg.JWKSFile != ""}
	source := cfg.KeyFile
	if v.byKID {
		source = cfg.JWKSFile
		keys, err := readJWKS(cfg.JWKSFile)
		if err != nil {
			return nil, err
		}
		v.keys = keys
	} else {
		k, err := readKeyFile(cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		v.keys = []key{k}
	}
	algs, err := allowed(cfg.Algorithms, v.keys)
	if err != nil {
		return nil, fmt.Errorf("checking jwt algorithms against %q: %w", source, err)
	}
	v.algs = algs
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	v.now, v.leeway = now, cfg.Leeway
	size := cfg.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	v.cache = newTokenCache[verified](size)
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(algs), // the library's own guard against alg confusion and "none"
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
		// Padding changes no signed byte (the signature covers the text
		// as sent), and DecodeUnverified accepts it too.
		jwt.WithPaddingAllowed(),
	)
	return v, nil
}

// allowed returns the algorithms to accept: names, checked, or when empty
// every algorithm some key fits.
func allowed(names []string, keys []key) ([]string, error) {
	fitsSome := func(alg string) bool {
		for _, k := range keys {
			if k.fits(alg) {
				return true
			}
		}
		return false
	}
	var algs []string
	if len(names) == 0 {
		for _, a := range algorithms {
			if fitsSome(a.name) {
				algs = append(algs, a.name)
			}
		}
		return algs, nil
	}
	for _, name := range names {
		if strings.EqualFold(name, "none") {
			return nil, errors.New(`algorithm "none" is never allowed`)
		}
		kind, ok := algKind(name)
		if !ok {
			return nil, fmt.Errorf("unknown algorithm %q (want HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)", name)
		}
		if !fitsSome(name) {
			return nil, fmt.Errorf("algorithm %s needs a %s, and no key is one", name, kind)
		}
		if !contains(algs, name) {
			algs = append(algs, name)
		}
	}
	return algs, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// reason is a short, human reason why a token was refused. Verify returns
// nothing else, so that an event warning never carries library jargon.
type reason string

func (r reason) Error() string { return string(r) }

const (
	errMalformed = reason("jwt malformed")
	errSignature = reason("jwt signature invalid")
)

// Verify checks token's signature, algorithm and times (exp, nbf, iat; each
// only when present) and returns its payload, a JSON object. The error is a
// short reason fit for an event warning, such as "jwt signature invalid" or
// "jwt expired at 2026-01-02T15:04:05Z"; claims are nil whenever it is not.
// The claims of a remembered token are shared: callers only read them.
func (v *Verifier) Verify(token string) (claims []byte, err error) {
	if claims, ok := v.remembered(token); ok {
		return claims, nil
	}
	var c verifiedClaims
	tok, err := v.parser.ParseWithClaims(token, &c, v.keyFor)
	if err != nil {
		return nil, v.explain(tok, &c, err)
	}
	// A payload of null, say, decodes without error but is no claims set.
	if t := bytes.TrimLeft(c.raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errMalformed
	}
	v.remember(token, &c)
	return c.raw, nil
}

// remembered returns the claims of a token verified before whose validity
// times still hold, with the parser's own rules (exp: now < exp + leeway;
// nbf and iat: now + leeway >= them). A token past them is forgotten and
// verified again, which says why it fails.
func (v *Verifier) remembered(token string) ([]byte, bool) {
	e, ok := v.cache.get(token)
	if !ok {
		return nil, false
	}
	now := v.now()
	if (!e.exp.IsZero() && !now.Before(e.exp.Add(v.leeway))) ||
		(!e.nbf.IsZero() && now.Add(v.leeway).Before(e.nbf)) ||
		(!e.iat.IsZero() && now.Add(v.leeway).Before(e.iat)) {
		v.cache.forget(token)
		return nil, false
	}
	return e.claims, true
}

func (v *Verifier) remember(token string, c *verifiedClaims) {
	e := verified{claims: c.raw}
	if c.Exp != nil {
		e.exp = c.Exp.Time
	}
	if c.Nbf != nil {
		e.nbf = c.Nbf.Time
	}
	if c.Iat != nil {
		e.iat = c.Iat.Time
	}
	v.cache.put(token, e)
}

// keyFor is the parser's key function: it runs once the algorithm has
// passed WithValidMethods, and picks the keys that may verify the token.
func (v *Verifier) keyFor(tok *jwt.Token) (any, error) {
	// RFC 7515 section 4.1.11: a token whose "crit" extensions the
	// verifier does not understand (it understands none) must be refused.
	if _, ok := tok.Header["crit"]; ok {
		return nil, reason("jwt critical header extensions not supported")
	}
	if !v.byKID {
		// One key, and every allowed algorithm fits it (NewVerifier checked).
		return v.keys[0].pub, nil
	}
	alg := tok.Method.Alg()
	kidValue, hasKID := tok.Header["kid"]
	kid, isString := kidValue.(string)
	if hasKID && !isString {
		return nil, errMalformed
	}
	var set jwt.VerificationKeySet
	known := false
	for _, k := range v.keys {
		if hasKID && k.id != kid {
			continue
		}
		known = true
		if k.fits(alg) {
			set.Keys = append(set.Keys, k.pub)
		}
	}
	switch {
	case hasKID && !known:
		return nil, reason("jwt key id " + quoted(kid) + " unknown")
	case len(set.Keys) == 0 && hasKID:
		return nil, reason("jwt algorithm " + alg + " does not fit key id " + quoted(kid))
	case len(set.Keys) == 0: // not reached: NewVerifier allows only algorithms some key fits
		return nil, reason("jwt algorithm " + alg + " fits no key")
	case len(set.Keys) == 1:
		return set.Keys[0], nil
	}
	return set, nil
}

// explain turns a parser error into a reason.
func (v *Verifier) explain(tok *jwt.Token, c *verifiedClaims, err error) error {
	var r reason
	if errors.As(err, &r) {
		return r
	}
	if tok == nil {
		return errMalformed
	}
	at := func(d *jwt.NumericDate) string {
		if d == nil {
			return "?"
		}
		return d.UTC().Format(time.RFC3339)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable): // alg missing or not one the library knows
		alg, ok := tok.Header["alg"].(string)
		if !ok {
			return reason("jwt algorithm missing")
		}
		return reason("jwt algorithm " + quoted(alg) + " not allowed")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok.Method != nil && !contains(v.algs, tok.Method.Alg()) {
			return reason("jwt algorithm " + tok.Method.Alg() + " not allowed")
		}
		return errSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return reason("jwt expired at " + at(c.Exp))
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return reason("jwt not valid before " + at(c.Nbf))
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reason("jwt issued in the future, at " + at(c.Iat))
	}
	return reason("jwt invalid")
}

// quoted quotes an attacker-chosen header value for a warning, cut short.
func quoted(s string) string {
	const max = 40
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// verifiedClaims keeps the payload as it was signed, and decodes only the
// registered time claims the parser checks. Leaving iss, sub and aud alone
// means a legacy issuer's odd shapes there (a numeric sub) do not make a
// genuine token fail.
type verifiedClaims struct {
	raw           []byte
	Exp, Nbf, Iat *jwt.NumericDate
}

func (c *verifiedClaims) UnmarshalJSON(b []byte) error {
	var t struct {
		Exp *jwt.NumericDate `json:"exp"`
		Nbf *jwt.NumericDate `json:"nbf"`
		Iat *jwt.NumericDate `json:"iat"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return err
	}
	c.raw = bytes.Clone(b)
	c.Exp, c.Nbf, c.Iat = t.Exp, t.Nbf, t.Iat
	return nil
}

var _ jwt.Claims = (*verifiedClaims)(nil)

func (c *verifiedClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *verifiedClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf, nil }
func (c *verifiedClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *verifiedClaims) GetIssuer() (string, error)                   { return "", nil }
func (c *verifiedClaims) GetSubject() (string, error)                  { return "", nil }
func (c *verifiedClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// DecodeUnverified returns the payload of a compact JWS without checking
// its signature or times: what the client claims to be, which is what an
// audit trail of an app that verifies tokens itself records. ok is false
// for anything that is not three dot-separated parts with a base64url JSON
// object in the middle. It never panics.
func DecodeUnverified(token string) (claims []byte, ok bool) {
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil, false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil, false
	}
	claims, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(payload, "="))
	if err != nil {
		return nil, false
	}
	// gjson, because the rules engine reads the claims with it.
	if !gjson.ValidBytes(claims) || !gjson.ParseBytes(claims).IsObject() {
		return nil, false
	}
	return claims, true
}
