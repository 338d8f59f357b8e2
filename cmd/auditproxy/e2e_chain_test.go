package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestTrailIsChainedAndVerifiable: the file output's trail verifies, across
// a restart of the proxy; an edited line is found by position.
func TestTrailIsChainedAndVerifiable(t *testing.T) {
	up := issueUpstream(t)
	dataDir := t.TempDir()
	h := startProxy(t, up.URL, issueRules, func(c *config) { c.DataDir = dataDir })
	for range 3 {
		do(t, "POST", h.URL+"/login", `{"username":"u"}`, nil)
	}
	evs := h.events()
	if evs[0]["seq"] != float64(1) || evs[2]["seq"] != float64(3) || evs[1]["prev_hash"] != evs[0]["hash"] {
		t.Fatalf("events not chained: %v", evs)
	}
	first, _ := os.ReadFile(h.file)

	h2 := startProxy(t, up.URL, issueRules, func(c *config) { c.DataDir = dataDir }) // a restart, same state
	do(t, "POST", h2.URL+"/login", `{"username":"v"}`, nil)
	h2.events()
	second, _ := os.ReadFile(h2.file)
	both := h.file + ".all"
	os.WriteFile(both, append(first, second...), 0o600)

	var out, errOut bytes.Buffer
	if code := runMain([]string{"verify", both}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "OK: 4 events chained") {
		t.Fatalf("verify: exit %d, %s%s", code, out.String(), errOut.String())
	}
	tampered := strings.Replace(string(first)+string(second), `"username"`, `"username"`, 1)
	tampered = strings.Replace(tampered, `"name":"u"`, `"name":"mallory"`, 1)
	os.WriteFile(both, []byte(tampered), 0o600)
	out.Reset()
	if code := runMain([]string{"verify", both}, &out, &errOut); code != 1 || !strings.Contains(out.String(), both+":1: seq 1: edited") {
		t.Errorf("tampered trail: exit %d, %s", code, out.String())
	}
}
