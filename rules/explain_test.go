package rules

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

// TestExplainAgreesWithBuild: for random rule files and requests, the
// rules Explain says emitted are exactly the rules whose events Build
// returns, in the same order. Explain checks method and path itself while
// Build goes through the index, so this also tests the index.
func TestExplainAgreesWithBuild(t *testing.T) {
	words := []string{"users", "7", "files", "v1"}
	methods := []string{"GET", "POST", "PUT"}
	rnd := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 150; round++ {
		var y strings.Builder
		y.WriteString("version: 1\nrules:\n")
		for i := 0; i < 1+rnd.IntN(10); i++ {
			var segs []string
			for j := 0; j < rnd.IntN(3); j++ {
				segs = append(segs, []string{"{p}", "*", "users", "7", "{n:[0-9]+}"}[rnd.IntN(5)])
			}
			path := "/" + strings.Join(segs, "/")
			if strings.Count(path, "{p}") > 1 {
				path = strings.Replace(path, "{p}", "{q}", 1)
			}
			if strings.Count(path, "{n:") > 1 {
				path = strings.Replace(path, "{n:", "{m:", 1)
			}
			fmt.Fprintf(&y, "  - name: r%d\n    action: a.b\n    match:\n      path: %q\n", i, path)
			if rnd.IntN(3) == 0 {
				fmt.Fprintf(&y, "      trailing_slash: true\n")
			}
			if rnd.IntN(2) == 0 {
				fmt.Fprintf(&y, "      method: %s\n", methods[rnd.IntN(len(methods))])
			}
			if rnd.IntN(3) == 0 {
				fmt.Fprintf(&y, "      status: [%dxx, \"500-503\"]\n", 2+rnd.IntN(2))
			}
			if rnd.IntN(4) == 0 {
				fmt.Fprintf(&y, "      query: {op: {one_of: [a, b]}}\n")
			}
			if rnd.IntN(3) == 0 {
				fmt.Fprintf(&y, "    continue: true\n")
			}
		}
		set, err := Parse("random.yaml", []byte(y.String()))
		if err != nil {
			t.Fatalf("%v\n%s", err, y.String())
		}
		for k := 0; k < 40; k++ {
			var segs []string
			for j := 0; j < rnd.IntN(4); j++ {
				segs = append(segs, words[rnd.IntN(len(words))])
			}
			path := "/" + strings.Join(segs, "/")
			if rnd.IntN(4) == 0 {
				path += "/"
			}
			x := &event.Exchange{
				Method: methods[rnd.IntN(len(methods))], Path: path,
				RawQuery: []string{"", "op=a", "op=c"}[rnd.IntN(3)],
				Status:   []int{200, 302, 404, 502}[rnd.IntN(4)], RequestHeader: http.Header{},
			}
			traces, _ := set.Explain(x)
			var explained []string
			for _, tr := range traces {
				if tr.Emitted {
					explained = append(explained, tr.Rule.Name)
				}
				if tr.Matched != (len(tr.Why) == 0) {
					t.Fatalf("trace of %s: matched=%v with reasons %v", tr.Rule.Name, tr.Matched, tr.Why)
				}
			}
			var built []string
			for _, ev := range set.Build(x) {
				built = append(built, ev.Rule)
			}
			if strings.Join(explained, ",") != strings.Join(built, ",") {
				t.Fatalf("%s %s?%s %d: Explain emitted %v, Build %v\nrules:\n%s", x.Method, x.Path, x.RawQuery, x.Status, explained, built, y.String())
			}
		}
	}
}

