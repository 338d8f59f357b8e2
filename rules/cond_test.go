package rules

import (
	"mime"
	"testing"
)

// FuzzMediaType holds mediaType to mime.ParseMediaType's answer wherever
// that accepts the value.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"application/json", "Application/JSON; charset=UTF-8", " text/plain ;a=b", "multipart/form-data; boundary=x", "", ";", "a/b;c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		want, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return
		}
		if got := mediaType(ct); got != want {
			t.Errorf("mediaType(%q) = %q, mime.ParseMediaType says %q", ct, got, want)
		}
	})
}
