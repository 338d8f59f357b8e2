package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/discover"
	"github.com/auditproxy/auditproxy/internal/demoapp"
	"github.com/auditproxy/auditproxy/rules"
)

// TestDiscoverDraftsRulesForTheDemoApp runs discover in-process in front of
// the demo app with a rules file that covers only logout, drives the app's
// activities, and checks the draft: it loads, covers each activity with a
// sensible guess, and holds no secret; the logout event still went out.
func TestDiscoverDraftsRulesForTheDemoApp(t *testing.T) {
	app := httptest.NewServer(demoapp.New())
	defer app.Close()
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.Upstream = app.URL
	cfg.Rules = filepath.Join(dir, "rules.yaml")
	cfg.Outputs, _ = outputsFromFlags("stdout")
	os.WriteFile(cfg.Rules, []byte("version: 1\nrules:\n  - name: logout\n    match: {method: POST, path: /logout}\n    action: user.logged_out\n"), 0o644)
	opts := discoverOptions{out: filepath.Join(dir, "draft-rules.yaml"), every: 20 * time.Millisecond}

	var stdout, logs bytes.Buffer
	var logMu sync.Mutex
	set, bindings, ok := discoverRules(cfg, &logs)
	if !ok {
		t.Fatalf("rules: %s", logs.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- runDiscover(ctx, ln, cfg, opts, set, bindings, zerolog.New(lockedWriter{&logMu, &logs}), &stdout, func() { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("discover: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("discover did not start")
	}

	base := "http://" + ln.Addr().String()
	resp, body := do(t, "POST", base+"/login", `{"username":"`+demoapp.AliceEmail+`","password":"`+demoapp.AlicePassword+`"}`, nil)
	var login struct{ Token string }
	json.Unmarshal([]byte(body), &login)
	alice := map[string]string{"Authorization": "Bearer " + login.Token}
	resp, _ = do(t, "POST", base+"/login", `{"username":"`+demoapp.BobEmail+`","password":"`+demoapp.BobPassword+`"}`, nil)
	bobCookie := map[string]string{"Cookie": resp.Header.Get("Set-Cookie")[:strings.Index(resp.Header.Get("Set-Cookie"), ";")]}
	steps := []struct {
		method, path, body string
		header             map[string]string
		status             int
	}{
		{"POST", "/login", `{"username":"` + demoapp.BobEmail + `","password":"wrong-one"}`, nil, 401},
		{"POST", "/signup", "email=carol%40example.com&name=Carol&password=carol-password", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 201},
		{"POST", "/users", `{"email":"dave@example.com","name":"Dave","role":"user","password":"dave-password"}`, alice, 201},
		{"PATCH", "/users/2", `{"name":"Robert"}`, alice, 200},
		{"PATCH", "/users/4", `{"role":"admin"}`, alice, 200},
		{"POST", "/projects", `{"name":"Bob's"}`, bobCookie, 201},
		{"DELETE", "/projects/1", "", alice, 204},
		{"PUT", "/settings", `{"site_name":"Acme","smtp_password":"hunter22"}`, alice, 200},
		{"GET", "/users", "", alice, 200},
		{"POST", "/logout", "", alice, 204},
	}
	for _, s := range steps {
		if resp, body := do(t, s.method, base+s.path, s.body, s.header); resp.StatusCode != s.status {
			t.Fatalf("%s %s: %d %s, want %d", s.method, s.path, resp.StatusCode, body, s.status)
		}
	}
	// The draft is rewritten while serving, not only at the end.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(opts.out); bytes.Contains(b, []byte(`"/settings"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the draft was not written while serving")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("discover: %v", err)
	}

	draft, err := os.ReadFile(opts.out)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := rules.Parse(opts.out, draft)
	if err != nil || len(loaded.Warnings) > 0 {
		t.Fatalf("draft: %v %v\n%s", err, loaded.Warnings, draft)
	}
	for _, want := range []string{
		"identities:\n  lookup: [cookie.sid]",
		`match: {method: POST, path: "/login", status: 4xx}` + "\n    action: user.login_failed",
		`match: {method: POST, path: "/login", status: 2xx}` + "\n    action: user.logged_in",
		"- {slot: cookie.sid, key: response.cookie.sid, id: response.body.user.id, name: request.body.username}",
		`match: {method: POST, path: "/signup", status: 2xx}` + "\n    action: user.signed_up",
		`match: {method: POST, path: "/users", status: 2xx}` + "\n    action: user.created\n    actor: {id: jwt.sub, name: jwt.name}",
		`match: {method: PATCH, path: "/users/{id}", status: 2xx}` + "\n    action: user.updated",
		`match: {method: POST, path: "/projects", status: 2xx}` + "\n    action: project.created\n    actor: {id: identity.id, name: identity.name}",
		`match: {method: DELETE, path: "/projects/{id}", status: 2xx}` + "\n    action: project.deleted",
		`smtp_password [FILTERED]`,
		"changes: [site_name, smtp_password]",
	} {
		if !bytes.Contains(draft, []byte(want)) {
			t.Errorf("draft lacks %q", want)
		}
	}
	for _, secret := range []string{"hunter22", demoapp.AlicePassword, demoapp.BobPassword, "wrong-one", "carol-password", "dave-password", login.Token} {
		if bytes.Contains(draft, []byte(secret)) {
			t.Errorf("draft holds the secret %q", secret)
		}
	}
	if bytes.Contains(draft, []byte(`"/logout"`)) || bytes.Contains(draft, []byte("method: GET")) {
		t.Errorf("draft covers what it should not (logout has a rule; GET changes nothing):\n%s", draft)
	}
	if t.Failed() {
		t.Logf("draft:\n%s", draft)
	}
	if !strings.Contains(stdout.String(), `"action":"user.logged_out"`) {
		t.Errorf("the existing rule's event did not go out: %q", stdout.String())
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), `"draft":"`+opts.out+`"`) || !strings.Contains(logs.String(), `"endpoints":7`) {
		t.Errorf("the log does not say where the draft is:\n%s", logs.String())
	}
}

func TestDiscoverWithoutARulesFile(t *testing.T) {
	cfg := defaultConfig()
	cfg.Rules = filepath.Join(t.TempDir(), "rules.yaml")
	var stderr bytes.Buffer
	set, _, ok := discoverRules(cfg, &stderr)
	if !ok || len(set.Rules()) != 0 || !strings.Contains(stderr.String(), "starting with no rules") {
		t.Errorf("ok %v, rules %v, stderr %q", ok, set, stderr.String())
	}
}

func TestDiscoverFlags(t *testing.T) {
	var stderr bytes.Buffer
	cfg, opts, err := parseDiscoverFlags([]string{"--upstream", "http://app:3000", "--out", "d.yaml", "--listen=127.0.0.1:9", "-every=5s", "--output", "stdout"}, &stderr)
	if err != nil || cfg.Upstream != "http://app:3000" || cfg.Listen != "127.0.0.1:9" || opts.out != "d.yaml" || opts.every != 5*time.Second {
		t.Errorf("cfg %+v opts %+v err %v", cfg, opts, err)
	}
	if _, opts, _ = parseDiscoverFlags([]string{"--upstream", "http://app:3000"}, &stderr); opts.out != "draft-rules.yaml" || opts.every != 30*time.Second {
		t.Errorf("defaults: %+v", opts)
	}
	stderr.Reset()
	if _, _, err := parseDiscoverFlags([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-upstream") || !strings.Contains(stderr.String(), "-every") {
		t.Errorf("help: err %v\n%s", err, stderr.String())
	}
	for _, args := range [][]string{{"--every", "0s"}, {"--out="}, {"--bogus"}, {"--every", "soon"}} {
		if _, _, err := parseDiscoverFlags(append([]string{"--upstream", "http://app:3000"}, args...), &stderr); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if code := runMain([]string{"discover", "--every", "-1s"}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

// writeDraft replaces the file whole and leaves no temporary file behind.
func TestWriteDraftIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "draft.yaml")
	os.WriteFile(path, []byte("old"), 0o644)
	if err := writeDraft(path, discover.New(discover.Config{})); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	b, _ := os.ReadFile(path)
	if len(entries) != 1 || !bytes.HasSuffix(b, []byte("rules: []\n")) {
		t.Errorf("files %v, draft %q", entries, b)
	}
	if err := writeDraft(filepath.Join(dir, "missing", "draft.yaml"), discover.New(discover.Config{})); err == nil || !strings.Contains(err.Error(), "writing draft rules") {
		t.Errorf("err = %v", err)
	}
}
