package identity

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// keyKind is what kind of key verifies an algorithm. An ECDSA key fits only
// the algorithm of its curve, so each curve is its own kind.
type keyKind int

const (
	kindSecret keyKind = iota // HMAC shared secret
	kindRSA
	kindP256
	kindP384
	kindP521
	kindEd25519
)

func (k keyKind) String() string {
	return [...]string{"shared secret", "RSA key", "ECDSA P-256 key", "ECDSA P-384 key", "ECDSA P-521 key", "Ed25519 key"}[k]
}

// algorithms lists every supported "alg", in the order an empty
// VerifyConfig.Algorithms expands to, with the kind of key that verifies it.
var algorithms = []struct {
	name string
	kind keyKind
}{
	{"HS256", kindSecret}, {"HS384", kindSecret}, {"HS512", kindSecret},
	{"RS256", kindRSA}, {"RS384", kindRSA}, {"RS512", kindRSA},
	{"PS256", kindRSA}, {"PS384", kindRSA}, {"PS512", kindRSA},
	{"ES256", kindP256}, {"ES384", kindP384}, {"ES512", kindP521},
	{"EdDSA", kindEd25519},
}

func algKind(alg string) (keyKind, bool) {
	for _, a := range algorithms {
		if a.name == alg {
			return a.kind, true
		}
	}
	return 0, false
}

// key is one verification key.
type key struct {
	id   string // JWK "kid"; "" for a KeyFile or a JWK without one
	alg  string // JWK "alg": the one algorithm this key may verify; "" = any its kind fits
	kind keyKind
	pub  any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

func (k key) fits(alg string) bool {
	kind, ok := algKind(alg)
	return ok && kind == k.kind && (k.alg == "" || k.alg == alg)
}

// kindOf classifies a public key, refusing what could never verify.
func kindOf(pub any) (keyKind, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		// Go's crypto/rsa refuses keys under 1024 bits at verification;
		// say so at load time instead of rejecting every token.
		if pub.N.BitLen() < 1024 {
			return 0, fmt.Errorf("RSA key of %d bits is too small (1024 at least)", pub.N.BitLen())
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return 0, fmt.Errorf("RSA public exponent %d is invalid", pub.E)
		}
		return kindRSA, nil
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			return kindP256, nil
		case elliptic.P384():
			return kindP384, nil
		case elliptic.P521():
			return kindP521, nil
		}
		return 0, fmt.Errorf("ECDSA curve %s is not supported (P-256, P-384 or P-521)", pub.Curve.Params().Name)
	case ed25519.PublicKey:
		return kindEd25519, nil
	}
	return 0, fmt.Errorf("%T keys are not supported", pub)
}

// readKeyFile reads a PEM public key or certificate, or else a shared secret.
//
// A public key must never be mistaken for a secret: the public key is
// public, so anyone could sign HS256 tokens with its text ("algorithm
// confusion"). Hence anything that looks like PEM, DER or JSON is either
// parsed as a key or refused, never used as a secret.
func readKeyFile(path string) (key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return key{}, fmt.Errorf("reading jwt key file %q: %w", path, err)
	}
	k, err := parseKeyFile(data)
	if err != nil {
		return key{}, fmt.Errorf("reading jwt key file %q: %w", path, err)
	}
	return k, nil
}

func parseKeyFile(data []byte) (key, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		return parsePEM(data)
	}
	if pub, ok := parseDER(data); ok {
		kind, err := kindOf(pub)
		return key{kind: kind, pub: pub}, err
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return key{}, errors.New("looks like JSON (a JWKS?), not a PEM key or a shared secret; give a JWKS as JWKSFile")
	}
	secret := bytes.TrimRight(data, "\r\n")
	if len(secret) == 0 {
		return key{}, errors.New("shared secret is empty")
	}
	return key{kind: kindSecret, pub: secret}, nil
}

// parsePEM returns the first public key or certificate in data. Blocks of
// other types (an "EC PARAMETERS" block, say) are skipped.
func parsePEM(data []byte) (key, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return key{}, errors.New("no PEM block of type PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE")
		}
		var pub any
		var err error
		switch {
		case block.Type == "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case block.Type == "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case block.Type == "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		case strings.HasSuffix(block.Type, "PRIVATE KEY"):
			// auditproxy only verifies; a private key does not belong on
			// the proxy's disk.
			return key{}, fmt.Errorf("PEM block %q holds a private key; give the public key only", block.Type)
		default:
			continue
		}
		if err != nil {
			return key{}, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		kind, err := kindOf(pub)
		if err != nil {
			return key{}, fmt.Errorf("PEM block %q: %w", block.Type, err)
		}
		return key{kind: kind, pub: pub}, nil
	}
}

// parseDER recognises a binary (DER) public key or certificate, so that it
// is used as what it is rather than as a shared secret.
func parseDER(data []byte) (any, bool) {
	if pub, err := x509.ParsePKIXPublicKey(data); err == nil {
		return pub, true
	}
	if pub, err := x509.ParsePKCS1PublicKey(data); err == nil {
		return pub, true
	}
	if cert, err := x509.ParseCertificate(data); err == nil {
		return cert.PublicKey, true
	}
	return nil, false
}

// readJWKS reads a JWK Set (RFC 7517). As section 5 of the RFC asks, keys of
// a type, curve or algorithm this package does not know, and encryption
// keys, are skipped; a key of a known type that is broken is an error, since
// the file is local configuration and a mistake in it should be heard.
func readJWKS(path string) ([]key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading jwks file %q: %w", path, err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("reading jwks file %q: %w", path, err)
	}
	return keys, nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	K   string `json:"k"`
}

func parseJWKS(data []byte) ([]key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, err
	}
	if set.Keys == nil {
		return nil, errors.New(`no "keys" array`)
	}
	var keys []key
	for i, raw := range set.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		k, ok, err := j.key()
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, j.Kid, err)
		}
		if ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no signature verification key (kty RSA, EC P-256/P-384/P-521, OKP Ed25519 or oct)")
	}
	return keys, nil
}

// key converts j; ok is false for a key to skip.
func (j jwk) key() (k key, ok bool, err error) {
	if j.Use == "enc" {
		return key{}, false, nil
	}
	if j.Alg != "" {
		if _, known := algKind(j.Alg); !known {
			return key{}, false, nil
		}
	}
	var pub any
	switch {
	case j.Kty == "RSA":
		n, err := b64(j.N, "n")
		if err != nil {
			return key{}, false, err
		}
		e, err := b64(j.E, "e")
		if err != nil {
			return key{}, false, err
		}
		e = bytes.TrimLeft(e, "\x00")
		if len(e) > 4 {
			return key{}, false, errors.New(`"e" is too large`)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case j.Kty == "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return key{}, false, nil
		}
		x, err := b64(j.X, "x")
		if err != nil {
			return key{}, false, err
		}
		y, err := b64(j.Y, "y")
		if err != nil {
			return key{}, false, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return key{}, false, fmt.Errorf(`"x" and "y" must be %d bytes each for %s`, size, j.Crv)
		}
		// ParseUncompressedPublicKey checks that the point is on the curve.
		point := append(append([]byte{4}, x...), y...)
		if pub, err = ecdsa.ParseUncompressedPublicKey(curve, point); err != nil {
			return key{}, false, err
		}
	case j.Kty == "OKP" && j.Crv == "Ed25519":
		x, err := b64(j.X, "x")
		if err != nil {
			return key{}, false, err
		}
		if len(x) != ed25519.PublicKeySize {
			return key{}, false, fmt.Errorf(`"x" must be %d bytes for Ed25519`, ed25519.PublicKeySize)
		}
		pub = ed25519.PublicKey(x)
	case j.Kty == "oct":
		secret, err := b64(j.K, "k")
		if err != nil {
			return key{}, false, err
		}
		k = key{id: j.Kid, alg: j.Alg, kind: kindSecret, pub: secret}
	default:
		return key{}, false, nil
	}
	if pub != nil {
		kind, err := kindOf(pub)
		if err != nil {
			return key{}, false, err
		}
		k = key{id: j.Kid, alg: j.Alg, kind: kind, pub: pub}
	}
	if k.alg != "" && !k.fits(k.alg) {
		return key{}, false, fmt.Errorf("alg %s does not fit a %s", k.alg, k.kind)
	}
	return k, true, nil
}

// b64 decodes a base64url JWK member. RFC 7518 forbids padding; it is
// tolerated, since it changes nothing.
func b64(s, member string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%q is missing", member)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", member, err)
	}
	return b, nil
}
