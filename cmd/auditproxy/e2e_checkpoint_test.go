package main

import (
	"bytes"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/output"
)

// TestSignedCheckpoints: a proxy with a signing key writes signed
// checkpoints into every output; verify --key passes the file and the
// store (by --store and by --config), fails with another key, and flags
// the trail once its tail is cut off.
func TestSignedCheckpoints(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.pem")
	var out, errOut bytes.Buffer
	if code := runMain([]string{"keygen", "--out", key}, &out, &errOut); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut.String())
	}
	other := filepath.Join(dir, "other.pem")
	if code := runMain([]string{"keygen", "--out", other}, &out, &errOut); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut.String())
	}
	if code := runMain([]string{"keygen", "--out", key}, &out, &errOut); code == 0 {
		t.Error("keygen overwrote an existing key")
	}

	up := issueUpstream(t)
	db := filepath.Join(dir, "events.db")
	h := startProxy(t, up.URL, issueRules, func(c *config) {
		var st output.Spec
		st.Type, st.Options = "store", map[string]any{"path": db}
		c.Outputs = append(c.Outputs, st)
		c.Chain = chainConfig{SigningKey: key, CheckpointInterval: 50 * time.Millisecond}
	})
	do(t, "POST", h.URL+"/login", `{"username":"u"}`, nil)
	time.Sleep(200 * time.Millisecond) // checkpoints while idle
	do(t, "POST", h.URL+"/login", `{"username":"v"}`, nil)
	evs := h.events()
	checkpoints := 0
	for _, ev := range evs {
		if ev["action"] == "audit.checkpoint" {
			checkpoints++
			if ev["signature"] == nil {
				t.Errorf("checkpoint without signature: %v", ev)
			}
		}
	}
	last := evs[len(evs)-1]
	if checkpoints < 3 || last["action"] != "audit.checkpoint" {
		t.Fatalf("%d checkpoints, last event %v; want periodic ones and the shutdown checkpoint last", checkpoints, last["action"])
	}
	cfgFile := filepath.Join(dir, "auditproxy.yaml")
	os.WriteFile(cfgFile, []byte("activity_log:\n  path: "+db+"\nchain:\n  signing_key: "+key+"\n  checkpoint_interval: 50ms\n"), 0o600)

	verify := func(args ...string) (int, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := runMain(append([]string{"verify"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	pub := key + ".pub"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"file", []string{"--key", pub, h.file}, 0, "ends with a shutdown checkpoint"},
		{"store", []string{"--key", pub, "--store", "sqlite:" + db}, 0, "ends with a shutdown checkpoint"},
		{"config", []string{"--key", pub, "--config", cfgFile}, 0, "ends with a shutdown checkpoint"},
		{"file, the private key", []string{"--key", key, h.file}, 0, "ends with a shutdown checkpoint"},
		{"file, another key", []string{"--key", other + ".pub", h.file}, 1, ": forged: "},
		{"store, another key", []string{"--key", other + ".pub", "--store", "sqlite:" + db}, 1, ": forged: "},
		{"store, unsigned", []string{"--store", "sqlite:" + db}, 0, "OK: "},
		{"no such store", []string{"--store", "sqlite:" + db + ".missing"}, 1, "no such file"},
		{"bad store", []string{"--store", "mysql:x"}, 2, "want sqlite:PATH or postgres:DSN"},
		{"two sources", []string{"--store", "sqlite:" + db, h.file}, 2, "usage"},
	} {
		if code, got := verify(tc.args...); code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("%s: verify %v: exit %d, %s; want exit %d and %q", tc.name, tc.args, code, got, tc.code, tc.want)
		}
	}

	// Cut the tail off: the shutdown checkpoint and the event before it.
	data, _ := os.ReadFile(h.file)
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	cut := filepath.Join(dir, "cut.jsonl")
	os.WriteFile(cut, []byte(strings.Join(lines[:len(lines)-2], "")), 0o600)
	sqldb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	if _, err := sqldb.Exec("DELETE FROM events WHERE seq >= (SELECT max(seq) - 1 FROM events)"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the last checkpoint left ages past --max-age
	for _, args := range [][]string{
		{"--key", pub, "--max-age", "100ms", cut},
		{"--key", pub, "--max-age", "100ms", "--store", "sqlite:" + db},
	} {
		if code, got := verify(args...); code != 1 || !strings.Contains(got, "TRUNCATED?") {
			t.Errorf("verify %v of a trail cut short: exit %d, %s; want it flagged", args, code, got)
		}
	}
	// Without --key nothing tells: the shorter chain is a chain.
	if code, got := verify(cut); code != 0 {
		t.Errorf("verify %s without a key: exit %d, %s", cut, code, got)
	}
}
