package identity

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// A Decoder answers what DecodeUnverified answers, the first time and
// from memory; it remembers only tokens that decoded, and no more than
// its size.
func TestDecoder(t *testing.T) {
	k := keys()
	good := sign(t, jwt.SigningMethodHS256, k.secret, alice(), "")
	d := NewDecoder(2)
	for _, tok := range []string{good, good, "a.b", "a.%%%.c", "x.bnVsbA.y", good} {
		want, wantOK := DecodeUnverified(tok)
		got, ok := d.Decode(tok)
		if ok != wantOK || !bytes.Equal(got, want) {
			t.Errorf("Decode(%q) = %q, %v; DecodeUnverified says %q, %v", tok, got, ok, want, wantOK)
		}
	}
	if n := d.cache.len(); n != 1 {
		t.Errorf("%d tokens remembered, want 1 (only the one that decoded)", n)
	}
	for i := range 5 {
		d.Decode(sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": fmt.Sprint(i)}, ""))
		if n := d.cache.len(); n > 2 {
			t.Fatalf("%d tokens remembered, want at most 2", n)
		}
	}
	if off := NewDecoder(-1); off.cache != nil {
		t.Error("NewDecoder(-1) remembers tokens")
	}
	var none *Decoder
	if got, ok := none.Decode(good); !ok || got == nil {
		t.Error("a nil Decoder does not decode")
	}
}

func FuzzDecoder(f *testing.F) {
	f.Add("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2ln")
	f.Add("a.b.c")
	d := NewDecoder(8)
	f.Fuzz(func(t *testing.T, tok string) {
		want, wantOK := DecodeUnverified(tok)
		for range 2 { // then from memory
			got, ok := d.Decode(tok)
			if ok != wantOK || !bytes.Equal(got, want) {
				t.Fatalf("Decode(%q) = %q, %v; DecodeUnverified says %q, %v", tok, got, ok, want, wantOK)
			}
		}
	})
}
