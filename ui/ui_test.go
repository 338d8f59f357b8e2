package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/api"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store/sqlite"
)

const (
	adminToken = "admin-7d1e0c5b9a2f4e68"
	aliceToken = "user-alice-3c2b1a09"
)

// demoEvents is a believable five days of activity ending at now: 60
// events, more than one page of 50. The event "evt-02" changes bob's role;
// user.deleted events are every ninth.
func demoEvents(now time.Time) []event.Event {
	type actor struct {
		event.Actor
		ip, country, agent string
	}
	actors := []actor{
		{event.Actor{ID: "42", Name: "alice", Type: "user"}, "81.2.69.142", "GB", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15"},
		{event.Actor{ID: "43", Name: "bob", Type: "user"}, "203.0.113.24", "US", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0"},
		{event.Actor{ID: "44", Name: "carol", Type: "user"}, "198.51.100.7", "DE", "Mozilla/5.0 (X11; Linux x86_64) Firefox/127.0"},
		{event.Actor{ID: "svc-billing", Type: "service"}, "10.20.0.5", "", "billing-worker/2.3"},
		{event.Actor{ID: "45", Name: "dana", Type: "user"}, "2001:db8:5::12", "FR", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Mobile/15E148"},
	}
	type kind struct {
		action, area, method, path string
		status                     int
		target                     event.Target
		describe                   func(who string) string
	}
	kinds := []kind{
		{"user.login", "auth", "POST", "/login", 200, event.Target{}, func(w string) string { return w + " signed in" }},
		{"invoice.paid", "billing", "POST", "/invoices/INV-2026-0042/pay", 200, event.Target{Type: "invoice", ID: "INV-2026-0042", Name: "Invoice 2026-0042"}, func(w string) string { return w + " paid invoice 2026-0042 (€1,240.00)" }},
		{"user.updated", "users", "PATCH", "/users/43", 200, event.Target{Type: "user", ID: "43", Name: "bob@example.com"}, func(w string) string { return w + " changed the role of bob@example.com" }},
		{"apikey.created", "settings", "POST", "/settings/api-keys", 201, event.Target{Type: "api_key", ID: "key_7Hc2", Name: "ci-deploy"}, func(w string) string { return w + " created API key ci-deploy" }},
		{"user.login_failed", "auth", "POST", "/login", 401, event.Target{}, func(w string) string { return "Failed sign-in as " + w }},
		{"settings.changed", "settings", "PUT", "/settings/security", 200, event.Target{Type: "settings", ID: "security", Name: "Security"}, func(w string) string { return w + " required two-factor authentication for the team" }},
		{"user.created", "users", "POST", "/users", 201, event.Target{Type: "user", ID: "51", Name: "erin@example.com"}, func(w string) string { return w + " invited erin@example.com" }},
		{"invoice.refunded", "billing", "POST", "/invoices/INV-2026-0031/refund", 200, event.Target{Type: "invoice", ID: "INV-2026-0031", Name: "Invoice 2026-0031"}, func(w string) string { return w + " refunded invoice 2026-0031" }},
		{"user.deleted", "users", "DELETE", "/users/48", 204, event.Target{Type: "user", ID: "48", Name: "mallory@example.com"}, func(w string) string { return w + " deleted user mallory@example.com" }},
	}
	var evs []event.Event
	for i := range 60 {
		a := actors[(i*3+i/5)%len(actors)]
		k := kinds[i%len(kinds)]
		who := a.Name
		if who == "" {
			who = a.ID
		}
		ev := event.Event{
			ID:          fmt.Sprintf("evt-%02d", i),
			Time:        now.Add(-time.Duration(i)*2*time.Hour - time.Duration(i*3)*time.Minute - 5*time.Minute).UTC(),
			Action:      k.action,
			Description: k.describe(who),
			Area:        k.area,
			Outcome:     event.OutcomeSuccess,
			Actor:       a.Actor,
			Target:      k.target,
			Source:      event.Source{IP: a.ip, Country: a.country, UserAgent: a.agent},
			HTTP:        event.HTTP{Method: k.method, Host: "app.example.com", Path: k.path, Status: k.status, DurationMS: float64(20 + i%40)},
			Rule:        strings.ReplaceAll(k.action, ".", "-"),
			App:         "billing-app",
		}
		if k.status >= 400 {
			ev.Outcome = event.OutcomeFailure
			ev.Severity = event.SeverityWarning
		}
		if k.action == "user.updated" {
			ev.Changes = event.Changes{
				{Field: "role", From: json.RawMessage(`"viewer"`), To: json.RawMessage(`"editor"`)},
				{Field: "teams", From: json.RawMessage(`["support"]`), To: json.RawMessage(`["support","billing"]`)},
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

// hub fans live events out to the SSE subscribers, as the pipeline would.
type hub struct {
	mu   sync.Mutex
	subs map[chan event.Event]bool
}

func (h *hub) subscribe(ctx context.Context) <-chan event.Event {
	ch := make(chan event.Event, 16)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan event.Event]bool{}
	}
	h.subs[ch] = true
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		h.mu.Unlock()
	}()
	return ch
}

func (h *hub) publish(evs ...event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		for _, ev := range evs {
			select {
			case ch <- ev:
			default: // a stuck subscriber loses events, the others do not wait
			}
		}
	}
}

// requestLog remembers the requests the server saw.
type requestLog struct {
	mu   sync.Mutex
	reqs []loggedRequest
}

type loggedRequest struct {
	method, path, query string
	auth                bool
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, loggedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization") != ""})
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// find returns the requests to path whose query has all of want.
func (l *requestLog) find(path string, want ...string) []loggedRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []loggedRequest
next:
	for _, r := range l.reqs {
		if r.path != path {
			continue
		}
		for _, w := range want {
			if !strings.Contains("&"+r.query+"&", "&"+w+"&") {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

type testServer struct {
	*httptest.Server
	api *api.API
	hub *hub
	log *requestLog
	now time.Time

	mu       sync.Mutex
	recorded []event.Event
}

// newTestServer serves the API and the UI over SQLite holding demoEvents,
// mounted as on the admin listener.
func newTestServer(t *testing.T, mod func(*api.Config)) *testServer {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "trail.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := &testServer{hub: &hub{}, log: &requestLog{}, now: time.Now()}
	if err := s.Insert(t.Context(), demoEvents(ts.now)); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Store:       s,
		AdminTokens: []string{adminToken},
		UserTokens:  map[string]string{aliceToken: "alice"},
		WidgetKey:   []byte("widget key of the tests"),
		Subscribe:   ts.hub.subscribe,
		Record: func(ev event.Event) {
			ts.mu.Lock()
			ts.recorded = append(ts.recorded, ev)
			ts.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	ts.api, err = api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for pattern, h := range ts.api.Routes() {
		mux.Handle(pattern, h)
	}
	h := Handler(ts.api)
	mux.Handle("GET /ui/", h)
	mux.Handle("GET /{$}", h)
	ts.Server = httptest.NewServer(ts.log.wrap(mux))
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestViewerHeaders(t *testing.T) {
	ts := newTestServer(t, nil)
	for path, ct := range map[string]string{
		"/ui/":            "text/html; charset=utf-8",
		"/ui/app.js":      "text/javascript; charset=utf-8",
		"/ui/app.css":     "text/css; charset=utf-8",
		"/ui/favicon.svg": "image/svg+xml",
	} {
		resp, body := get(t, ts.URL+path)
		if resp.StatusCode != 200 || body == "" {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if got := resp.Header.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", path, got, ct)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Content-Security-Policy") != viewerCSP {
			t.Errorf("%s: X-Frame-Options %q, CSP %q", path, resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy"))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
	resp, _ := get(t, ts.URL+"/")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("/: %d to %q, want a redirect to /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, ts.URL+"/ui/nope.js"); resp.StatusCode != 404 {
		t.Errorf("unknown asset: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/ui/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %v %v", resp.StatusCode, err)
	}
}

// TestAssetsWorkOffline: nothing in the viewer loads from elsewhere, and
// nothing needs inline script or style (which the CSP forbids).
func TestAssetsWorkOffline(t *testing.T) {
	remote := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|<script>|<style|style="|\son[a-z]+\s*=`)
	err := fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := static.ReadFile(path)
		if m := remote.Find(b); m != nil && !strings.HasSuffix(path, ".svg") {
			t.Errorf("%s: %q loads from elsewhere or inline", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := remote.FindString(widgetHTML); m != "" {
		t.Errorf("widget.html: %q", m)
	}
}

func TestWidget(t *testing.T) {
	ts := newTestServer(t, func(c *api.Config) { c.WidgetFrameAncestors = []string{"https://app.example.com"} })
	link := ts.api.WidgetLink("alice", time.Hour)
	resp, body := get(t, ts.URL+link)
	if resp.StatusCode != 200 {
		t.Fatalf("widget: %d %s", resp.StatusCode, body)
	}
	if xfo := resp.Header.Get("X-Frame-Options"); xfo != "" {
		t.Errorf("widget sends X-Frame-Options %q: it could not be framed", xfo)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors https://app.example.com") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("widget CSP %q", csp)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("widget headers %v", resp.Header)
	}
	n := 0
	for _, ev := range demoEvents(ts.now) {
		if ev.Actor.Name == "alice" {
			n++
		}
	}
	if got := strings.Count(body, "<li "); got != min(n, widgetEvents) || !strings.Contains(body, "alice paid invoice 2026-0042 (€1,240.00)") {
		t.Errorf("widget shows %d events, want %d:\n%s", got, min(n, widgetEvents), body)
	}
	if strings.Contains(body, "bob signed in") {
		t.Errorf("widget for alice shows bob's events")
	}

	// Refused: tampered, expired, no link at all.
	tampered := strings.Replace(link, "actor=alice", "actor=bob", 1)
	for name, u := range map[string]string{"tampered": tampered, "bare": "/ui/widget", "expired": ts.api.WidgetLink("alice", -time.Second)} {
		resp, body := get(t, ts.URL+u)
		if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "alice") {
			t.Errorf("%s link: %d %s", name, resp.StatusCode, body)
		}
	}

	// Without a configured ancestor, only the admin listener's own pages may frame it.
	ts = newTestServer(t, nil)
	resp, _ = get(t, ts.URL+ts.api.WidgetLink("alice", time.Hour))
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'self'") {
		t.Errorf("default widget CSP %q", csp)
	}
}

func TestWidgetEscapes(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "trail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evil := demoEvents(time.Now())[0]
	evil.ID = "evt-evil"
	evil.Actor = event.Actor{Name: "alice"}
	evil.Description = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	if err := s.Insert(t.Context(), []event.Event{evil}); err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Store: s, AdminTokens: []string{"x"}, WidgetKey: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	Handler(a).ServeHTTP(w, httptest.NewRequest("GET", a.WidgetLink("alice", time.Hour), nil))
	if body := w.Body.String(); strings.Contains(body, "<script>alert") || strings.Contains(body, "<img") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("event text not escaped:\n%s", body)
	}
}
