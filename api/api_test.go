package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/identity"
	"github.com/golang-jwt/jwt/v5"
)

// testNow is the clock of every test: Tuesday 10 March 2026, noon UTC.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func testClock() time.Time { return testNow }

const (
	adminToken = "admin-0f3c9a7e5b1d4c2a8e6f"
	aliceToken = "user-alice-9b8c7d6e5f4a"
	bobToken   = "user-bob-1a2b3c4d5e6f"
)

var jwtSecret = []byte("the app's own jwt secret, 32 bytes+")

// fixture is a small trail: alice (id 42), bob (id 43) and carol, over
// the last forty days.
func fixture() []event.Event {
	mk := func(id string, ago time.Duration, actor event.Actor, action, area, country, ip string) event.Event {
		return event.Event{
			ID: id, Time: testNow.Add(-ago), Action: action, Area: area,
			Description: actor.Name + " " + action, Outcome: event.OutcomeSuccess, Actor: actor,
			Source: event.Source{IP: ip, Country: country, UserAgent: "test/1"},
			HTTP:   event.HTTP{Method: "POST", Path: "/" + area, Status: 200}, Rule: "r-" + area,
		}
	}
	alice := event.Actor{ID: "42", Name: "alice", Type: "user"}
	bob := event.Actor{ID: "43", Name: "bob", Type: "user"}
	carol := event.Actor{ID: "44", Name: "carol", Type: "user"}
	evs := []event.Event{
		mk("ev-1", time.Hour, alice, "user.updated", "users", "GB", "81.2.69.142"),
		mk("ev-2", 2*time.Hour, bob, "user.deleted", "users", "US", "10.0.0.7"),
		mk("ev-3", 26*time.Hour, alice, "invoice.paid", "billing", "DE", "2001:db8::1"),
		mk("ev-4", 3*24*time.Hour, carol, "user.login_failed", "auth", "FR", "10.0.0.8"),
		mk("ev-5", 10*24*time.Hour, bob, "invoice.refunded", "billing", "US", "192.0.2.10"),
		mk("ev-6", 40*24*time.Hour, alice, "settings.changed", "settings", "GB", "81.2.69.142"),
	}
	evs[0].Target = event.Target{Type: "user", ID: "43", Name: "bob@example.com"}
	evs[0].Changes = event.Changes{{Field: "role", From: json.RawMessage(`"viewer"`), To: json.RawMessage(`"editor"`)}}
	evs[3].Outcome = event.OutcomeFailure
	evs[4].Target = event.Target{Type: "invoice", ID: "inv-7", Name: "INV-2026-007"}
	return evs
}

type harness struct {
	api   *API
	store *fakeStore
	mux   *http.ServeMux

	mu       sync.Mutex
	recorded []event.Event
}

// newHarness serves an API over a fake store holding evs (fixture() when
// none), with admin, alice, bob tokens and JWT verification; mod adjusts
// the config.
func newHarness(t *testing.T, mod func(*Config), evs ...event.Event) *harness {
	t.Helper()
	if evs == nil {
		evs = fixture()
	}
	h := &harness{store: newFakeStore(evs...), mux: http.NewServeMux()}
	keyFile := filepath.Join(t.TempDir(), "jwt.secret")
	if err := os.WriteFile(keyFile, jwtSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := identity.NewVerifier(identity.VerifyConfig{KeyFile: keyFile, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Store:       h.store,
		AdminTokens: []string{adminToken},
		UserTokens:  map[string]string{aliceToken: "alice", bobToken: "43"},
		JWT:         v,
		WidgetKey:   []byte("widget key for tests"),
		Record: func(ev event.Event) {
			h.mu.Lock()
			h.recorded = append(h.recorded, ev)
			h.mu.Unlock()
		},
		Now: func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&cfg)
	}
	h.api, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for pattern, handler := range h.api.Routes() {
		h.mux.Handle(pattern, handler)
	}
	return h
}

func (h *harness) do(t *testing.T, method, target, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.mux.ServeHTTP(w, r)
	return w
}

func (h *harness) records() []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recorded)
}

