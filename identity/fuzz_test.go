package identity

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzVerify(f *testing.F) {
	k := keys()
	secret := []byte("fuzzing secret")
	hs := sign(f, jwt.SigningMethodHS256, secret, alice(), "")
	f.Add(hs)
	f.Add(sign(f, jwt.SigningMethodRS256, k.rsa, alice(), "r1"))
	f.Add(sign(f, jwt.SigningMethodES256, k.ec, alice(), "e1"))
	f.Add(sign(f, jwt.SigningMethodHS256, k.secret, alice(), "h1"))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiI0MiJ9.")
	f.Add(hs[:len(hs)-3] + "===")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")

	verifiers := []*Verifier{
		newVerifier(f, VerifyConfig{KeyFile: writeFile(f, "secret", secret)}),
		newVerifier(f, VerifyConfig{JWKSFile: writeFile(f, "jwks.json", jwks(f)), Leeway: time.Hour}),
	}
	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range verifiers {
			claims, err := v.Verify(token)
			if err != nil {
				if claims != nil {
					t.Fatalf("Verify returned claims %q with error %v", claims, err)
				}
				if len(err.Error()) > 120 {
					t.Fatalf("reason too long for a warning: %q", err)
				}
				continue
			}
			if !json.Valid(claims) || !bytes.HasPrefix(bytes.TrimSpace(claims), []byte("{")) {
				t.Fatalf("claims %q are not a JSON object", claims)
			}
		}
	})
}

func FuzzDecodeUnverified(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJhbGljZSJ9.c2ln")
	f.Add("x.e30=.y")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		claims, ok := DecodeUnverified(token)
		if !ok {
			if claims != nil {
				t.Fatalf("claims %q without ok", claims)
			}
			return
		}
		if !json.Valid(claims) || !bytes.HasPrefix(bytes.TrimSpace(claims), []byte("{")) {
			t.Fatalf("claims %q are not a JSON object", claims)
		}
	})
}
