package discover

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/rules"
)

// call is one synthetic request, its answer, and the action of the draft
// rule that should match it ("" for none).
type call struct {
	method, target string // target: path?query
	header         http.Header
	form, json     string // request body: a urlencoded form, or JSON
	multipart      string // or a multipart form, boundary XB
	status         int
	respHeader     http.Header
	resp           string
	want           string
}

func (c call) exchange() *event.Exchange {
	path, query, _ := strings.Cut(c.target, "?")
	h := http.Header{}
	for k, v := range c.header {
		h[k] = v
	}
	var body string
	switch {
	case c.form != "":
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		body = c.form
	case c.json != "":
		h.Set("Content-Type", "application/json")
		body = c.json
	case c.multipart != "":
		h.Set("Content-Type", "multipart/form-data; boundary=XB")
		body = strings.ReplaceAll(c.multipart, "\n", "\r\n")
	}
	rh := http.Header{}
	for k, v := range c.respHeader {
		rh[k] = v
	}
	return &event.Exchange{
		Method: c.method, Path: path, RawQuery: query, RequestHeader: h,
		RequestBody: event.Body{Captured: true, Data: []byte(body), Size: int64(len(body))},
		Status:      c.status, ResponseHeader: rh,
		ResponseBody: event.Body{Captured: true, Data: []byte(c.resp), Size: int64(len(c.resp))},
	}
}

// jwt builds an unsigned-looking token with the claims; nobody verifies it.
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".c2ln"
}

func bearer(claims string) http.Header {
	return http.Header{"Authorization": {"Bearer " + jwt(claims)}}
}

func cookie(c string) http.Header { return http.Header{"Cookie": {c}} }

func setCookie(c string) http.Header { return http.Header{"Set-Cookie": {c + "; Path=/; HttpOnly"}} }

var alice = bearer(`{"sub":"1","name":"Alice","role":"admin"}`)

// restApp is a JSON API with a JWT, numeric ids and nested resources.
var restApp = []call{
	{method: "POST", target: "/login", json: `{"username":"alice","password":"pw-alice-1"}`, status: 200,
		respHeader: setCookie("sid=s1"), resp: `{"token":"t","user":{"id":1,"name":"Alice"}}`, want: "user.logged_in"},
	{method: "POST", target: "/login", json: `{"username":"alice","password":"nope"}`, status: 401, resp: `{"error":"bad"}`, want: "user.login_failed"},
	{method: "POST", target: "/users", header: alice, json: `{"email":"bob@example.com","name":"Bob","role":"user","password":"pw-bob-123"}`,
		status: 201, resp: `{"id":7,"email":"bob@example.com"}`, want: "user.created"},
	{method: "POST", target: "/users", header: alice, json: `{"email":"carol@example.com","name":"Carol","password":"pw-carol-1"}`,
		status: 201, resp: `{"id":8,"email":"carol@example.com"}`, want: "user.created"},
	{method: "POST", target: "/users", header: alice, json: `{"email":"bob@example.com","name":"Bob"}`, status: 409, resp: `{"error":"taken"}`},
	{method: "PATCH", target: "/users/7", header: alice, json: `{"role":"admin"}`, status: 200, resp: `{"id":7}`, want: "user.updated"},
	{method: "PATCH", target: "/users/8", header: alice, json: `{"role":"user"}`, status: 200, resp: `{"id":8}`, want: "user.updated"},
	{method: "DELETE", target: "/users/8", header: alice, status: 204, want: "user.deleted"},
	{method: "POST", target: "/users/7/activate", header: alice, status: 200, want: "user.activate"},
	{method: "POST", target: "/orgs/acme/users/7/roles", header: alice, json: `{"role":"admin"}`, status: 201, want: "role.created"},
	{method: "POST", target: "/orgs/globex/users/8/roles", header: alice, json: `{"role":"viewer"}`, status: 201, want: "role.created"},
	{method: "POST", target: "/api/v1/projects", header: alice, json: `{"name":"Relaunch"}`, status: 201, resp: `{"id":3,"name":"Relaunch"}`, want: "project.created"},
	{method: "POST", target: "/api/v1/tasks", header: alice, json: `{"title":"Write docs"}`, status: 201, resp: `{"id":4}`, want: "task.created"},
	{method: "POST", target: "/logout", header: alice, status: 204, want: "user.logged_out"},
	{method: "GET", target: "/users", header: alice, status: 200, resp: `[]`},
}

