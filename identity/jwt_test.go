package identity

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// now is the fixed clock of the JWT tests.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

// testKeys are generated once: RSA key generation is slow on a small machine.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ec384     *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	secret    []byte
}

var keys = sync.OnceValue(func() testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var k testKeys
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.secret = []byte("correct horse battery staple, long enough for HS512 too")
	return k
})

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemPKIX(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func pemCert(t testing.TB, priv *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "issuer"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// sign makes a token; kid "" leaves the header without one.
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// alice is a valid claims set at now.
func alice() jwt.MapClaims {
	return jwt.MapClaims{"sub": "42", "name": "alice", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
}

func newVerifier(t testing.TB, cfg VerifyConfig) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = clockAt(now)
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkValid(t *testing.T, v *Verifier, token string) {
	t.Helper()
	claims, err := v.Verify(token)
	if err != nil {
		t.Fatalf("Verify: %v, want valid", err)
	}
	var got struct{ Sub, Name string }
	if err := json.Unmarshal(claims, &got); err != nil || got.Sub != "42" || got.Name != "alice" {
		t.Fatalf("claims = %s (%v), want sub 42 and name alice", claims, err)
	}
}

func checkRefused(t *testing.T, v *Verifier, token, want string) {
	t.Helper()
	claims, err := v.Verify(token)
	if err == nil || err.Error() != want {
		t.Fatalf("Verify error = %v, want %q", err, want)
	}
	if claims != nil {
		t.Fatalf("Verify returned claims %s with an error", claims)
	}
}

func TestVerifyKeyFileKinds(t *testing.T) {
	k := keys()
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	// An "EC PARAMETERS" block before the key, as openssl writes one, is skipped.
	ecWithParams := append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), pemPKIX(t, &k.ec.PublicKey)...)
	tests := []struct {
		name   string
		file   []byte
		method jwt.SigningMethod
		key    any
	}{
		{"rsa pkix RS256", pemPKIX(t, &k.rsa.PublicKey), jwt.SigningMethodRS256, k.rsa},
		{"rsa pkix PS256", pemPKIX(t, &k.rsa.PublicKey), jwt.SigningMethodPS256, k.rsa},
		{"rsa pkcs1 RS512", pkcs1, jwt.SigningMethodRS512, k.rsa},
		{"rsa certificate RS384", pemCert(t, k.rsa), jwt.SigningMethodRS384, k.rsa},
		{"rsa der", der, jwt.SigningMethodRS256, k.rsa},
		{"ecdsa P-256", ecWithParams, jwt.SigningMethodES256, k.ec},
		{"ecdsa P-384", pemPKIX(t, &k.ec384.PublicKey), jwt.SigningMethodES384, k.ec384},
		{"ed25519", pemPKIX(t, k.ed.Public()), jwt.SigningMethodEdDSA, k.ed},
		{"secret HS256", append(k.secret, '\n'), jwt.SigningMethodHS256, k.secret},
		{"secret HS512 crlf", append(k.secret, "\r\n"...), jwt.SigningMethodHS512, k.secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, VerifyConfig{KeyFile: writeFile(t, "key", tt.file)})
			checkValid(t, v, sign(t, tt.method, tt.key, alice(), ""))
		})
	}
}

