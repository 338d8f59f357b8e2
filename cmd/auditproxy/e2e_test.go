package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/enrich/geoiptest"
	"github.com/auditproxy/auditproxy/output/schematest"
)

// harness runs the whole product in-process: a real listener, the proxy,
// the pipeline and real outputs, in front of a real upstream.
type harness struct {
	t         *testing.T
	URL       string
	stdout    *bytes.Buffer
	logs      *bytes.Buffer
	stop      func()
	file      string
	rulesFile string
	logMu     *sync.Mutex
}

// logText is what the proxy logged so far.
func (h *harness) logText() string {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	return h.logs.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func startProxy(t *testing.T, upstream, rulesYAML string, mutate func(*config)) *harness {
	t.Helper()
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(rulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, stdout: &bytes.Buffer{}, logs: &bytes.Buffer{}, file: filepath.Join(dir, "events.jsonl"), rulesFile: rulesFile, logMu: &sync.Mutex{}}
	cfg := defaultConfig()
	cfg.Upstream = upstream
	cfg.Rules = rulesFile
	cfg.Outputs, _ = outputsFromFlags("stdout", "file:"+h.file)
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.UpstreamTimeout = 5 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	var loadMsgs bytes.Buffer
	set, bindings, ok := openRules(cfg, nil, &loadMsgs)
	if !ok {
		t.Fatalf("rules: %s", loadMsgs.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.URL = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		done <- serve(ctx, ln, cfg, set, bindings, zerolog.New(lockedWriter{h.logMu, h.logs}), h.stdout, func() { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not start")
	}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("proxy did not stop")
		}
	}
	t.Cleanup(h.stop)
	return h
}

// events stops the proxy (which writes every queued event) and returns the
// events from stdout, checking the file output got the same lines and each
// line is valid against the event schema.
func (h *harness) events() []map[string]any {
	h.t.Helper()
	h.stop()
	fileData, err := os.ReadFile(h.file)
	if err != nil {
		h.t.Fatal(err)
	}
	if !equalLines(fileData, h.stdout.Bytes()) {
		h.t.Errorf("file and stdout outputs differ:\nfile:\n%s\nstdout:\n%s", fileData, h.stdout.Bytes())
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(h.stdout.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		schematest.Validate(h.t, sc.Bytes())
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			h.t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	// Workers may write concurrently; arrival time orders the trail.
	sort.SliceStable(out, func(i, j int) bool { return out[i]["time"].(string) < out[j]["time"].(string) })
	return out
}

func equalLines(a, b []byte) bool {
	la := strings.Split(strings.TrimSpace(string(a)), "\n")
	lb := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(la)
	sort.Strings(lb)
	return strings.Join(la, "\n") == strings.Join(lb, "\n")
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const issueRules = `version: 1
defaults:
  actor: {id: jwt.sub, name: jwt.name}
rules:
  - name: user-created
    match: {method: POST, path: /users, status: 2xx}
    action: user.created
    area: users
    description: "{actor.name} created user {target.name}"
    target: {type: user, id: response.body.id, name: request.body.email}
    changes: [email, role, password]
  - name: login-failed
    match: {method: POST, path: /login, status: 4xx}
    action: user.login_failed
    severity: warning
    actor: {name: request.body.username}
`

// A JWT with sub "42" and name "alice" (signature not checked in v1).
const aliceJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJhbGljZSJ9.c2ln"

func issueUpstream(t *testing.T) *httptest.Server {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Seen-Request-Id", r.Header.Get("X-Request-Id"))
		switch {
		case r.Method == "POST" && r.URL.Path == "/users":
			if !json.Valid(body) {
				w.WriteHeader(400)
				return
			}
			w.WriteHeader(201)
			io.WriteString(w, `{"id":7}`)
		case r.Method == "POST" && r.URL.Path == "/login":
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid credentials"}`)
		default:
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(up.Close)
	return up
}

var timeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// TestIssueExample is the core issue's example, end to end: one request
// through the real proxy yields exactly the promised event.
func TestIssueExample(t *testing.T) {
	up := issueUpstream(t)
	h := startProxy(t, up.URL, issueRules, nil)
	resp, body := do(t, "POST", h.URL+"/users", `{"email":"bob@example.com","role":"admin","password":"s3cret"}`,
		map[string]string{"Authorization": "Bearer " + aliceJWT, "User-Agent": "e2e-test", "X-Request-ID": "req-1"})
	if resp.StatusCode != 201 || body != `{"id":7}` {
		t.Fatalf("client got %d %q, want 201 {\"id\":7}", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Seen-Request-Id"); got != "req-1" {
		t.Errorf("upstream saw X-Request-ID %q, want the client's req-1", got)
	}
	do(t, "GET", h.URL+"/users", "", nil) // matches no rule: no event
	evs := h.events()
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1: %v", len(evs), evs)
	}
	ev := evs[0]
	want := map[string]string{
		"action":      `"user.created"`,
		"actor":       `{"id":"42","name":"alice"}`,
		"target":      `{"id":"7","name":"bob@example.com","type":"user"}`,
		"changes":     `{"email":{"to":"bob@example.com"},"password":{"to":"[FILTERED]"},"role":{"to":"admin"}}`,
		"description": `"alice created user bob@example.com"`,
		"outcome":     `"success"`,
		"rule":        `"user-created"`,
		"area":        `"users"`,
	}
	for k, w := range want {
		if got, _ := json.Marshal(ev[k]); string(got) != w {
			t.Errorf("%s = %s, want %s", k, got, w)
		}
	}
	httpPart := ev["http"].(map[string]any)
	if httpPart["method"] != "POST" || httpPart["path"] != "/users" || httpPart["status"] != float64(201) || httpPart["request_id"] != "req-1" {
		t.Errorf("http = %v", httpPart)
	}
	src := ev["source"].(map[string]any)
	if src["ip"] != "127.0.0.1" || src["user_agent"] != "e2e-test" {
		t.Errorf("source = %v", src)
	}
	if id, _ := ev["id"].(string); len(id) < 16 {
		t.Errorf("id = %q, want a UUIDv7", id)
	}
	if tm, _ := ev["time"].(string); !timeFormat.MatchString(tm) {
		t.Errorf("time = %q, want RFC 3339 UTC with microseconds", tm)
	}
}

func TestFailedLoginAndUnreachableUpstream(t *testing.T) {
	up := issueUpstream(t)
	h := startProxy(t, up.URL, issueRules, nil)
	resp, _ := do(t, "POST", h.URL+"/login", `{"username":"mallory","password":"guess"}`, nil)
	if resp.StatusCode != 401 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	evs := h.events()
	if len(evs) != 1 || evs[0]["action"] != "user.login_failed" || evs[0]["severity"] != "warning" || evs[0]["outcome"] != "failure" {
		t.Fatalf("events = %v", evs)
	}
	if a := evs[0]["actor"].(map[string]any); a["name"] != "mallory" {
		t.Errorf("actor = %v", a)
	}

	// The same rules in front of an upstream that is gone.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	h = startProxy(t, deadURL, issueRules, nil)
	resp, body := do(t, "POST", h.URL+"/users", `{"email":"bob@example.com"}`, map[string]string{"Authorization": "Bearer " + aliceJWT})
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("client got %d, want 502", resp.StatusCode)
	}
	if strings.Contains(body, "connect") || strings.Contains(body, "dial") {
		t.Errorf("502 body leaks internals: %q", body)
	}
	evs = h.events()
	if len(evs) != 1 || evs[0]["action"] != "user.created" || evs[0]["outcome"] != "failure" || evs[0]["http"].(map[string]any)["status"] != float64(502) {
		t.Fatalf("events = %v", evs)
	}
}

// TestBodyOverCaptureLimit: the request passes through whole, the event is
// still emitted, and it says why the body's values are missing.
func TestBodyOverCaptureLimit(t *testing.T) {
	var gotLen int
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotLen = len(b)
		w.WriteHeader(201)
		io.WriteString(w, `{"id":9}`)
	}))
	defer up.Close()
	h := startProxy(t, up.URL, issueRules, func(c *config) { c.BodyLimit = 64 })
	big := `{"email":"bob@example.com","role":"admin","pad":"` + strings.Repeat("x", 4096) + `"}`
	resp, _ := do(t, "POST", h.URL+"/users", big, map[string]string{"Authorization": "Bearer " + aliceJWT})
	if resp.StatusCode != 201 || gotLen != len(big) {
		t.Fatalf("client got %d, upstream got %d of %d bytes", resp.StatusCode, gotLen, len(big))
	}
	evs := h.events()
	if len(evs) != 1 {
		t.Fatalf("events = %v", evs)
	}
	ev := evs[0]
	if ev["changes"] != nil {
		t.Errorf("changes extracted from a truncated body: %v", ev["changes"])
	}
	if tg := ev["target"].(map[string]any); tg["id"] != "9" {
		t.Errorf("target = %v, want id 9 from the small response body", tg)
	}
	warns, _ := json.Marshal(ev["warnings"])
	if !strings.Contains(string(warns), "capture limit") {
		t.Errorf("warnings = %s, want the capture limit named", warns)
	}
	if !strings.Contains(h.logText(), `"rule":"user-created"`) {
		t.Errorf("stderr log does not name the rule:\n%s", h.logText())
	}
}

// TestClientIPAndCountry: X-Forwarded-For is believed only from a trusted
// proxy, and the country comes from a real .mmdb.
func TestClientIPAndCountry(t *testing.T) {
	up := issueUpstream(t)
	mmdb := filepath.Join(t.TempDir(), "country.mmdb")
	geoiptest.Write(t, mmdb, map[string]string{"81.2.69.0/24": "GB", "2a02:2770::/32": "NL"})
	for _, c := range []struct {
		name    string
		trusted []string
		xff     string
		ip, cc  string
	}{
		{"untrusted peer: header ignored", nil, "81.2.69.160", "127.0.0.1", ""},
		{"trusted peer: forwarded client", []string{"127.0.0.0/8"}, "81.2.69.160", "81.2.69.160", "GB"},
		{"trusted peer: rightmost untrusted wins", []string{"127.0.0.1/32", "10.0.0.0/8"}, "1.2.3.4, 2a02:2770::1, 10.1.1.1", "2a02:2770::1", "NL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startProxy(t, up.URL, issueRules, func(cfg *config) { cfg.GeoIP = mmdb; cfg.TrustedProxies = c.trusted })
			do(t, "POST", h.URL+"/login", `{"username":"u"}`, map[string]string{"X-Forwarded-For": c.xff})
			evs := h.events()
			if len(evs) != 1 {
				t.Fatalf("events = %v", evs)
			}
			src := evs[0]["source"].(map[string]any)
			cc, _ := src["country"].(string)
			if src["ip"] != c.ip || cc != c.cc {
				t.Errorf("source = %v, want ip %s country %q", src, c.ip, c.cc)
			}
		})
	}
}

func netListen(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().String()
}

func testLogger(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }
