package demoapp

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// req describes one request; as is "alice", "bob" or "" for nobody, and
// authenticates with a Bearer token.
type req struct {
	method, path, as, body string
	form                   bool // send body as application/x-www-form-urlencoded
}

func (q req) do(t *testing.T, a *app, h http.Handler) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(q.method, q.path, strings.NewReader(q.body))
	if q.form {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if q.body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	switch q.as {
	case "alice":
		r.Header.Set("Authorization", "Bearer "+a.tokenFor(a.users[1]))
	case "bob":
		r.Header.Set("Authorization", "Bearer "+a.tokenFor(a.users[2]))
	case "":
	default:
		t.Fatalf("unknown user %q", q.as)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestEndpoints runs each request against a freshly seeded app.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name string
		req
		want     int
		contains []string // substrings of the response body
	}{
		{"index", req{"GET", "/", "", "", false}, 200, []string{"POST   /signup", "alice-password"}},

		{"signup json", req{"POST", "/signup", "", `{"email":"Carol@Example.com","name":"Carol","password":"carol-password"}`, false}, 201,
			[]string{`"id":3`, `"email":"carol@example.com"`, `"name":"Carol"`, `"role":"user"`}},
		{"signup form", req{"POST", "/signup", "", "email=carol@example.com&name=Carol&password=carol-password", true}, 201, []string{`"id":3`}},
		{"signup ignores role", req{"POST", "/signup", "", `{"email":"c@example.com","name":"C","password":"12345678","role":"admin"}`, false}, 201, []string{`"role":"user"`}},
		{"signup duplicate", req{"POST", "/signup", "", `{"email":"ALICE@example.com","name":"A","password":"12345678"}`, false}, 409, []string{"already registered"}},
		{"signup bad json", req{"POST", "/signup", "", `{"email":`, false}, 400, []string{"JSON object"}},
		{"signup json array", req{"POST", "/signup", "", `[]`, false}, 400, []string{"JSON object"}},
		{"signup two objects", req{"POST", "/signup", "", `{} {}`, false}, 400, []string{"single JSON object"}},
		{"signup missing password", req{"POST", "/signup", "", `{"email":"c@example.com","name":"C"}`, false}, 400, []string{"password is required"}},
		{"signup short password", req{"POST", "/signup", "", `{"email":"c@example.com","name":"C","password":"short"}`, false}, 400, []string{"at least 8"}},
		{"signup bad email", req{"POST", "/signup", "", `{"email":"not-an-email","name":"C","password":"12345678"}`, false}, 400, []string{"valid address"}},
		{"signup email not a string", req{"POST", "/signup", "", `{"email":1,"name":"C","password":"12345678"}`, false}, 400, []string{"email must be a string"}},

		{"login json", req{"POST", "/login", "", `{"username":"alice@example.com","password":"alice-password"}`, false}, 200,
			[]string{`"token":"`, `"user":{"id":1,`, `"name":"Alice"`}},
		{"login form", req{"POST", "/login", "", "username=bob@example.com&password=bob-password", true}, 200, []string{`"user":{"id":2,`}},
		{"login wrong password", req{"POST", "/login", "", `{"username":"alice@example.com","password":"nope"}`, false}, 401, []string{`{"error":"invalid credentials"}`}},
		{"login unknown user", req{"POST", "/login", "", `{"username":"eve@example.com","password":"alice-password"}`, false}, 401, []string{"invalid credentials"}},
		{"login missing fields", req{"POST", "/login", "", `{}`, false}, 401, []string{"invalid credentials"}},
		{"login bad json", req{"POST", "/login", "", `{`, false}, 400, nil},

		{"logout", req{"POST", "/logout", "", "", false}, 204, nil},

		{"list users", req{"GET", "/users", "alice", "", false}, 200, []string{AliceEmail, BobEmail}},
		{"list users not admin", req{"GET", "/users", "bob", "", false}, 403, []string{"admin only"}},
		{"list users anonymous", req{"GET", "/users", "", "", false}, 401, []string{"authentication required"}},
		{"create user", req{"POST", "/users", "alice", `{"email":"dave@example.com","name":"Dave","password":"dave-password","role":"admin"}`, false}, 201,
			[]string{`"id":3`, `"role":"admin"`}},
		{"create user default role", req{"POST", "/users", "alice", `{"email":"dave@example.com","name":"Dave","password":"dave-password"}`, false}, 201, []string{`"role":"user"`}},
		{"create user not admin", req{"POST", "/users", "bob", `{"email":"dave@example.com","name":"Dave","password":"dave-password"}`, false}, 403, nil},
		{"create user duplicate", req{"POST", "/users", "alice", `{"email":"bob@example.com","name":"B","password":"12345678"}`, false}, 409, nil},
		{"create user bad role", req{"POST", "/users", "alice", `{"email":"d@example.com","name":"D","password":"12345678","role":"root"}`, false}, 400, []string{"role must be"}},
		{"create user bad json", req{"POST", "/users", "alice", `nope`, false}, 400, nil},
		{"get self", req{"GET", "/users/2", "bob", "", false}, 200, []string{`"email":"bob@example.com"`}},
		{"get other user", req{"GET", "/users/1", "bob", "", false}, 403, nil},
		{"get missing user as non-admin", req{"GET", "/users/99", "bob", "", false}, 403, nil},
		{"admin gets user", req{"GET", "/users/2", "alice", "", false}, 200, []string{`"name":"Bob"`}},
		{"get missing user", req{"GET", "/users/99", "alice", "", false}, 404, []string{"user not found"}},
		{"get non-numeric id", req{"GET", "/users/abc", "alice", "", false}, 404, nil},
		{"get user anonymous", req{"GET", "/users/2", "", "", false}, 401, nil},
		{"put self", req{"PUT", "/users/2", "bob", `{"email":"robert@example.com","name":"Robert"}`, false}, 200,
			[]string{`"email":"robert@example.com"`, `"name":"Robert"`, `"role":"user"`}},
		{"put missing name", req{"PUT", "/users/2", "bob", `{"email":"robert@example.com"}`, false}, 400, []string{"name is required"}},
		{"put taken email", req{"PUT", "/users/2", "bob", `{"email":"alice@example.com","name":"Bob"}`, false}, 409, nil},
		{"put other user", req{"PUT", "/users/1", "bob", `{"email":"x@example.com","name":"X"}`, false}, 403, nil},
		{"put missing user", req{"PUT", "/users/99", "alice", `{"email":"x@example.com","name":"X"}`, false}, 404, nil},
		{"patch name", req{"PATCH", "/users/2", "bob", `{"name":"Bobby"}`, false}, 200, []string{`"email":"bob@example.com"`, `"name":"Bobby"`}},
		{"patch password", req{"PATCH", "/users/2", "bob", `{"password":"new-bob-password"}`, false}, 200, nil},
		{"patch own role up", req{"PATCH", "/users/2", "bob", `{"role":"admin"}`, false}, 403, []string{"only admins"}},
		{"patch own role unchanged", req{"PATCH", "/users/2", "bob", `{"role":"user"}`, false}, 200, nil},
		{"admin patches role", req{"PATCH", "/users/2", "alice", `{"role":"admin"}`, false}, 200, []string{`"role":"admin"`}},
		{"patch missing user", req{"PATCH", "/users/99", "alice", `{"name":"X"}`, false}, 404, nil},
		{"patch bad json", req{"PATCH", "/users/2", "bob", `{"name":`, false}, 400, nil},
		{"delete user", req{"DELETE", "/users/2", "alice", "", false}, 204, nil},
		{"delete user not admin", req{"DELETE", "/users/2", "bob", "", false}, 403, nil},
		{"delete missing user", req{"DELETE", "/users/99", "alice", "", false}, 404, nil},
		{"delete self", req{"DELETE", "/users/1", "alice", "", false}, 409, nil},

		{"list projects", req{"GET", "/projects", "bob", "", false}, 200, []string{`"name":"Website relaunch"`}},
		{"list projects anonymous", req{"GET", "/projects", "", "", false}, 401, nil},
		{"create project", req{"POST", "/projects", "bob", `{"name":"Bob's project"}`, false}, 201, []string{`"id":2`, `"name":"Bob's project"`, `"owner_id":2`}},
		{"create project form", req{"POST", "/projects", "bob", "name=Intranet&description=Old", true}, 201, []string{`"description":"Old"`}},
		{"create project empty name", req{"POST", "/projects", "bob", `{"name":" "}`, false}, 400, nil},
		{"create project name not a string", req{"POST", "/projects", "bob", `{"name":5}`, false}, 400, nil},
		{"get project", req{"GET", "/projects/1", "bob", "", false}, 200, []string{`"owner_id":1`}},
		{"get missing project", req{"GET", "/projects/9", "bob", "", false}, 404, []string{"project not found"}},
		{"put project", req{"PUT", "/projects/1", "alice", `{"name":"Relaunch 2"}`, false}, 200, []string{`"name":"Relaunch 2"`, `"description":""`}},
		{"put project not owner", req{"PUT", "/projects/1", "bob", `{"name":"Mine now"}`, false}, 403, nil},
		{"put missing project", req{"PUT", "/projects/9", "alice", `{"name":"X"}`, false}, 404, nil},
		{"put project no name", req{"PUT", "/projects/1", "alice", `{"description":"x"}`, false}, 400, nil},
		{"delete project not owner", req{"DELETE", "/projects/1", "bob", "", false}, 403, nil},
		{"delete project", req{"DELETE", "/projects/1", "alice", "", false}, 204, nil},
		{"delete missing project", req{"DELETE", "/projects/9", "alice", "", false}, 404, nil},

		{"get settings", req{"GET", "/settings", "alice", "", false}, 200, []string{`"smtp_password":"smtp-secret"`}},
		{"get settings not admin", req{"GET", "/settings", "bob", "", false}, 403, nil},
		{"put settings", req{"PUT", "/settings", "alice", `{"site_name":"Acme","smtp_password":"hunter22"}`, false}, 200,
			[]string{`"site_name":"Acme"`, `"allow_signup":true`, `"smtp_host":"smtp.example.com"`, `"smtp_password":"hunter22"`}},
		{"put settings wrong type", req{"PUT", "/settings", "alice", `{"allow_signup":"yes"}`, false}, 400, []string{"true or false"}},
		{"put settings unknown", req{"PUT", "/settings", "alice", `{"colour":"red"}`, false}, 400, []string{"unknown setting colour"}},
		{"put settings not admin", req{"PUT", "/settings", "bob", `{"site_name":"Bob's"}`, false}, 403, nil},
		{"put settings anonymous", req{"PUT", "/settings", "", `{"site_name":"Eve's"}`, false}, 401, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp()
			w := tt.req.do(t, a, a.routes())
			if w.Code != tt.want {
				t.Fatalf("%s %s: status %d, want %d; body %s", tt.method, tt.path, w.Code, tt.want, w.Body)
			}
			body := w.Body.String()
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body %s does not contain %s", body, s)
				}
			}
			wantType := "application/json"
			switch {
			case tt.want == http.StatusNoContent:
				wantType = ""
				if body != "" {
					t.Errorf("204 with body %q", body)
				}
			case tt.path == "/":
				wantType = "text/plain; charset=utf-8"
			}
			if got := w.Header().Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type %q, want %q", got, wantType)
			}
		})
	}
}