func TestVerifyRefusals(t *testing.T) {
	k := keys()
	rsaPEM := pemPKIX(t, &k.rsa.PublicKey)
	v := newVerifier(t, VerifyConfig{KeyFile: writeFile(t, "rsa.pem", rsaPEM)})
	only256 := newVerifier(t, VerifyConfig{KeyFile: writeFile(t, "rsa.pem", rsaPEM), Algorithms: []string{"RS256"}})

	valid := sign(t, jwt.SigningMethodRS256, k.rsa, alice(), "")
	parts := strings.Split(valid, ".")
	evil := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"1","name":"root"}`))
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	shoutNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"NONE"}`))
	noAlg := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT"}`))
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, alice()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := alice()
		change(c)
		return c
	}
	crit := jwt.NewWithClaims(jwt.SigningMethodRS256, alice())
	crit.Header["crit"] = []string{"b64"}
	critToken, _ := crit.SignedString(k.rsa)

	tests := []struct {
		name  string
		v     *Verifier
		token string
		want  string
	}{
		{"wrong key", v, sign(t, jwt.SigningMethodRS256, k.rsa2, alice(), ""), "jwt signature invalid"},
		{"tampered payload", v, parts[0] + "." + evil + "." + parts[2], "jwt signature invalid"},
		{"tampered signature", v, parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("nope")), "jwt signature invalid"},
		{"expired", v, sign(t, jwt.SigningMethodRS256, k.rsa, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), ""), "jwt expired at 2026-03-01T11:00:00Z"},
		{"expiring now", v, sign(t, jwt.SigningMethodRS256, k.rsa, with(func(c jwt.MapClaims) { c["exp"] = now.Unix() }), ""), "jwt expired at 2026-03-01T12:00:00Z"},
		{"not yet valid", v, sign(t, jwt.SigningMethodRS256, k.rsa, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), ""), "jwt not valid before 2026-03-01T13:00:00Z"},
		{"issued in the future", v, sign(t, jwt.SigningMethodRS256, k.rsa, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), ""), "jwt issued in the future, at 2026-03-01T13:00:00Z"},
		{"exp not a number", v, sign(t, jwt.SigningMethodRS256, k.rsa, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), ""), "jwt malformed"},
		{"alg not allowed", only256, sign(t, jwt.SigningMethodRS512, k.rsa, alice(), ""), "jwt algorithm RS512 not allowed"},
		// The classic confusion: the RSA public key's PEM text as an HMAC secret.
		{"alg confusion", v, sign(t, jwt.SigningMethodHS256, rsaPEM, alice(), ""), "jwt algorithm HS256 not allowed"},
		{"alg none", v, none, "jwt algorithm none not allowed"},
		{"alg none with a signature", v, noneHeader + "." + parts[1] + "." + parts[2], "jwt algorithm none not allowed"},
		{"alg NONE", v, shoutNone + "." + parts[1] + ".", `jwt algorithm "NONE" not allowed`},
		{"alg missing", v, noAlg + "." + parts[1] + "." + parts[2], "jwt algorithm missing"},
		{"crit header", v, critToken, "jwt critical header extensions not supported"},
		{"empty", v, "", "jwt malformed"},
		{"garbage", v, "not a token", "jwt malformed"},
		{"two parts", v, parts[0] + "." + parts[1], "jwt malformed"},
		{"four parts", v, valid + ".x", "jwt malformed"},
		{"bad base64", v, "a.b.c", "jwt malformed"},
		{"payload null", v, sign(t, jwt.SigningMethodRS256, k.rsa, nil, ""), "jwt malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRefused(t, tt.v, tt.token, tt.want)
		})
	}
}

func TestVerifyNullPayloadIsMalformed(t *testing.T) {
	// jwt.NewWithClaims(…, nil) above signs "null"; make sure that is what
	// the test sends.
	k := keys()
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, nil, "")
	if payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1]); string(payload) != "null" {
		t.Fatalf("payload = %q, want null", payload)
	}
}

func TestVerifyLeeway(t *testing.T) {
	k := keys()
	file := writeFile(t, "secret", k.secret)
	expired := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "42", "name": "alice", "exp": now.Add(-30 * time.Second).Unix()}, "")
	early := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "42", "name": "alice", "nbf": now.Add(30 * time.Second).Unix(), "iat": now.Add(30 * time.Second).Unix()}, "")

	strict := newVerifier(t, VerifyConfig{KeyFile: file})
	checkRefused(t, strict, expired, "jwt expired at 2026-03-01T11:59:30Z")
	checkRefused(t, strict, early, "jwt not valid before 2026-03-01T12:00:30Z")

	lenient := newVerifier(t, VerifyConfig{KeyFile: file, Leeway: time.Minute})
	checkValid(t, lenient, expired)
	checkValid(t, lenient, early)

	tooLate := newVerifier(t, VerifyConfig{KeyFile: file, Leeway: time.Minute, Now: clockAt(now.Add(time.Minute))})
	checkRefused(t, tooLate, expired, "jwt expired at 2026-03-01T11:59:30Z")
}