// rpcApp is Matomo- and WordPress-like: one path, what happens said by a
// query parameter or a form field; a form login; a session cookie.
var rpcApp = []call{
	{method: "POST", target: "/index.php?module=Login&action=logme", form: "form_login=alice&form_password=pw-alice-1", status: 302,
		respHeader: setCookie("MATOMO_SESSID=m1"), want: "user.logged_in"},
	{method: "POST", target: "/index.php?module=Login&action=logme", form: "form_login=alice&form_password=nope", status: 401, want: "user.login_failed"},
	{method: "POST", target: "/index.php?module=API&method=UsersManager.addUser&format=json", header: cookie("MATOMO_SESSID=m1"),
		form: "userLogin=bob&email=bob%40example.com&password=pw-bob-123", status: 200, resp: `{"result":"success"}`, want: "api.users_manager.add_user"},
	{method: "POST", target: "/index.php?module=API&method=UsersManager.addUser&format=json", header: cookie("MATOMO_SESSID=m1"),
		form: "userLogin=carol&email=carol%40example.com&password=pw-carol-1", status: 200, want: "api.users_manager.add_user"},
	{method: "POST", target: "/index.php?module=API&method=UsersManager.deleteUser&userLogin=bob", header: cookie("MATOMO_SESSID=m1"),
		status: 200, want: "api.users_manager.delete_user"},
	{method: "POST", target: "/wp-admin/post.php", header: cookie("wordpress_logged_in_x=w1"), form: "action=editpost&post_ID=12&post_title=Hello&_wpnonce=abc",
		status: 302, want: "post.editpost"},
	{method: "POST", target: "/wp-admin/post.php", header: cookie("wordpress_logged_in_x=w1"), form: "action=trash&post_ID=12", status: 302, want: "post.trash"},
	{method: "POST", target: "/logout.php", header: cookie("MATOMO_SESSID=m1"), status: 302, want: "user.logged_out"},
	{method: "POST", target: "/wp-admin/async-upload.php", header: cookie("wordpress_logged_in_x=w1"), status: 200, want: "async_upload.upload_attachment",
		multipart: "--XB\nContent-Disposition: form-data; name=\"action\"\n\nupload-attachment\n" +
			"--XB\nContent-Disposition: form-data; name=\"async-upload\"; filename=\"cat.png\"\nContent-Type: image/png\n\nPNG...\n--XB--\n"},
}

func learn(calls []call) *Discoverer {
	d := New(Config{})
	for _, c := range calls {
		x := c.exchange()
		if !d.Wants(httptest.NewRequest(c.method, c.target, nil)) {
			continue
		}
		d.Add(x)
	}
	return d
}

func find(t *testing.T, eps []Endpoint, method, template string, conds ...Condition) Endpoint {
	t.Helper()
	for _, e := range eps {
		if e.Method == method && e.Template == template && (len(conds) == 0 || slices.Equal(e.Conditions, conds)) {
			return e
		}
	}
	var have []string
	for _, e := range eps {
		have = append(have, fmt.Sprintf("%s %s %v", e.Method, e.Template, e.Conditions))
	}
	t.Fatalf("no endpoint %s %s %v; have:\n%s", method, template, conds, strings.Join(have, "\n"))
	return Endpoint{}
}

func TestRESTApp(t *testing.T) {
	eps := learn(restApp).Endpoints()
	if len(eps) != 9 {
		t.Errorf("%d endpoints, want 9", len(eps))
	}
	if eps[0].Template != "/users" || eps[0].Count != 3 {
		t.Errorf("first endpoint = %s %s (%d), want the most requested, POST /users (3)", eps[0].Method, eps[0].Template, eps[0].Count)
	}

	created := find(t, eps, "POST", "/users")
	if created.Statuses[201] != 2 || created.Statuses[409] != 1 {
		t.Errorf("statuses = %v", created.Statuses)
	}
	s := created.Suggest
	want := Suggestion{Action: "user.created", Status: "2xx",
		Actor:   Party{ID: "jwt.sub", Name: "jwt.name"},
		Target:  Party{Type: "user", ID: "response.body.id", Name: "request.body.email"},
		Changes: []string{"email", "name", "role", "password"}}
	if fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("POST /users suggestion\n got %+v\nwant %+v", s, want)
	}
	pw := created.Body[slices.IndexFunc(created.Body, func(f Field) bool { return f.Name == "password" })]
	if !slices.Equal(pw.Samples, []string{event.Filtered}) || pw.Count != 2 {
		t.Errorf("password field = %+v, want one [FILTERED] sample", pw)
	}
	if email := created.Body[0]; email.Name != "email" || !slices.Equal(email.Samples, []string{"bob@example.com", "carol@example.com"}) {
		t.Errorf("email field = %+v", email)
	}
	if !created.hasCredential("jwt.role") || !slices.Contains(created.ResponseKeys, "email") {
		t.Errorf("credentials %v, response keys %v", created.Credentials, created.ResponseKeys)
	}

	updated := find(t, eps, "PATCH", "/users/{id}")
	if updated.Count != 2 || updated.Suggest.Target.ID != "path.id" || updated.Suggest.Action != "user.updated" {
		t.Errorf("PATCH /users/{id}: %+v", updated)
	}
	if got := find(t, eps, "POST", "/users/{id}/activate").Suggest.Action; got != "user.activate" {
		t.Errorf("activate action = %q", got)
	}
	roles := find(t, eps, "POST", "/orgs/{org_id}/users/{id}/roles")
	if roles.Count != 2 || roles.Suggest.Action != "role.created" || len(roles.Examples) != 2 {
		t.Errorf("org roles: %+v", roles)
	}
	// /api/v1/projects and /api/v1/tasks are two resources, not one {id}.
	find(t, eps, "POST", "/api/v1/projects")
	find(t, eps, "POST", "/api/v1/tasks")

	login := find(t, eps, "POST", "/login")
	if !login.Login || login.Suggest.Action != "user.logged_in" || login.Suggest.Actor != (Party{ID: "response.body.user.id", Name: "request.body.username"}) {
		t.Errorf("login suggestion: %+v", login.Suggest)
	}
	if f := login.Suggest.Failure; f == nil || f.Action != "user.login_failed" || f.Status != "4xx" || f.Actor.Name != "request.body.username" {
		t.Errorf("failed-login suggestion: %+v", f)
	}
	if b := login.Suggest.Bind; b == nil || *b != (Binding{Slot: "cookie.sid", Key: "response.cookie.sid", ID: "response.body.user.id", Name: "request.body.username"}) {
		t.Errorf("login bind: %+v", b)
	}
	if got := find(t, eps, "POST", "/logout").Suggest.Action; got != "user.logged_out" {
		t.Errorf("logout action = %q", got)
	}
}

func TestRPCApp(t *testing.T) {
	eps := learn(rpcApp).Endpoints()
	add := find(t, eps, "POST", "/index.php", Condition{"query", "module", "API"}, Condition{"query", "method", "UsersManager.addUser"})
	if add.Count != 2 || add.Suggest.Action != "api.users_manager.add_user" {
		t.Errorf("addUser: count %d, action %q", add.Count, add.Suggest.Action)
	}
	// format=json is a parameter, not a discriminator: it does not split.
	if !slices.ContainsFunc(add.Params, func(f Field) bool { return f.Name == "format" }) {
		t.Errorf("params = %v", add.Params)
	}
	if add.Suggest.IdentitySlot != "cookie.MATOMO_SESSID" || add.Suggest.Actor != (Party{ID: "identity.id", Name: "identity.name"}) {
		t.Errorf("cookie-only actor: %+v", add.Suggest)
	}
	find(t, eps, "POST", "/index.php", Condition{"query", "module", "API"}, Condition{"query", "method", "UsersManager.deleteUser"})

	login := find(t, eps, "POST", "/index.php", Condition{"query", "module", "Login"}, Condition{"query", "action", "logme"})
	if !login.Login || login.Suggest.Status != "3xx" || login.Suggest.Actor.Name != "request.body.form_login" {
		t.Errorf("form login: %+v", login.Suggest)
	}
	if b := login.Suggest.Bind; b == nil || b.Slot != "cookie.MATOMO_SESSID" || b.Key != "response.cookie.MATOMO_SESSID" {
		t.Errorf("form login bind: %+v", b)
	}

	trash := find(t, eps, "POST", "/wp-admin/post.php", Condition{"form", "action", "trash"})
	if trash.Suggest.Action != "post.trash" || trash.Suggest.Target != (Party{Type: "post", ID: "request.body.post_ID"}) {
		t.Errorf("trash: %+v", trash.Suggest)
	}
	edit := find(t, eps, "POST", "/wp-admin/post.php", Condition{"form", "action", "editpost"})
	if !slices.Equal(edit.Suggest.Changes, []string{"post_ID", "post_title"}) {
		t.Errorf("editpost changes = %v, want the fields without action and the nonce", edit.Suggest.Changes)
	}
	upload := find(t, eps, "POST", "/wp-admin/async-upload.php", Condition{"form", "action", "upload-attachment"})
	if upload.BodyKinds["multipart"] != 1 || upload.Body[1].Samples[0] != "cat.png" {
		t.Errorf("multipart upload: %+v", upload)
	}
	if logout := find(t, eps, "POST", "/logout.php").Suggest; !slices.Equal(logout.Unbind, []string{"cookie.MATOMO_SESSID"}) {
		t.Errorf("logout: %+v", logout)
	}
}