func TestCreatedSetsLocation(t *testing.T) {
	a := newApp()
	w := req{"POST", "/projects", "bob", `{"name":"P"}`, false}.do(t, a, a.routes())
	if got := w.Header().Get("Location"); got != "/projects/2" {
		t.Errorf("Location %q, want /projects/2", got)
	}
}

func TestUnroutedRequests(t *testing.T) {
	a := newApp()
	h := a.routes()
	if w := (req{"DELETE", "/settings", "alice", "", false}).do(t, a, h); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /settings: status %d, want 405", w.Code)
	}
	if w := (req{"GET", "/nope", "alice", "", false}).do(t, a, h); w.Code != http.StatusNotFound {
		t.Errorf("GET /nope: status %d, want 404", w.Code)
	}
}

// login logs in through h and returns the token and the session cookie.
func login(t *testing.T, h http.Handler, username, password string) (string, *http.Cookie) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	r := httptest.NewRequest("POST", "/login", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("login %s: status %d; body %s", username, w.Code, w.Body)
	}
	var resp struct{ Token string }
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return resp.Token, c
		}
	}
	t.Fatalf("login %s: no sid cookie", username)
	return "", nil
}

// send makes a request with the given Authorization header and cookie (both
// optional) and returns the status.
func send(h http.Handler, method, path, auth string, cookie *http.Cookie, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestLoginTokenAndSession(t *testing.T) {
	h := New()
	before := time.Now().Unix()
	token, cookie := login(t, h, AliceEmail, AlicePassword)

	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q: want three parts", token)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if string(header) != `{"alg":"HS256","typ":"JWT"}` {
		t.Errorf("header %s", header)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("payload %s: %v", payload, err)
	}
	if c["sub"] != "1" || c["name"] != "Alice" || c["role"] != "admin" {
		t.Errorf("claims %s: want sub 1, name Alice, role admin", payload)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if int64(iat) < before || exp-iat != tokenTTL.Seconds() {
		t.Errorf("claims %s: iat/exp wrong", payload)
	}

	if !cookie.HttpOnly || cookie.Path != "/" || len(cookie.Value) < 20 {
		t.Errorf("cookie %v: want HttpOnly, Path /, a long random value", cookie)
	}
	if w := send(h, "GET", "/users", "Bearer "+token, nil, ""); w.Code != 200 {
		t.Errorf("with token: status %d", w.Code)
	}
	if w := send(h, "GET", "/users", "", cookie, ""); w.Code != 200 {
		t.Errorf("with cookie: status %d", w.Code)
	}

	w := send(h, "POST", "/logout", "", cookie, "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("logout: status %d", w.Code)
	}
	cleared := w.Result().Cookies()
	if len(cleared) != 1 || cleared[0].Name != "sid" || cleared[0].MaxAge >= 0 {
		t.Errorf("logout cookies %v: want sid cleared", cleared)
	}
	if w := send(h, "GET", "/users", "", cookie, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("cookie after logout: status %d, want 401", w.Code)
	}
	// A JWT is stateless: it stays valid until it expires.
	if w := send(h, "GET", "/users", "Bearer "+token, nil, ""); w.Code != 200 {
		t.Errorf("token after logout: status %d", w.Code)
	}
}

func TestRejectedCredentials(t *testing.T) {
	a := newApp()
	h := a.routes()
	alice := a.users[1]
	good := a.tokenFor(alice)
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + b64([]byte(`{"sub":"1","name":"Alice","role":"admin","iat":0,"exp":9999999999}`)) + "." + parts[2]
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	otherSecret := signToken([]byte("not the secret"), claims{Sub: "1", Exp: time.Now().Add(time.Hour).Unix()})
	expired := signToken(a.secret, claims{Sub: "1", Exp: time.Now().Add(-time.Second).Unix()})
	noUser := signToken(a.secret, claims{Sub: "99", Exp: time.Now().Add(time.Hour).Unix()})
	badSub := signToken(a.secret, claims{Sub: "alice", Exp: time.Now().Add(time.Hour).Unix()})

	tests := []struct {
		name   string
		auth   string
		cookie *http.Cookie
		want   int
	}{
		{"good token", "Bearer " + good, nil, 200},
		{"lower-case scheme", "bearer " + good, nil, 200},
		{"nothing", "", nil, 401},
		{"garbage", "Bearer garbage", nil, 401},
		{"forged payload", "Bearer " + forged, nil, 401},
		{"alg none", "Bearer " + algNone, nil, 401},
		{"other secret", "Bearer " + otherSecret, nil, 401},
		{"expired", "Bearer " + expired, nil, 401},
		{"unknown user", "Bearer " + noUser, nil, 401},
		{"non-numeric sub", "Bearer " + badSub, nil, 401},
		{"basic auth", "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=", nil, 401},
		{"unknown session", "", &http.Cookie{Name: "sid", Value: "made-up"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := send(h, "GET", "/users", tt.auth, tt.cookie, ""); w.Code != tt.want {
				t.Errorf("status %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestBadTokenBeatsGoodCookie(t *testing.T) {
	h := New()
	_, cookie := login(t, h, AliceEmail, AlicePassword)
	if w := send(h, "GET", "/users", "Bearer garbage", cookie, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", w.Code)
	}
}

// Roles and accounts are looked up on every request: the role in a token is
// informational only.
func TestStoreWinsOverToken(t *testing.T) {
	h := New()
	alice, _ := login(t, h, AliceEmail, AlicePassword)
	bob, bobCookie := login(t, h, BobEmail, BobPassword)

	if w := send(h, "GET", "/users", "Bearer "+bob, nil, ""); w.Code != http.StatusForbidden {
		t.Fatalf("bob before promotion: status %d, want 403", w.Code)
	}
	if w := send(h, "PATCH", "/users/2", "Bearer "+alice, nil, `{"role":"admin"}`); w.Code != 200 {
		t.Fatalf("promote bob: status %d", w.Code)
	}
	if w := send(h, "GET", "/users", "Bearer "+bob, nil, ""); w.Code != 200 {
		t.Errorf("bob after promotion, old token: status %d, want 200", w.Code)
	}
	if w := send(h, "DELETE", "/users/2", "Bearer "+alice, nil, ""); w.Code != http.StatusNoContent {
		t.Fatalf("delete bob: status %d", w.Code)
	}
	if w := send(h, "GET", "/projects", "Bearer "+bob, nil, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("deleted bob's token: status %d, want 401", w.Code)
	}
	if w := send(h, "GET", "/projects", "", bobCookie, ""); w.Code != http.StatusUnauthorized {
		t.Errorf("deleted bob's cookie: status %d, want 401", w.Code)
	}
}

func TestSignupThenLoginAndSignupDisabled(t *testing.T) {
	h := New()
	w := send(h, "POST", "/signup", "", nil, `{"email":"carol@example.com","name":"Carol","password":"carol-password"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("signup: status %d", w.Code)
	}
	login(t, h, "carol@example.com", "carol-password")

	alice, _ := login(t, h, AliceEmail, AlicePassword)
	if w := send(h, "PUT", "/settings", "Bearer "+alice, nil, `{"allow_signup":false}`); w.Code != 200 {
		t.Fatalf("disable signup: status %d", w.Code)
	}
	w = send(h, "POST", "/signup", "", nil, `{"email":"dan@example.com","name":"Dan","password":"dan-password"}`)
	if w.Code != http.StatusForbidden {
		t.Errorf("signup while disabled: status %d, want 403", w.Code)
	}
	// Admins can still add users.
	w = send(h, "POST", "/users", "Bearer "+alice, nil, `{"email":"dan@example.com","name":"Dan","password":"dan-password"}`)
	if w.Code != http.StatusCreated {
		t.Errorf("admin create while signup disabled: status %d, want 201", w.Code)
	}
}

func TestPasswordChange(t *testing.T) {
	h := New()
	bob, _ := login(t, h, BobEmail, BobPassword)
	if w := send(h, "PATCH", "/users/2", "Bearer "+bob, nil, `{"password":"bob-new-password"}`); w.Code != 200 {
		t.Fatalf("change password: status %d", w.Code)
	}
	if w := send(h, "POST", "/login", "", nil, `{"username":"bob@example.com","password":"bob-password"}`); w.Code != http.StatusUnauthorized {
		t.Errorf("old password: status %d, want 401", w.Code)
	}
	login(t, h, BobEmail, "bob-new-password")
}

// TestConcurrentUse hammers one app from many goroutines; run it with -race.
func TestConcurrentUse(t *testing.T) {
	h := New()
	alice, _ := login(t, h, AliceEmail, AlicePassword)
	const n = 32
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Everyone races for the same email: exactly one may win.
			w := send(h, "POST", "/signup", "", nil, `{"email":"race@example.com","name":"R","password":"12345678"}`)
			switch w.Code {
			case http.StatusCreated:
				wins.Add(1)
			case http.StatusConflict:
			default:
				t.Errorf("racing signup: status %d", w.Code)
			}

			email := fmt.Sprintf("user%d@example.com", i)
			if w := send(h, "POST", "/signup", "", nil, fmt.Sprintf(`{"email":%q,"name":"U","password":"12345678"}`, email)); w.Code != http.StatusCreated {
				t.Errorf("signup %s: status %d", email, w.Code)
				return
			}
			w = send(h, "POST", "/login", "", nil, fmt.Sprintf(`{"username":%q,"password":"12345678"}`, email))
			var resp struct{ Token string }
			json.Unmarshal(w.Body.Bytes(), &resp)
			tok := "Bearer " + resp.Token
			if w := send(h, "POST", "/projects", tok, nil, `{"name":"P"}`); w.Code != http.StatusCreated {
				t.Errorf("create project: status %d", w.Code)
			}
			if w := send(h, "GET", "/projects", tok, nil, ""); w.Code != 200 {
				t.Errorf("list projects: status %d", w.Code)
			}
			if w := send(h, "PUT", "/settings", "Bearer "+alice, nil, fmt.Sprintf(`{"site_name":"S%d"}`, i)); w.Code != 200 {
				t.Errorf("put settings: status %d", w.Code)
			}
			if w := send(h, "GET", "/users", "Bearer "+alice, nil, ""); w.Code != 200 {
				t.Errorf("list users: status %d", w.Code)
			}
		})
	}
	wg.Wait()

	if got := wins.Load(); got != 1 {
		t.Errorf("%d racing signups won, want 1", got)
	}
	var users, projects []struct{ ID int }
	json.Unmarshal(send(h, "GET", "/users", "Bearer "+alice, nil, "").Body.Bytes(), &users)
	json.Unmarshal(send(h, "GET", "/projects", "Bearer "+alice, nil, "").Body.Bytes(), &projects)
	if len(users) != 2+1+n || len(projects) != 1+n {
		t.Errorf("%d users and %d projects, want %d and %d", len(users), len(projects), 2+1+n, 1+n)
	}
	seen := map[int]bool{}
	for _, p := range projects {
		if seen[p.ID] {
			t.Errorf("project id %d used twice", p.ID)
		}
		seen[p.ID] = true
	}
}

func TestMultipartSignup(t *testing.T) {
	var body strings.Builder
	mw := multipart.NewWriter(&body)
	mw.WriteField("email", "carol@example.com")
	mw.WriteField("name", "Carol")
	mw.WriteField("password", "carol-password")
	mw.Close()
	r := httptest.NewRequest("POST", "/signup", strings.NewReader(body.String()))
	r.Header.Set("Content-Type", mw.FormDataContentType())
	w := httptest.NewRecorder()
	New().ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		t.Errorf("status %d, want 201; body %s", w.Code, w.Body)
	}
}