func TestVerifyWithoutTimes(t *testing.T) {
	// Legacy issuers often set no exp at all; that is their choice to make.
	k := keys()
	v := newVerifier(t, VerifyConfig{KeyFile: writeFile(t, "secret", k.secret)})
	checkValid(t, v, sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "42", "name": "alice"}, ""))
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwks builds a JWK Set holding the test keys, with a few keys to skip.
func jwks(t testing.TB) []byte {
	t.Helper()
	k := keys()
	point, err := k.ec.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]any{"keys": []map[string]any{
		{"kty": "RSA", "kid": "r1", "use": "sig", "n": b64u(k.rsa.N.Bytes()), "e": b64u(big.NewInt(int64(k.rsa.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64u(point[1:33]), "y": b64u(point[33:])},
		{"kty": "OKP", "kid": "d1", "crv": "Ed25519", "x": b64u(k.ed.Public().(ed25519.PublicKey))},
		{"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64u(k.secret)},
		// Skipped, as RFC 7517 section 5 asks: unknown curve, unknown
		// type, an encryption key, an unsupported alg.
		{"kty": "OKP", "kid": "x1", "crv": "X25519", "x": b64u(make([]byte, 32))},
		{"kty": "PQC", "kid": "q1"},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64u(k.rsa2.N.Bytes()), "e": "AQAB"},
		{"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": b64u(k.rsa2.N.Bytes()), "e": "AQAB"},
	}}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestVerifyJWKS(t *testing.T) {
	k := keys()
	v := newVerifier(t, VerifyConfig{JWKSFile: writeFile(t, "jwks.json", jwks(t))})
	valid := []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"rsa by kid", jwt.SigningMethodRS256, k.rsa, "r1"},
		{"ecdsa by kid", jwt.SigningMethodES256, k.ec, "e1"},
		{"ed25519 by kid", jwt.SigningMethodEdDSA, k.ed, "d1"},
		{"hmac by kid", jwt.SigningMethodHS256, k.secret, "h1"},
		{"rsa without kid", jwt.SigningMethodPS256, k.rsa, ""},
		{"ecdsa without kid", jwt.SigningMethodES256, k.ec, ""},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			checkValid(t, v, sign(t, tt.method, tt.key, alice(), tt.kid))
		})
	}

	kidNumber := jwt.NewWithClaims(jwt.SigningMethodRS256, alice())
	kidNumber.Header["kid"] = 7
	kidNumberToken, _ := kidNumber.SignedString(k.rsa)
	refused := []struct {
		name  string
		token string
		want  string
	}{
		{"unknown kid", sign(t, jwt.SigningMethodRS256, k.rsa, alice(), "k9"), `jwt key id "k9" unknown`},
		{"skipped key's kid", sign(t, jwt.SigningMethodRS256, k.rsa2, alice(), "enc"), `jwt key id "enc" unknown`},
		{"long kid cut", sign(t, jwt.SigningMethodRS256, k.rsa, alice(), strings.Repeat("k", 100)), `jwt key id "` + strings.Repeat("k", 40) + `"... unknown`},
		{"alg does not fit kid", sign(t, jwt.SigningMethodES256, k.ec, alice(), "r1"), `jwt algorithm ES256 does not fit key id "r1"`},
		{"alg other than the JWK's", sign(t, jwt.SigningMethodHS512, k.secret, alice(), "h1"), "jwt algorithm HS512 not allowed"},
		{"kid of another key", sign(t, jwt.SigningMethodRS256, k.rsa2, alice(), "r1"), "jwt signature invalid"},
		{"no kid, no key verifies", sign(t, jwt.SigningMethodRS256, k.rsa2, alice(), ""), "jwt signature invalid"},
		{"alg no key fits", sign(t, jwt.SigningMethodES384, k.ec384, alice(), ""), "jwt algorithm ES384 not allowed"},
		{"kid not a string", kidNumberToken, "jwt malformed"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			checkRefused(t, v, tt.token, tt.want)
		})
	}
}