func TestFormLoginAnsweringFailuresWith200(t *testing.T) {
	d := learn([]call{
		{method: "POST", target: "/login.php", form: "user=alice&pass=pw-1", status: 302, respHeader: setCookie("PHPSESSID=p1")},
		{method: "POST", target: "/login.php", form: "user=alice&pass=pw-2", status: 200, resp: "<form>"},
	})
	s := d.Endpoints()[0].Suggest
	if s.Status != "[2xx, 3xx]" || !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, "keep only 3xx") }) {
		t.Errorf("suggestion: %+v", s)
	}
}

func TestActorSuggestions(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		actor  Party
		slot   string
		note   string
	}{
		{"jwt sub and name", alice, Party{ID: "jwt.sub", Name: "jwt.name"}, "", ""},
		{"jwt with other claim names", http.Header{"Authorization": {"Token " + jwt(`{"uid":42,"email":"a@x.org"}`)}}, Party{ID: "jwt.uid", Name: "jwt.email"}, "", ""},
		{"jwt without a user claim", bearer(`{"scope":"admin"}`), Party{}, "", "no claim named like"},
		{"basic", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}, Party{Name: "basic.user"}, "", ""},
		{"session cookie", cookie("theme=dark; JSESSIONID=j1"), Party{ID: "identity.id", Name: "identity.name"}, "cookie.JSESSIONID", "identity learning"},
		{"jwt wins over a cookie", http.Header{"Authorization": alice["Authorization"], "Cookie": {"sid=x"}}, Party{ID: "jwt.sub", Name: "jwt.name"}, "", ""},
		{"opaque token", http.Header{"Authorization": {"Bearer abc123"}}, Party{}, "", "not a JWT"},
		{"nothing", nil, Party{}, "", "no credentials"},
	}
	for _, tt := range tests {
		d := learn([]call{{method: "POST", target: "/notes", header: tt.header, json: `{"text":"hi"}`, status: 201}})
		s := d.Endpoints()[0].Suggest
		if s.Actor != tt.actor || s.IdentitySlot != tt.slot {
			t.Errorf("%s: actor %+v slot %q, want %+v %q", tt.name, s.Actor, s.IdentitySlot, tt.actor, tt.slot)
		}
		if tt.note != "" && !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
			t.Errorf("%s: notes %q, want one about %q", tt.name, s.Notes, tt.note)
		}
	}
}

