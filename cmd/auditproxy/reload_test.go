package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHotReload: editing the rules file swaps the rules in; a broken edit
// is reported with its position and the previous rules keep running;
// SIGHUP reloads too.
func TestHotReload(t *testing.T) {
	up := issueUpstream(t)
	h := startProxy(t, up.URL, issueRules, nil)
	rulesFile := h.rulesFile

	post := func() { do(t, "POST", h.URL+"/login", `{"username":"u"}`, nil) }
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(h.logText(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("log never said %q:\n%s", what, h.logText())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	post() // user.login_failed under the first rules

	renamed := strings.Replace(issueRules, "action: user.login_failed", "action: auth.denied", 1)
	writeAtomically(t, rulesFile, renamed)
	waitFor("rules reloaded")
	post() // auth.denied

	os.WriteFile(rulesFile, []byte(renamed+"  - name: broken\n    match: {method: GET}\n    action: a.b\n    bogus: 1\n"), 0o644)
	waitFor(`rule \"broken\": rule: unknown key \"bogus\"`)
	waitFor("the previous rules keep running")
	post() // still auth.denied

	os.WriteFile(rulesFile, []byte(issueRules), 0o644) // written in place ...
	syscall.Kill(os.Getpid(), syscall.SIGHUP)          // ... and a SIGHUP on top
	waitFor(`"trigger":"SIGHUP"`)
	time.Sleep(2 * reloadDebounce) // let the file event settle too
	post()

	var got []string
	for _, ev := range h.events() {
		got = append(got, ev["action"].(string))
	}
	want := "user.login_failed auth.denied auth.denied user.login_failed"
	if strings.Join(got, " ") != want {
		t.Errorf("actions = %v, want %s", got, want)
	}
	_ = http.StatusOK
}

func writeAtomically(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-rules")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