func TestNewVerifierErrors(t *testing.T) {
	k := keys()
	rsaFile := writeFile(t, "rsa.pem", pemPKIX(t, &k.rsa.PublicKey))
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.rsa)
	privFile := writeFile(t, "priv.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	// Go no longer generates keys this small; any odd 512-bit modulus will do.
	small := &rsa.PublicKey{N: new(big.Int).SetBit(big.NewInt(1), 511, 1), E: 65537}
	smallFile := writeFile(t, "small.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(small)}))
	offCurve := `{"keys":[{"kty":"EC","crv":"P-256","x":"` + b64u(make([]byte, 32)) + `","y":"` + b64u(make([]byte, 32)) + `"}]}`
	tests := []struct {
		name string
		cfg  VerifyConfig
		want string
	}{
		{"no key", VerifyConfig{}, "set exactly one of KeyFile and JWKSFile"},
		{"two keys", VerifyConfig{KeyFile: rsaFile, JWKSFile: rsaFile}, "set exactly one of KeyFile and JWKSFile"},
		{"missing file", VerifyConfig{KeyFile: "/nonexistent/k.pem"}, `reading jwt key file "/nonexistent/k.pem": open`},
		{"negative leeway", VerifyConfig{KeyFile: rsaFile, Leeway: -time.Second}, "leeway -1s is negative"},
		{"alg none", VerifyConfig{KeyFile: rsaFile, Algorithms: []string{"none"}}, `algorithm "none" is never allowed`},
		{"alg unknown", VerifyConfig{KeyFile: rsaFile, Algorithms: []string{"RS257"}}, `unknown algorithm "RS257"`},
		{"alg does not fit key", VerifyConfig{KeyFile: rsaFile, Algorithms: []string{"RS256", "HS256"}}, "algorithm HS256 needs a shared secret, and no key is one"},
		{"private key", VerifyConfig{KeyFile: privFile}, `PEM block "PRIVATE KEY" holds a private key`},
		{"small rsa key", VerifyConfig{KeyFile: smallFile}, "RSA key of 512 bits is too small"},
		{"pem without key", VerifyConfig{KeyFile: writeFile(t, "x.pem", []byte("-----BEGIN NOTHING-----\n-----END NOTHING-----\n"))}, "no PEM block of type"},
		{"broken pem", VerifyConfig{KeyFile: writeFile(t, "x.pem", []byte("-----BEGIN PUBLIC KEY-----\nAAAA"))}, "no PEM block of type"},
		{"jwks as key file", VerifyConfig{KeyFile: writeFile(t, "jwks.json", jwks(t))}, "looks like JSON"},
		{"empty secret", VerifyConfig{KeyFile: writeFile(t, "secret", []byte("\n"))}, "shared secret is empty"},
		{"jwks missing", VerifyConfig{JWKSFile: "/nonexistent/jwks.json"}, `reading jwks file "/nonexistent/jwks.json": open`},
		{"jwks not json", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte("nope"))}, `reading jwks file`},
		{"jwks without keys", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(`{"kty":"RSA"}`))}, `no "keys" array`},
		{"jwks only skipped keys", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(`{"keys":[{"kty":"PQC"}]}`))}, "no signature verification key"},
		{"jwk point off curve", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(offCurve))}, "key 0 (kid \"\"):"},
		{"jwk bad base64", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(`{"keys":[{"kty":"RSA","kid":"a","n":"*","e":"AQAB"}]}`))}, `key 0 (kid "a"): "n"`},
		{"jwk missing member", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(`{"keys":[{"kty":"oct","kid":"a"}]}`))}, `"k" is missing`},
		{"jwk alg does not fit", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(`{"keys":[{"kty":"oct","alg":"RS256","k":"c2VjcmV0"}]}`))}, "alg RS256 does not fit a shared secret"},
		{"jwk ed25519 short", VerifyConfig{JWKSFile: writeFile(t, "jwks.json", []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`))}, `"x" must be 32 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewVerifier error = %v, want it to contain %q", err, tt.want)
			}
			if v != nil {
				t.Fatal("NewVerifier returned a Verifier with an error")
			}
		})
	}
}

