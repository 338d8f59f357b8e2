package output

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSpecSplitsCommonFromOptions(t *testing.T) {
	var specs []Spec
	err := yaml.Unmarshal([]byte(`
- type: file
  path: /var/log/a.jsonl
- type: http
  name: siem
  format: ecs
  buffer: {type: disk, max_bytes: 512MiB, fsync: always}
  retry: {initial: 2s, max: 1m, max_attempts: 10}
  when_full: block
  url: https://siem.example/in
  headers: {Authorization: Bearer x}
`), &specs)
	if err != nil {
		t.Fatal(err)
	}
	s := specs[1]
	if s.Name != "siem" || s.Format != "ecs" || s.Buffer.Type != "disk" || s.Buffer.MaxBytes != 512<<20 || s.Buffer.Fsync != "always" ||
		s.Retry.MaxAttempts != 10 || s.WhenFull != Block || s.Line != 4 {
		t.Errorf("spec = %+v", s)
	}
	var opts struct {
		URL     string            `yaml:"url"`
		Headers map[string]string `yaml:"headers"`
	}
	if err := s.DecodeOptions(&opts); err != nil || opts.URL != "https://siem.example/in" || opts.Headers["Authorization"] != "Bearer x" {
		t.Errorf("options = %+v, %v", opts, err)
	}
	var wrong struct {
		URL string `yaml:"url"`
	}
	if err := s.DecodeOptions(&wrong); err == nil || !strings.Contains(err.Error(), "headers") {
		t.Errorf("unknown option: err = %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{"- {path: /x}", "output without type"},
		{"- {type: file, when_full: sometimes}", `when_full: "sometimes" is not one of`},
		{"- {type: file, buffer: {type: disk, max_bytes: lots}}", `size "lots"`},
		{"- {type: file, buffer: {sizee: 1}}", "sizee"},
		{"- plain", "an output is a mapping"},
	} {
		var specs []Spec
		err := yaml.Unmarshal([]byte(c.doc), &specs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "123": 123, "1KiB": 1024, "2MiB": 2 << 20, "1GiB": 1 << 30, "10kB": 10000, "5MB": 5e6, "7B": 7} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1", "1.5GiB", "1 GiB", "12x"} {
		if _, err := ParseByteSize(bad); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", bad)
		}
	}
}
