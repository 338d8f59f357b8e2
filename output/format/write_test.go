package format

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestPlainScalar(t *testing.T) {
	for _, tc := range []struct {
		v     string
		plain bool
	}{
		{`"Widget 42"`, true}, {`""`, true}, {`12.5`, true}, {`-0`, true}, {`0.5e-3`, true}, {`1E+9`, true},
		{`true`, true}, {`false`, true}, {`null`, true},
		// Valid JSON, but the slow path decides: escapes, UTF-8, containers.
		{`"a\"b"`, false}, {`"caf\u00e9"`, false}, {`"café"`, false}, {`{"a":1}`, false}, {`[1]`, false},
		// Not JSON at all.
		{``, false}, {`"`, false}, {`"abc`, false}, {`01`, false}, {`1.`, false}, {`.5`, false}, {`1e`, false},
		{`-`, false}, {`+1`, false}, {`tru`, false}, {`nulls`, false}, {` 1`, false}, {"\"a\nb\"", false},
	} {
		if got := plainScalar([]byte(tc.v)); got != tc.plain {
			t.Errorf("plainScalar(%q) = %v, want %v", tc.v, got, tc.plain)
		}
	}
}

// FuzzPlainScalar holds the fast path to the slow one: whatever plainScalar
// lets through must be a value the slow path returns unchanged (valid
// JSON, one line, valid UTF-8).
func FuzzPlainScalar(f *testing.F) {
	for _, s := range []string{`"Widget 42"`, `12.5`, `-0.5e-3`, `true`, `null`, `"a\\b"`, `01`, `{"a":1}`, "\"\x7f\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !plainScalar(v) {
			return
		}
		if !json.Valid(v) || hasLineBreak(v) || !utf8.Valid(v) {
			t.Fatalf("plainScalar(%q) is true, but the slow path would change it", v)
		}
		if got := lineSafe(v); string(got) != string(v) {
			t.Fatalf("lineSafe(%q) = %q", v, got)
		}
	})
}
