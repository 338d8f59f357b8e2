package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runMain([]string{"check", "../../rules.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("check rules.yaml: exit %d\n%s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "rules OK") {
		t.Errorf("summary = %q", out.String())
	}

	out.Reset()
	errOut.Reset()
	bad := "../../rules/testdata/errors.bad.yaml"
	if code := runMain([]string{"check", bad}, &out, &errOut); code != 1 {
		t.Fatalf("check of a bad file: exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("want 6 messages, one per problem, got %d:\n%s", len(lines), errOut.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("message does not start with FILE:LINE:COL: %q", l)
		}
	}
	if !strings.Contains(errOut.String(), bad+`:12:5: rule "typo-key": rule: unknown key "descripton"`) {
		t.Errorf("missing the unknown-key message:\n%s", errOut.String())
	}
}

func TestRunRefusesInvalidRules(t *testing.T) {
	var out, errOut bytes.Buffer
	bad := "../../rules/testdata/errors.bad.yaml"
	code := runMain([]string{"run", "--listen", "127.0.0.1:0", "--upstream", "http://127.0.0.1:1", "--rules", bad}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), bad+`:14:36: rule "bad-status"`) || !strings.Contains(errOut.String(), "not starting") {
		t.Errorf("stderr:\n%s", errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout must carry events only, got %q", out.String())
	}
}

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "auditproxy.yaml")
	os.WriteFile(cfgFile, []byte(`listen: 127.0.0.1:9000
upstream: http://app:3000
rules: /etc/rules.yaml
outputs: [stdout, "file:/var/log/audit.jsonl"]
trusted_proxies: [10.0.0.0/8]
body_limit: 4096
upstream_timeout: 5s
app: shop
`), 0o644)
	var errOut bytes.Buffer
	cfg, err := parseRunFlags("run", []string{"--config", cfgFile, "--listen", "127.0.0.1:9100", "--output", "file:/tmp/a.jsonl"}, &errOut)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9100" || cfg.Upstream != "http://app:3000" || cfg.Rules != "/etc/rules.yaml" ||
		strings.Join(cfg.Outputs.names(), ",") != "file" || cfg.Outputs[0].Options["path"] != "/tmp/a.jsonl" || cfg.BodyLimit != 4096 ||
		cfg.UpstreamTimeout != 5*time.Second || cfg.App != "shop" || cfg.TrustedProxies[0] != "10.0.0.0/8" {
		t.Errorf("config = %+v", cfg)
	}

	os.WriteFile(cfgFile, []byte("listen: x\nlisten_addr: y\n"), 0o644)
	if _, err := parseRunFlags("run", []string{"--config", cfgFile}, &errOut); err == nil || !strings.Contains(err.Error(), "listen_addr") {
		t.Errorf("unknown config key: err = %v", err)
	}
	cfg, _ = parseRunFlags("run", nil, &errOut)
	if strings.Join(cfg.Outputs.names(), ",") != "stdout" || cfg.BodyLimit != 1<<20 || cfg.DataDir != "auditproxy-data" {
		t.Errorf("defaults = %+v", cfg)
	}
	if _, err := cfg.upstreamURL(); err == nil {
		t.Error("no upstream accepted")
	}
	cfg.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1", "bogus"}
	if _, err := cfg.trustedPrefixes(); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("bad trusted proxy: err = %v", err)
	}
}