func TestWants(t *testing.T) {
	d := New(Config{})
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/anything", true},
		{"PUT", "/x", true},
		{"PATCH", "/x", true},
		{"DELETE", "/x", true},
		{"GET", "/users", false},
		{"GET", "/Login", true},
		{"GET", "/auth/callback", true},
		{"GET", "/oauth/authorize", true},
		{"GET", "/api/Session", true},
		{"GET", "/users/sign_in", true},
		{"GET", "/token/refresh", true},
		{"GET", "/authors/7", false},
		{"OPTIONS", "/login", false},
		{"HEAD", "/login", false},
	}
	for _, tt := range tests {
		if got := d.Wants(httptest.NewRequest(tt.method, tt.path, nil)); got != tt.want {
			t.Errorf("Wants(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestAddSkips(t *testing.T) {
	d := New(Config{})
	d.Add(call{method: "GET", target: "/users/7", status: 200}.exchange()) // a rule's candidate that did not match, not discovery's
	d.Add(call{method: "post", target: "/users", status: 200}.exchange())  // a rules file cannot spell the method
	x := call{method: "POST", target: "/users", status: 308, respHeader: http.Header{"Location": {"/users/"}}}.exchange()
	x.NormalizingRedirect = true // the repeated request is what counts
	d.Add(x)
	if eps := d.Endpoints(); len(eps) != 0 {
		t.Errorf("endpoints = %+v, want none", eps)
	}
}

func TestMoreSpecificEndpointFirst(t *testing.T) {
	d := learn([]call{
		{method: "PUT", target: "/users/me", header: alice, json: `{"name":"A"}`, status: 200},
		{method: "PUT", target: "/users/42", header: alice, json: `{"name":"B"}`, status: 200},
		{method: "PUT", target: "/users/43", header: alice, json: `{"name":"C"}`, status: 200},
		{method: "PUT", target: "/users/you", header: alice, json: `{"name":"D"}`, status: 200},
	})
	eps := d.Endpoints()
	if len(eps) != 2 || eps[0].Template != "/users/{id}" || eps[0].Count != 3 || eps[1].Template != "/users/me" {
		t.Fatalf("endpoints: %+v", eps)
	}
	var b bytes.Buffer
	d.WriteDraft(&b)
	if me, id := strings.Index(b.String(), `"/users/me"`), strings.Index(b.String(), `"/users/{id}"`); me < 0 || id < me {
		t.Errorf("/users/me must come before /users/{id}:\n%s", b.String())
	}
	set, err := rules.Parse("draft.yaml", b.Bytes())
	if err != nil || len(set.Warnings) > 0 {
		t.Fatalf("draft: %v %v\n%s", err, set.Warnings, b.String())
	}
}

func TestBounds(t *testing.T) {
	d := New(Config{MaxEndpoints: 2, MaxSamples: 2})
	long := strings.Repeat("é", 100)
	var many []string
	for i := range 80 {
		many = append(many, fmt.Sprintf("f%d=x", i))
	}
	for _, c := range []call{
		{method: "POST", target: "/a", form: "name=v1&note=" + long, status: 200},
		{method: "POST", target: "/a", form: "name=v2", status: 200},
		{method: "POST", target: "/a", form: "name=v3&" + strings.Join(many, "&"), status: 200},
		{method: "POST", target: "/b", status: 200},
		{method: "POST", target: "/c", status: 200},
		{method: "POST", target: "/c", status: 200},
	} {
		d.Add(c.exchange())
	}
	eps := d.Endpoints()
	if len(eps) != 2 || d.Overflow() != 2 {
		t.Fatalf("%d endpoints, overflow %d; want 2 and 2", len(eps), d.Overflow())
	}
	a := find(t, eps, "POST", "/a")
	if name := a.Body[0]; !slices.Equal(name.Samples, []string{"v1", "v2"}) || name.Count != 3 {
		t.Errorf("samples of name = %+v, want 2 kept of 3 seen", name)
	}
	if note := a.Body[1].Samples[0]; note != strings.Repeat("é", 60)+"…" {
		t.Errorf("long value kept as %q", note)
	}
	if len(a.Body) != maxNames {
		t.Errorf("%d fields kept, want %d", len(a.Body), maxNames)
	}
	var b bytes.Buffer
	d.WriteDraft(&b)
	if !strings.Contains(b.String(), "# 2 more requests went to endpoints beyond the limit of 2 tracked") {
		t.Errorf("draft does not mention the overflow:\n%s", b.String())
	}
}

// TestSecretsNeverKept: values of sensitive fields, claims, query
// parameters and cookies are never stored, so neither Endpoints nor the
// draft can show them.
func TestSecretsNeverKept(t *testing.T) {
	d := learn([]call{
		{method: "POST", target: "/accounts?api_key=LEAK1&page=2", status: 201,
			header: http.Header{"Authorization": {"Bearer " + jwt(`{"sub":"1","client_secret":"LEAK2"}`)}, "Cookie": {"PHPSESSID=LEAK3"}},
			json:   `{"password":"LEAK4","pass":"LEAK5","profile":{"ssn":"1","api_token":"LEAK6"},"items":[{"secret":"LEAK7"}],"name":"ok"}`},
		{method: "POST", target: "/password-reset/1b2c3d4e5f60718293a4b5c6d7e8f901", status: 200},
	})
	var b bytes.Buffer
	if err := d.WriteDraft(&b); err != nil {
		t.Fatal(err)
	}
	all := fmt.Sprintf("%+v", d.Endpoints()) + b.String()
	if strings.Contains(all, "LEAK") {
		t.Errorf("a secret was kept:\n%s", all)
	}
	for _, want := range []string{`profile "{ssn, api_token}"`, `items "[1 items]"`, "redact:\n  fields: [pass]", "/password-reset/[FILTERED]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("draft lacks %q:\n%s", want, b.String())
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	d := New(Config{MaxEndpoints: 50})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				body, _ := json.Marshal(map[string]any{"n": i, "g": g})
				d.Add(call{method: "POST", target: fmt.Sprintf("/r%d/items/%d", i%60, i), json: string(body), status: 201}.exchange())
				if i%50 == 0 {
					d.WriteDraft(&bytes.Buffer{})
				}
			}
		})
	}
	wg.Wait()
	total := d.Overflow()
	for _, e := range d.Endpoints() {
		total += e.Count
	}
	if total != 1200 {
		t.Errorf("counted %d requests, want 1200", total)
	}
}

func BenchmarkWants(b *testing.B) {
	d := New(Config{})
	r := httptest.NewRequest("GET", "/api/v1/organisations/42/projects/7/members?page=2", nil)
	b.ReportAllocs()
	for b.Loop() {
		d.Wants(r)
	}
}