func TestDecodeUnverified(t *testing.T) {
	k := keys()
	tests := []struct {
		token string
		want  string // "" = not ok
	}{
		{sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "42"}, ""), `{"sub":"42"}`},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiI0MiJ9.", `{"sub":"42"}`},
		{"x.eyJzdWIiOiI0MiJ9==.y", `{"sub":"42"}`},    // padding tolerated
		{"x.eyJzdWIiOiI0MiJ9.forged", `{"sub":"42"}`}, // nothing is checked
		{"x.WzFd.y", ""},   // [1]: not an object
		{"x.bnVsbA.y", ""}, // null
		{"x.e30.y.z", ""},
		{"x.e30", ""},
		{"x.!!.y", ""},
		{"", ""},
	}
	for _, tt := range tests {
		claims, ok := DecodeUnverified(tt.token)
		if ok != (tt.want != "") || string(claims) != tt.want {
			t.Errorf("DecodeUnverified(%q) = %q, %v; want %q", tt.token, claims, ok, tt.want)
		}
	}
}

// The cache of verified tokens: times are checked at every use, with the
// same leeway; a remembered token needs no signature check; the cache
// stays within its size.
func TestVerifyCache(t *testing.T) {
	k := keys()
	file := writeFile(t, "secret", k.secret)
	tok := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "42", "name": "alice", "exp": now.Add(30 * time.Second).Unix()}, "")

	for _, c := range []struct {
		leeway time.Duration
		at     time.Duration // after now
		want   string        // "" valid
	}{
		{0, 29 * time.Second, ""},
		{0, 30 * time.Second, "jwt expired at 2026-03-01T12:00:30Z"},
		{time.Minute, 89 * time.Second, ""},
		{time.Minute, 90 * time.Second, "jwt expired at 2026-03-01T12:00:30Z"},
	} {
		clock := now
		v := newVerifier(t, VerifyConfig{KeyFile: file, Leeway: c.leeway, Now: func() time.Time { return clock }})
		checkValid(t, v, tok) // remembered now
		clock = now.Add(c.at)
		if c.want == "" {
			checkValid(t, v, tok)
		} else {
			checkRefused(t, v, tok, c.want)
		}
		// An uncached verifier says the same at that time.
		u := newVerifier(t, VerifyConfig{KeyFile: file, Leeway: c.leeway, Now: clockAt(now.Add(c.at)), CacheSize: -1})
		if c.want == "" {
			checkValid(t, u, tok)
		} else {
			checkRefused(t, u, tok, c.want)
		}
	}

	// Remembered: with its key gone, a verified token still passes, a new
	// one does not; without the cache neither does.
	v := newVerifier(t, VerifyConfig{KeyFile: file})
	other := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "43", "name": "alice"}, "")
	checkValid(t, v, tok)
	v.keys = []key{{pub: []byte("another secret")}}
	checkValid(t, v, tok)
	if _, err := v.Verify(other); err == nil {
		t.Error("a token never verified passed with the wrong key")
	}
	u := newVerifier(t, VerifyConfig{KeyFile: file, CacheSize: -1})
	checkValid(t, u, tok)
	u.keys = []key{{pub: []byte("another secret")}}
	if _, err := u.Verify(tok); err == nil {
		t.Error("without the cache, a token passed with the wrong key")
	}

	// Bounded.
	small := newVerifier(t, VerifyConfig{KeyFile: file, CacheSize: 3})
	for i := range 10 {
		tk := sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": fmt.Sprint(i), "name": "alice"}, "")
		if _, err := small.Verify(tk); err != nil {
			t.Fatal(err)
		}
		if n := small.cache.len(); n > 3 {
			t.Fatalf("%d tokens remembered, want at most 3", n)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := keys()
	for _, bm := range []struct {
		name   string
		file   []byte
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", k.secret, jwt.SigningMethodHS256, k.secret},
		{"RS256", pemPKIX(b, &k.rsa.PublicKey), jwt.SigningMethodRS256, k.rsa},
		{"ES256", pemPKIX(b, &k.ec.PublicKey), jwt.SigningMethodES256, k.ec},
		{"EdDSA", pemPKIX(b, k.ed.Public()), jwt.SigningMethodEdDSA, k.ed},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for _, cache := range []struct {
				name string
				size int
			}{{"uncached", -1}, {"cached", 0}} {
				b.Run(cache.name, func(b *testing.B) {
					v := newVerifier(b, VerifyConfig{KeyFile: writeFile(b, "key", bm.file), CacheSize: cache.size})
					token := sign(b, bm.method, bm.key, alice(), "")
					b.ReportAllocs()
					for b.Loop() {
						if _, err := v.Verify(token); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
