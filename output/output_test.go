package output

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for _, tt := range []struct {
		spec    string
		want    string // type of the sink
		wantErr string // substring of the error
	}{
		{spec: "stdout", want: "*output.Stdout"},
		{spec: "file:" + path, want: "*output.File"},
		{spec: "stdout:/x", wantErr: `opening output "stdout:/x": stdout takes no argument`},
		{spec: "file", wantErr: `opening output "file": opening audit file: no path given`},
		{spec: "file:", wantErr: `opening output "file:": opening audit file: no path given`},
		{spec: "file:/nonexistent-dir/audit.jsonl", wantErr: "no such file or directory"},
		{spec: "sysloggg:localhost", wantErr: `opening output "sysloggg:localhost": unknown type "sysloggg" (known: `},
		{spec: "", wantErr: `unknown type "" (known: `},
	} {
		s, err := Open(tt.spec)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			if s != nil {
				t.Errorf("Open(%q) returned a sink (%#v) with its error", tt.spec, s)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%q): %v", tt.spec, err)
			continue
		}
		if got := typeName(s); got != tt.want {
			t.Errorf("Open(%q) = %s, want %s", tt.spec, got, tt.want)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func typeName(s Sink) string {
	switch s.(type) {
	case *Stdout:
		return "*output.Stdout"
	case *File:
		return "*output.File"
	}
	return "?"
}

func TestRegisterDuplicatePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `"file" registered twice`) {
			t.Errorf("Register of a duplicate: recovered %v, want a panic naming the kind", r)
		}
	}()
	Register("file", Kind{Open: func(Spec) (Sink, error) { return nil, nil }})
}