// ids lists the ids of a /api/v1/events answer, failing unless it is a 200.
func ids(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
	}
	var page struct {
		Events []event.Event `json:"events"`
		Next   *string       `json:"next"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil {
		t.Fatalf("decoding %s: %v", w.Body, err)
	}
	if page.Next == nil {
		t.Fatalf("no next field in %s", w.Body)
	}
	out := []string{}
	for _, ev := range page.Events {
		out = append(out, ev.ID)
	}
	return out
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("want a JSON error, got %q", w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return body.Error
}

func signJWT(t *testing.T, key []byte, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRefuses(t *testing.T) {
	s := newFakeStore()
	for name, cfg := range map[string]Config{
		"no store":                   {AdminTokens: []string{"x"}},
		"no way in":                  {Store: s},
		"empty admin token":          {Store: s, AdminTokens: []string{""}},
		"empty user token":           {Store: s, UserTokens: map[string]string{"": "alice"}},
		"user token without actor":   {Store: s, UserTokens: map[string]string{"t": ""}},
		"user token also admin":      {Store: s, AdminTokens: []string{"t"}, UserTokens: map[string]string{"t": "alice"}},
		"user token also admin (2)":  {Store: s, AdminTokens: []string{"a", "t"}, UserTokens: map[string]string{"t": "bob"}},
		"empty admin among tokens":   {Store: s, AdminTokens: []string{"a", ""}},
		"empty user among two users": {Store: s, UserTokens: map[string]string{"t": "bob", "": "x"}},
		"frame ancestor injection":   {Store: s, AdminTokens: []string{"a"}, WidgetFrameAncestors: []string{"https://a.example; script-src *"}},
		"empty frame ancestor":       {Store: s, AdminTokens: []string{"a"}, WidgetFrameAncestors: []string{""}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, nil)
	jwtAlice := signJWT(t, jwtSecret, jwt.MapClaims{"sub": "42", "name": "alice", "exp": testNow.Add(time.Hour).Unix()})
	jwtCarolName := signJWT(t, jwtSecret, jwt.MapClaims{"sub": "x", "name": "carol"})
	for _, tc := range []struct {
		name, target, header string
		status               int
		ids                  []string
		errContains          string
	}{
		{name: "no token", target: "/api/v1/events", status: 401, errContains: "missing credentials"},
		{name: "bad token", target: "/api/v1/events", header: "Bearer nope", status: 401, errContains: "invalid credentials"},
		{name: "admin token prefix", target: "/api/v1/events", header: "Bearer " + adminToken[:len(adminToken)-1], status: 401},
		{name: "admin token extended", target: "/api/v1/events", header: "Bearer " + adminToken + "x", status: 401},
		{name: "admin token last byte", target: "/api/v1/events", header: "Bearer " + adminToken[:len(adminToken)-1] + "0", status: 401},
		{name: "basic scheme", target: "/api/v1/events", header: "Basic " + adminToken, status: 401},
		{name: "bearer without token", target: "/api/v1/events", header: "Bearer ", status: 401},
		{name: "token in query", target: "/api/v1/events?access_token=" + adminToken, header: "", status: 400, errContains: "Authorization header"},
		{name: "token in query with header", target: "/api/v1/events?token=x", header: "Bearer " + adminToken, status: 400, errContains: "never in the URL"},
		{name: "admin sees all", target: "/api/v1/events", header: "Bearer " + adminToken, status: 200, ids: []string{"ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"}},
		{name: "scheme is case-insensitive", target: "/api/v1/events?limit=1", header: "bearer " + adminToken, status: 200, ids: []string{"ev-1"}},
		{name: "admin filters by actor", target: "/api/v1/events?actor=bob", header: "Bearer " + adminToken, status: 200, ids: []string{"ev-2", "ev-5"}},
		{name: "user sees own (by name)", target: "/api/v1/events", header: "Bearer " + aliceToken, status: 200, ids: []string{"ev-1", "ev-3", "ev-6"}},
		{name: "user sees own (by id)", target: "/api/v1/events", header: "Bearer " + bobToken, status: 200, ids: []string{"ev-2", "ev-5"}},
		{name: "user cannot widen with actor", target: "/api/v1/events?actor=bob", header: "Bearer " + aliceToken, status: 200, ids: []string{}},
		{name: "user cannot widen with actor id", target: "/api/v1/events?actor=43", header: "Bearer " + aliceToken, status: 200, ids: []string{}},
		{name: "user may name themselves", target: "/api/v1/events?actor=42", header: "Bearer " + aliceToken, status: 200, ids: []string{"ev-1", "ev-3", "ev-6"}},
		{name: "user filters within own", target: "/api/v1/events?area=billing", header: "Bearer " + aliceToken, status: 200, ids: []string{"ev-3"}},
		{name: "jwt user", target: "/api/v1/events", header: "Bearer " + jwtAlice, status: 200, ids: []string{"ev-1", "ev-3", "ev-6"}},
		{name: "jwt user cannot widen", target: "/api/v1/events?actor=carol", header: "Bearer " + jwtAlice, status: 200, ids: []string{}},
		{name: "jwt wrong key", target: "/api/v1/events", header: "Bearer " + signJWT(t, []byte("another secret, also long enough"), jwt.MapClaims{"sub": "42"}), status: 401, errContains: "invalid credentials"},
		{name: "jwt expired", target: "/api/v1/events", header: "Bearer " + signJWT(t, jwtSecret, jwt.MapClaims{"sub": "42", "exp": testNow.Add(-time.Minute).Unix()}), status: 401},
		{name: "jwt without sub", target: "/api/v1/events", header: "Bearer " + signJWT(t, jwtSecret, jwt.MapClaims{"name": "alice"}), status: 401, errContains: `no "sub" claim`},
		{name: "jwt with object sub", target: "/api/v1/events", header: "Bearer " + signJWT(t, jwtSecret, jwt.MapClaims{"sub": map[string]any{"id": "42"}}), status: 401},
		{name: "jwt of an unknown user sees nothing", target: "/api/v1/events", header: "Bearer " + jwtCarolName, status: 200, ids: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.target, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			w := httptest.NewRecorder()
			h.mux.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if tc.status != 200 {
				if msg := errorOf(t, w); !strings.Contains(msg, tc.errContains) {
					t.Errorf("error %q, want it to contain %q", msg, tc.errContains)
				}
				return
			}
			if got := ids(t, w); !slices.Equal(got, tc.ids) {
				t.Errorf("ids %v, want %v", got, tc.ids)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

func TestAuthJWTActorClaim(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ActorClaim = "name" })
	tok := signJWT(t, jwtSecret, jwt.MapClaims{"sub": "x", "name": "carol"})
	if got := ids(t, h.do(t, "GET", "/api/v1/events", tok)); !slices.Equal(got, []string{"ev-4"}) {
		t.Errorf("carol by name claim sees %v, want [ev-4]", got)
	}
	// Without JWT verification configured, a JWT is just a wrong token.
	h = newHarness(t, func(c *Config) { c.JWT = nil })
	if w := h.do(t, "GET", "/api/v1/events", tok); w.Code != 401 {
		t.Errorf("jwt without verifier: status %d, want 401", w.Code)
	}
}

func TestUserFilterIsAlwaysOwnActor(t *testing.T) {
	h := newHarness(t, nil)
	for _, target := range []string{"/api/v1/events?actor=bob", "/api/v1/events/count", "/api/v1/facets?field=actor", "/api/v1/export?format=csv"} {
		w := h.do(t, "GET", target, aliceToken)
		if w.Code != 200 {
			t.Fatalf("%s: status %d: %s", target, w.Code, w.Body)
		}
		if f := h.store.lastFilter(); f.OwnActor != "alice" {
			t.Errorf("%s: store asked with OwnActor %q, want alice", target, f.OwnActor)
		}
	}
	h.do(t, "GET", "/api/v1/events", adminToken)
	if f := h.store.lastFilter(); f.OwnActor != "" {
		t.Errorf("admin: OwnActor %q, want none", f.OwnActor)
	}
}

func TestGet(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		name, id, token string
		status          int
	}{
		{"admin", "ev-2", adminToken, 200},
		{"admin unknown", "ev-99", adminToken, 404},
		{"own", "ev-1", aliceToken, 200},
		{"someone else's is not found", "ev-2", aliceToken, 404},
		{"unknown to a user", "ev-99", aliceToken, 404},
		{"no token", "ev-1", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := h.do(t, "GET", "/api/v1/events/"+tc.id, tc.token)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status != 200 {
				errorOf(t, w)
				return
			}
			var ev event.Event
			if err := json.Unmarshal(w.Body.Bytes(), &ev); err != nil || ev.ID != tc.id {
				t.Errorf("got %s (%v), want event %s", w.Body, err, tc.id)
			}
		})
	}
	// Foreign and unknown ids answer exactly alike.
	foreign, unknown := h.do(t, "GET", "/api/v1/events/ev-2", aliceToken), h.do(t, "GET", "/api/v1/events/ev-99", aliceToken)
	if foreign.Body.String() != unknown.Body.String() {
		t.Errorf("foreign %q differs from unknown %q", foreign.Body, unknown.Body)
	}
	if w := h.do(t, "GET", "/api/v1/events/ev-1?x=1", adminToken); w.Code != 400 {
		t.Errorf("get with a parameter: status %d, want 400", w.Code)
	}
}

func TestGetNativeJSON(t *testing.T) {
	evs := fixture()
	h := newHarness(t, nil, evs...)
	w := h.do(t, "GET", "/api/v1/events/ev-1", adminToken)
	want := string(h.api.native.Append(nil, &evs[0])) + "\n"
	if w.Body.String() != want {
		t.Errorf("got\n%s\nwant the native JSON\n%s", w.Body, want)
	}
}

func TestListPaging(t *testing.T) {
	h := newHarness(t, nil)
	var all []string
	cursor := ""
	for range 10 {
		w := h.do(t, "GET", "/api/v1/events?limit=4&cursor="+cursor, adminToken)
		all = append(all, ids(t, w)...)
		var page struct{ Next string }
		json.Unmarshal(w.Body.Bytes(), &page)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if want := []string{"ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"}; !slices.Equal(all, want) {
		t.Errorf("paged through %v, want %v", all, want)
	}
}

func TestCount(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		target, token string
		want          int64
	}{
		{"/api/v1/events/count", adminToken, 6},
		{"/api/v1/events/count?area=billing", adminToken, 2},
		{"/api/v1/events/count?preset=today", adminToken, 2},
		{"/api/v1/events/count", aliceToken, 3},
		{"/api/v1/events/count?actor=bob", aliceToken, 0},
	} {
		w := h.do(t, "GET", tc.target, tc.token)
		var body struct{ Count *int64 }
		if err := json.Unmarshal(w.Body.Bytes(), &body); w.Code != 200 || err != nil || body.Count == nil {
			t.Fatalf("%s: status %d: %s", tc.target, w.Code, w.Body)
		}
		if *body.Count != tc.want {
			t.Errorf("%s: count %d, want %d", tc.target, *body.Count, tc.want)
		}
	}
	if w := h.do(t, "GET", "/api/v1/events/count?limit=3", adminToken); w.Code != 400 {
		t.Errorf("count with limit: status %d, want 400", w.Code)
	}
}

func TestFacets(t *testing.T) {
	h := newHarness(t, nil)
	type facets struct {
		Field  string
		Values []struct {
			Value string
			Count int64
		}
	}
	get := func(target, token string) facets {
		t.Helper()
		w := h.do(t, "GET", target, token)
		var f facets
		if err := json.Unmarshal(w.Body.Bytes(), &f); w.Code != 200 || err != nil {
			t.Fatalf("%s: status %d: %s", target, w.Code, w.Body)
		}
		return f
	}
	f := get("/api/v1/facets?field=actor", adminToken)
	if f.Field != "actor" || len(f.Values) != 3 || f.Values[0].Value != "alice" || f.Values[0].Count != 3 {
		t.Errorf("actor facets %+v", f)
	}
	if f := get("/api/v1/facets?field=country&area=billing", adminToken); len(f.Values) != 2 || f.Values[0] != (struct {
		Value string
		Count int64
	}{"DE", 1}) {
		t.Errorf("country facets in billing %+v", f)
	}
	if f := get("/api/v1/facets?field=action&limit=1", adminToken); len(f.Values) != 1 {
		t.Errorf("limit=1 gave %d values", len(f.Values))
	}
	if f := get("/api/v1/facets?field=actor", aliceToken); len(f.Values) != 1 || f.Values[0].Value != "alice" {
		t.Errorf("alice's actor facets %+v, want only herself", f)
	}
	// A facet with no values is an empty list, not null.
	if w := h.do(t, "GET", "/api/v1/facets?field=area&actor=nobody", adminToken); !strings.Contains(w.Body.String(), `"values":[]`) {
		t.Errorf("empty facets: %s", w.Body)
	}
	for target, want := range map[string]string{
		"/api/v1/facets":                       "field: missing",
		"/api/v1/facets?field=ip":              "field:",
		"/api/v1/facets?field=action&limit=0":  "limit:",
		"/api/v1/facets?field=action&cursor=1": "cursor:",
	} {
		if w := h.do(t, "GET", target, adminToken); w.Code != 400 || !strings.HasPrefix(errorOf(t, w), want) {
			t.Errorf("%s: %d %s, want 400 %q", target, w.Code, w.Body, want)
		}
	}
}

func TestNoMutatingRoutes(t *testing.T) {
	h := newHarness(t, nil)
	for pattern := range h.api.Routes() {
		method, path, _ := strings.Cut(pattern, " ")
		if method != "GET" {
			t.Errorf("route %q is not GET", pattern)
		}
		path = strings.ReplaceAll(path, "{id}", "ev-1")
		for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			if w := h.do(t, m, path, adminToken); w.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", m, path, w.Code)
			}
		}
		if w := h.do(t, "HEAD", path, adminToken); w.Code == http.StatusMethodNotAllowed {
			t.Errorf("HEAD %s: 405", path)
		}
	}
	if n := len(h.records()); n == 0 {
		t.Errorf("HEAD reads were not recorded")
	}
	if w := h.do(t, "DELETE", "/api/v1/events", adminToken); w.Header().Get("Allow") == "" {
		t.Errorf("405 without Allow header")
	}
}

func TestRecord(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct {
		target, token, action, actorID, description, targetID string
	}{
		{"/api/v1/events?action=user.updated,user.deleted&preset=today&tz=Europe/Berlin", adminToken, ActionViewed, "admin",
			"admin viewed 2 events (action=user.updated,user.deleted, preset=today, tz=Europe/Berlin)", ""},
		{"/api/v1/events", aliceToken, ActionViewed, "alice", "alice viewed 3 events", ""},
		{"/api/v1/events/count?country=US", bobToken, ActionViewed, "43", "43 counted 2 events (country=US)", ""},
		{"/api/v1/events/ev-3", aliceToken, ActionViewed, "alice", "alice viewed event ev-3", "ev-3"},
		{"/api/v1/facets?field=area", adminToken, ActionViewed, "admin", "admin viewed 4 area values", ""},
		{"/api/v1/export?format=csv&area=billing", aliceToken, ActionExported, "alice", "alice exported 1 event as csv (area=billing)", ""},
		{"/api/v1/export?format=ndjson", adminToken, ActionExported, "admin", "admin exported 6 events as ndjson", ""},
	} {
		before := len(h.records())
		if w := h.do(t, "GET", tc.target, tc.token); w.Code != 200 {
			t.Fatalf("%s: status %d: %s", tc.target, w.Code, w.Body)
		}
		recs := h.records()[before:]
		if len(recs) != 1 {
			t.Fatalf("%s: %d records, want 1", tc.target, len(recs))
		}
		ev := recs[0]
		if ev.Action != tc.action || ev.Actor.ID != tc.actorID || ev.Description != tc.description ||
			ev.Target != (event.Target{Type: "auditlog", ID: tc.targetID}) {
			t.Errorf("%s: recorded %s by %q: %q target %+v\nwant %s by %q: %q", tc.target, ev.Action, ev.Actor.ID, ev.Description, ev.Target, tc.action, tc.actorID, tc.description)
		}
		if ev.ID == "" || !ev.Time.Equal(testNow) || ev.Outcome != event.OutcomeSuccess || ev.HTTP.Method != "GET" || ev.Source.IP != "192.0.2.1" || ev.Rule == "" {
			t.Errorf("%s: incomplete record %+v", tc.target, ev)
		}
	}
	// Refused and failed requests read nothing, so record nothing.
	before := len(h.records())
	h.do(t, "GET", "/api/v1/events", "")
	h.do(t, "GET", "/api/v1/events?limit=x", adminToken)
	h.do(t, "GET", "/api/v1/events/ev-2", aliceToken)
	if n := len(h.records()) - before; n != 0 {
		t.Errorf("refused requests recorded %d events", n)
	}
	// Recorded reads are part of the trail like any other event.
	h.store.Insert(t.Context(), h.records())
	if got := ids(t, h.do(t, "GET", "/api/v1/events?action=auditlog.exported", adminToken)); len(got) != 2 {
		t.Errorf("listed %d auditlog.exported events, want 2", len(got))
	}
}

func TestBadParamsAreNamed(t *testing.T) {
	h := newHarness(t, nil)
	w := h.do(t, "GET", "/api/v1/events?actors=alice", adminToken)
	if w.Code != 400 || !strings.HasPrefix(errorOf(t, w), "actors: unknown parameter") {
		t.Errorf("typo: %d %s", w.Code, w.Body)
	}
}
