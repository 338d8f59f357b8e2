package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestIdentityLearning: the login response's session cookie is bound to
// the user named in the login request; later requests carrying the cookie
// get that actor; logout forgets it.
func TestIdentityLearning(t *testing.T) {
	set, err := Parse("rules.yaml", []byte(`version: 1
identities:
  lookup: [cookie.sid, jwt.id]
defaults:
  actor: {id: identity.id, name: identity.name}
rules:
  - name: login
    match: {method: POST, path: /login, status: 2xx}
    action: user.logged_in
    actor: {name: request.body.username, id: response.body.user_id}
    bind:
      - {slot: cookie.sid, key: response.cookie.sid, id: response.body.user_id, name: request.body.username}
      - {slot: jwt.id, key: response.body.user_id, name: request.body.username}
  - name: logout
    match: {method: POST, path: /logout}
    action: user.logged_out
    unbind: [cookie.sid]
  - name: change
    match: {method: PUT, path: "/things/{id}"}
    action: thing.updated
`))
	if err != nil {
		t.Fatal(err)
	}
	login := sampleExchange("POST", "/login", `{"username":"alice","password":"pw"}`, `{"user_id":7}`)
	login.ResponseHeader.Add("Set-Cookie", "sid=s3ss10n; Path=/; HttpOnly")
	if evs := set.Build(login); len(evs) != 1 || evs[0].Actor.Name != "alice" || len(evs[0].Warnings) > 0 {
		t.Fatalf("login events = %+v", evs)
	}

	change := func(cookie, auth string) (string, string) {
		x := sampleExchange("PUT", "/things/1", `{}`, `{}`)
		if cookie != "" {
			x.RequestHeader.Set("Cookie", cookie)
		}
		if auth != "" {
			x.RequestHeader.Set("Authorization", auth)
		}
		ev := set.Build(x)[0]
		return ev.Actor.ID, ev.Actor.Name
	}
	if id, name := change("theme=dark; sid=s3ss10n", ""); id != "7" || name != "alice" {
		t.Errorf("with the session cookie: actor %q %q, want 7 alice", id, name)
	}
	if _, name := change("sid=other", ""); name != "" {
		t.Errorf("unknown session: actor name %q", name)
	}
	// A token carrying only the numeric id (HS256 here, not verified).
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"id": 7}).SignedString([]byte("k"))
	if _, name := change("", "Bearer "+tok); name != "alice" {
		t.Errorf("with a token carrying id 7: actor name %q, want alice", name)
	}

	logout := sampleExchange("POST", "/logout", "", "")
	logout.RequestHeader.Set("Cookie", "sid=s3ss10n")
	set.Build(logout)
	if _, name := change("sid=s3ss10n", ""); name != "" {
		t.Errorf("after logout: actor name %q, want none", name)
	}

	// Explain must not learn anything.
	login2 := sampleExchange("POST", "/login", `{"username":"bob"}`, `{"user_id":8}`)
	login2.ResponseHeader.Add("Set-Cookie", "sid=bobsession")
	set.Explain(login2)
	if _, name := change("sid=bobsession", ""); name != "" {
		t.Errorf("Explain learned a binding: %q", name)
	}
}

func TestJWTFromAnywhereAndVerified(t *testing.T) {
	dir := t.TempDir()
	secret := []byte("a-long-enough-shared-secret-for-hs256")
	os.WriteFile(filepath.Join(dir, "secret.key"), append(secret, '\n'), 0o600)
	rulesYAML := `version: 1
jwt:
  from: [header.Authorization, cookie.access_token, query.token, header.X-Auth]
  verify: {key_file: secret.key, algorithms: [HS256], leeway: 5s}
defaults:
  actor: {id: jwt.sub, name: jwt.name}
rules:
  - name: any
    match: {method: GET}
    action: a.b
`
	file := filepath.Join(dir, "rules.yaml")
	os.WriteFile(file, []byte(rulesYAML), 0o644)
	set, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(claims jwt.MapClaims, key []byte) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		return s
	}
	good := sign(jwt.MapClaims{"sub": "42", "name": "alice", "exp": time.Now().Add(time.Hour).Unix()}, secret)
	expired := sign(jwt.MapClaims{"sub": "42", "name": "alice", "exp": time.Now().Add(-time.Hour).Unix()}, secret)
	forged := sign(jwt.MapClaims{"sub": "1", "name": "admin"}, []byte("guessed-secret-guessed-secret-xx"))
	cases := []struct {
		name, header, value, query string
		wantName, wantWarn         string
	}{
		{"bearer", "Authorization", "Bearer " + good, "", "alice", ""},
		{"any scheme word", "Authorization", "JWT " + good, "", "alice", ""},
		{"cookie", "Cookie", "access_token=" + good, "", "alice", ""},
		{"query", "", "", "token=" + good, "alice", ""},
		{"custom header, bare", "X-Auth", good, "", "alice", ""},
		{"expired", "Authorization", "Bearer " + expired, "", "", "expired"},
		{"forged", "Authorization", "Bearer " + forged, "", "", "signature"},
		{"basic is no token", "Authorization", "Basic YWxpY2U6cHc=", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := sampleExchange("GET", "/", "", "")
			if c.header != "" {
				x.RequestHeader.Set(c.header, c.value)
			}
			x.RawQuery = c.query
			ev := set.Build(x)[0]
			if ev.Actor.Name != c.wantName {
				t.Errorf("actor name %q, want %q", ev.Actor.Name, c.wantName)
			}
			warns := strings.Join(ev.Warnings, "; ")
			if (c.wantWarn == "") != (warns == "") || !strings.Contains(warns, c.wantWarn) {
				t.Errorf("warnings %q, want one containing %q", warns, c.wantWarn)
			}
		})
	}
}