func TestExplainSaysWhy(t *testing.T) {
	set, err := Parse("rules.yaml", []byte(`version: 1
defaults:
  actor: {id: jwt.sub}
rules:
  - name: login
    match: {method: POST, path: /login, status: 2xx}
    action: user.logged_in
  - name: user-created
    match: {method: POST, path: /users, status: 2xx, host: "*.example.com", query: {notify: "1"}, header: {X-Csrf: {exists: true}}}
    action: user.created
    target: {type: user, id: response.body.id}
  - name: user-any
    match: {method: POST, path: /users}
    action: user.touched
`))
	if err != nil {
		t.Fatal(err)
	}
	x := sampleExchange("POST", "/users?notify=0", `{}`, `{"id":5}`)
	x.Host = "other.org:8080"
	x.Status = 404
	traces, evs := set.Explain(x)
	want := [][]string{
		{"path /users does not fit /login", "status 404 is not 2xx"},
		{`host "other.org" is not "*.example.com"`, "status 404 is not 2xx", `query notify is "0", rule wants "1"`, "header X-Csrf is absent, rule wants it present"},
		nil,
	}
	for i, tr := range traces {
		if strings.Join(tr.Why, "|") != strings.Join(want[i], "|") {
			t.Errorf("rule %s: why\n got: %q\nwant: %q", tr.Rule.Name, tr.Why, want[i])
		}
	}
	if len(evs) != 1 || evs[0].Action != "user.touched" || !traces[2].Emitted {
		t.Fatalf("events = %+v", evs)
	}
	if v := traces[2].Values; len(v) != 1 || v[0].Field != "actor.id" || v[0].Source != "jwt.sub" || !v[0].Missing {
		t.Errorf("values = %+v", v)
	}
}

func TestMatchExtensions(t *testing.T) {
	set, err := Parse("t.yaml", []byte(`version: 1
rules:
  - name: admin-host
    match: {method: POST, host: [admin.example.com, "*.admin.example.com"], path: /users}
    action: a.b
  - name: slash-ok
    match: {method: POST, path: /users, trailing_slash: true, content_type: application/json}
    action: a.b
  - name: body-role
    match: {method: PUT, path: "/users/{id}", body: {user.role: admin}}
    action: a.b
  - name: range
    match: {method: DELETE, path: "/users/{id}", status: "200-204"}
    action: a.b
  - name: redirect-itself
    match: {method: GET, path: /old, status: [301, 2xx]}
    action: a.b
  - name: redirect-class
    match: {method: GET, path: /new, status: 3xx}
    action: a.b
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, host, path, ct, body string
		status                       int
		redirect                     bool
		want                         string
	}{
		{"POST", "admin.example.com:443", "/users", "", "", 200, false, "admin-host"},
		{"POST", "x.admin.example.com", "/users", "", "", 200, false, "admin-host"},
		{"POST", "evil-admin.example.com", "/users", "application/json; charset=utf-8", "", 200, false, "slash-ok"},
		{"POST", "a", "/users/", "application/json", "", 200, false, "slash-ok"},
		{"POST", "a", "/users//", "application/json", "", 200, false, "nothing"},
		{"POST", "a", "/users/", "text/plain", "", 200, false, "nothing"},
		{"PUT", "a", "/users/1", "application/json", `{"user":{"role":"admin"}}`, 200, false, "body-role"},
		{"PUT", "a", "/users/1", "application/json", `{"user":{"role":"user"}}`, 200, false, "nothing"},
		{"PUT", "a", "/users/1", "text/plain", `not json`, 200, false, "nothing"},
		{"DELETE", "a", "/users/1", "", "", 204, false, "range"},
		{"DELETE", "a", "/users/1", "", "", 205, false, "nothing"},
		{"GET", "a", "/old", "", "", 301, true, "redirect-itself"},
		{"GET", "a", "/new", "", "", 301, true, "nothing"},
		{"GET", "a", "/new", "", "", 302, false, "redirect-class"},
	}
	for _, c := range cases {
		x := sampleExchange(c.method, c.path, c.body, "")
		x.Host, x.Status, x.NormalizingRedirect = c.host, c.status, c.redirect
		x.RequestHeader.Set("Content-Type", c.ct)
		got, _ := set.Match(x)
		if name(got) != c.want {
			t.Errorf("%s %s%s (%s) %d: matched %s, want %s", c.method, c.host, c.path, c.ct, c.status, name(got), c.want)
		}
	}
}

func TestInterestRendersBefore(t *testing.T) {
	set, err := Parse("t.yaml", []byte(`version: 1
rules:
  - name: u
    match: {method: PATCH, path: "/orgs/{org}/users/{id}"}
    before: "/api/orgs/{path.org}/users/{path.id}?fields={query.f}&lang={header.Accept-Language}"
    action: user.updated
    changes: [email]
`))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("PATCH", "/orgs/acme/users/9?f=all", nil)
	r.Header.Set("Accept-Language", "de")
	in := set.Interest(r)
	if !in.Record || !in.RequestBody || in.ResponseBody || in.Before != "/api/orgs/acme/users/9?fields=all&lang=de" {
		t.Errorf("interest = %+v", in)
	}
}
