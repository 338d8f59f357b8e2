package rules

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

// naiveMatch is the reference the index must agree with: every rule in
// order, each path template turned into a regular expression.
func naiveMatch(s *Set, x *event.Exchange) *Rule {
	for _, r := range s.rules {
		if len(r.methods) > 0 && !contains(r.methods, x.Method) {
			continue
		}
		if r.hasPath && !templateRegexp(r.path.text).MatchString(x.Path) {
			continue
		}
		if !r.status.has(x.Status) {
			continue
		}
		return r
	}
	return nil
}

func templateRegexp(t string) *regexp.Regexp {
	segs := strings.Split(t[1:], "/")
	var b strings.Builder
	b.WriteString("^")
	for i, s := range segs {
		switch {
		case s == "*" && i == len(segs)-1:
			b.WriteString("(/.*)?")
		case s == "*":
			b.WriteString("/[^/]+")
		case strings.HasPrefix(s, "{"):
			_, re, ok := strings.Cut(s[1:len(s)-1], ":")
			if ok {
				b.WriteString("/(?:" + re + ")")
			} else {
				b.WriteString("/[^/]+")
			}
		default:
			b.WriteString("/" + regexp.QuoteMeta(s))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestIndexAgreesWithLinearScan(t *testing.T) {
	words := []string{"users", "projects", "42", "files", "v1", ""}
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var y strings.Builder
		y.WriteString("version: 1\nrules:\n")
		for i := 0; i < 1+rnd.IntN(12); i++ {
			var segs []string
			for j := 0; j < rnd.IntN(4); j++ {
				switch rnd.IntN(5) {
				case 0:
					segs = append(segs, fmt.Sprintf("{p%d}", j))
				case 1:
					segs = append(segs, "*")
				case 2:
					segs = append(segs, fmt.Sprintf("{n%d:[0-9]+}", j))
				default:
					segs = append(segs, words[rnd.IntN(len(words)-1)])
				}
			}
			fmt.Fprintf(&y, "  - name: r%d\n    action: a.b\n    match:\n      path: \"/%s\"\n", i, strings.Join(segs, "/"))
			if rnd.IntN(2) == 0 {
				fmt.Fprintf(&y, "      method: %s\n", methods[rnd.IntN(len(methods))])
			}
			if rnd.IntN(3) == 0 {
				fmt.Fprintf(&y, "      status: %dxx\n", 2+rnd.IntN(3))
			}
		}
		set, err := Parse("random.yaml", []byte(y.String()))
		if err != nil {
			t.Fatalf("%v\n%s", err, y.String())
		}
		for k := 0; k < 50; k++ {
			var segs []string
			for j := 0; j < rnd.IntN(5); j++ {
				segs = append(segs, words[rnd.IntN(len(words))])
			}
			x := &event.Exchange{
				Method: methods[rnd.IntN(len(methods))], Path: "/" + strings.Join(segs, "/"),
				Status: []int{200, 302, 404, 500}[rnd.IntN(4)], RequestHeader: http.Header{},
			}
			got, _ := set.Match(x)
			want := naiveMatch(set, x)
			if got != want {
				t.Fatalf("%s %s %d: index matched %v, linear scan %v\nrules:\n%s", x.Method, x.Path, x.Status, name(got), name(want), y.String())
			}
		}
	}
}

func name(r *Rule) string {
	if r == nil {
		return "nothing"
	}
	return r.Name
}

func TestMatchConditions(t *testing.T) {
	set, err := Parse("t.yaml", []byte(`version: 1
rules:
  - name: rpc-add
    match: {method: POST, path: /index.php, query: {module: API, method: UsersManager.addUser}, status: [200, 201]}
    action: user.created
  - name: ajax
    match: {method: POST, path: /index.php, header: {X-Requested-With: XMLHttpRequest}}
    action: ajax.called
  - name: id-numeric
    match: {method: GET, path: "/users/{id:[0-9]+}"}
    action: user.read
  - name: id-any
    match: {method: GET, path: "/users/{id}"}
    action: user.looked_up
  - name: trailing
    match: {method: DELETE, path: "/files/*"}
    action: file.deleted
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, query string
		header              http.Header
		status              int
		want                string
	}{
		{"POST", "/index.php", "module=API&method=UsersManager.addUser", nil, 200, "rpc-add"},
		{"POST", "/index.php", "method=UsersManager.addUser&module=API&x=1", nil, 201, "rpc-add"},
		{"POST", "/index.php", "module=API&method=UsersManager.deleteUser", nil, 200, "nothing"},
		{"POST", "/index.php", "module=API&method=UsersManager.addUser", nil, 500, "nothing"},
		{"POST", "/index.php", "", http.Header{"X-Requested-With": {"XMLHttpRequest"}}, 200, "ajax"},
		{"GET", "/users/42", "", nil, 200, "id-numeric"},
		{"GET", "/users/bob", "", nil, 200, "id-any"},
		{"GET", "/users/", "", nil, 200, "nothing"},
		{"GET", "/users", "", nil, 200, "nothing"},
		{"GET", "/users/42/x", "", nil, 200, "nothing"},
		{"DELETE", "/files", "", nil, 204, "trailing"},
		{"DELETE", "/files/a/b/c", "", nil, 204, "trailing"},
		{"DELETE", "/filesx", "", nil, 204, "nothing"},
	}
	for _, c := range cases {
		h := c.header
		if h == nil {
			h = http.Header{}
		}
		x := &event.Exchange{Method: c.method, Path: c.path, RawQuery: c.query, RequestHeader: h, Status: c.status}
		got, _ := set.Match(x)
		if name(got) != c.want {
			t.Errorf("%s %s?%s %d: matched %s, want %s", c.method, c.path, c.query, c.status, name(got), c.want)
		}
	}
}

func TestNeedsPlansCapture(t *testing.T) {
	set, err := Parse("t.yaml", []byte(`version: 1
defaults:
  actor: {id: jwt.sub}
rules:
  - name: a
    match: {method: POST, path: /users}
    action: user.created
    target: {id: response.body.id}
  - name: b
    match: {method: POST, path: /login}
    action: user.logged_in
    actor: {name: request.body.username}
  - name: c
    match: {method: PUT, path: "/users/{id}"}
    action: user.updated
    changes: [email]
  - name: d
    match: {method: DELETE, path: "/users/{id}"}
    action: user.deleted
    description: "{jwt.name} deleted {path.id}"
  - name: e
    match: {method: POST, path: /files}
    action: file.uploaded
    target: {id: response.header.Location}
  - name: f
    match: {method: POST, path: /session}
    action: user.signed_in
    bind:
      - {slot: cookie.sid, key: response.cookie.sid, id: request.body.user}
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path         string
		record, rq, rsp, hdr bool
	}{
		{"POST", "/users", true, false, true, true}, // a body's header says its encoding
		{"POST", "/login", true, true, false, false},
		{"PUT", "/users/1", true, true, false, false},
		{"DELETE", "/users/1", true, false, false, false},
		{"POST", "/files", true, false, false, true},
		{"POST", "/session", true, true, false, true},
		{"GET", "/users/1", false, false, false, false},
		{"POST", "/other", false, false, false, false},
	}
	for _, c := range cases {
		in := set.Interest(httptest.NewRequest(c.method, c.path, nil))
		got := [4]bool{in.Record, in.RequestBody, in.ResponseBody, in.ResponseHeader}
		if want := [4]bool{c.record, c.rq, c.rsp, c.hdr}; got != want {
			t.Errorf("%s %s: record, request body, response body, response header = %v, want %v", c.method, c.path, got, want)
		}
	}
}

// benchRules builds n rules over distinct resources, each with a query
// condition, the shape of a large RPC-style application.
func benchRules(b *testing.B, n int) *Set {
	var y strings.Builder
	y.WriteString("version: 1\ndefaults:\n  actor: {id: jwt.sub}\nrules:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&y, "  - name: r%d\n    match: {method: [POST, PUT], path: \"/api/res%d/{id}\", status: 2xx, query: {op: save}, body: {kind: {one_of: [item, thing]}}}\n    action: res%d.saved\n    target: {id: path.id}\n", i, i, i)
	}
	set, err := Parse("bench.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	return set
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		set := benchRules(b, n)
		body := `{"kind":"item","name":"widget","price":12.5,"tags":["a","b"],"owner":{"id":7,"email":"x@example.com"}}`
		x := &event.Exchange{Method: "PUT", Path: fmt.Sprintf("/api/res%d/77", n/2), RawQuery: "op=save&x=1", Status: 200,
			RequestHeader: http.Header{"Content-Type": {"application/json"}}, RequestBody: capture(body)}
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r, _ := set.Match(x); r == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkInterest(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		set := benchRules(b, n)
		req := httptest.NewRequest("PUT", fmt.Sprintf("/api/res%d/77", n/2), nil)
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !set.Interest(req).Record {
					b.Fatal("not recorded")
				}
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	set, err := Load("testdata/issue-example.good.yaml")
	if err != nil {
		b.Fatal(err)
	}
	x, err := readExchange("POST /users HTTP/1.1\nHost: a\nAuthorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJhbGljZSJ9.c2ln\nContent-Type: application/json\n\n{\"email\":\"bob@example.com\",\"role\":\"admin\",\"password\":\"s3cret\"}",
		"HTTP/1.1 201 Created\nContent-Type: application/json\n\n{\"id\":7}")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(set.Build(x)) != 1 {
			b.Fatal("no event")
		}
	}
}

func TestIdentitySourcesNeedTrust(t *testing.T) {
	set, err := Parse("t.yaml", []byte(`version: 1
auth_proxy: {header: X-Forwarded-User, trusted_proxies: [10.0.0.0/8]}
rules:
  - name: any
    match: {method: GET}
    action: a.b
    actor: {name: auth_proxy.user, id: tls.serial, type: "{tls.cn}/{tls.email}/{tls.dns}"}
    target: {name: tls.subject, id: tls.issuer}
`))
	if err != nil {
		t.Fatal(err)
	}
	x := sampleExchange("GET", "/", "", "")
	x.RequestHeader.Set("X-Forwarded-User", "mallory")
	for _, c := range []struct{ peer, want string }{{"10.1.2.3:999", "mallory"}, {"[::ffff:10.1.2.3]:1", "mallory"}, {"192.168.1.1:999", ""}, {"garbage", ""}} {
		x.Peer = c.peer
		if got := set.Build(x)[0].Actor.Name; got != c.want {
			t.Errorf("peer %s: actor name %q, want %q", c.peer, got, c.want)
		}
	}
	x.ClientCert = &event.ClientCert{Subject: "CN=alice,O=Example", CommonName: "alice", Issuer: "CN=CA", SerialNumber: "0A", EmailAddresses: []string{"a@example.com"}, DNSNames: []string{"alice.example"}}
	ev := set.Build(x)[0]
	if ev.Actor.ID != "0A" || ev.Actor.Type != "alice/a@example.com/alice.example" || ev.Target.Name != "CN=alice,O=Example" || ev.Target.ID != "CN=CA" {
		t.Errorf("tls fields: %+v %+v", ev.Actor, ev.Target)
	}
}

// BenchmarkBuildBodySize: extraction cost follows what the rule reads, not
// the size of the body it reads it from (compare allocs/op across sizes).
func BenchmarkBuildBodySize(b *testing.B) {
	set, err := Parse("b.yaml", []byte(`version: 1
rules:
  - name: u
    match: {method: PUT, path: "/users/{id}"}
    action: user.updated
    target: {id: path.id, name: request.body.email}
    changes: [email, role]
`))
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		pad := strings.Repeat("x", size)
		body := `{"email":"bob@example.com","role":"admin","bio":"` + pad + `"}`
		x := &event.Exchange{Method: "PUT", Path: "/users/7", Status: 200,
			RequestHeader: http.Header{"Content-Type": {"application/json"}}, RequestBody: capture(body)}
		b.Run(fmt.Sprintf("body=%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(set.Build(x)) != 1 {
					b.Fatal("no event")
				}
			}
		})
	}
}

func TestCriticalInterest(t *testing.T) {
	set, err := Parse("t.yaml", []byte(`version: 1
rules:
  - {name: a, action: a.b, match: {method: DELETE, path: "/users/{id}"}, delivery: critical}
  - {name: b, action: a.c, match: {method: DELETE}, delivery: normal}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !set.Interest(httptest.NewRequest("DELETE", "/users/1", nil)).Critical {
		t.Error("critical rule not flagged")
	}
	if set.Interest(httptest.NewRequest("DELETE", "/other", nil)).Critical {
		t.Error("normal rule flagged critical")
	}
	if _, err := Parse("t.yaml", []byte("version: 1\nrules:\n  - {name: a, action: a.b, match: {method: GET}, delivery: urgent}\n")); err == nil || !strings.Contains(err.Error(), `delivery: "urgent" is not one of normal, critical`) {
		t.Errorf("bad delivery: %v", err)
	}
}

func TestSensitiveNames(t *testing.T) {
	r := newRedactor([]string{"SSN"}, true, nil)
	for name, want := range map[string]bool{
		"password": true, "smtp_password": true, "X-Api-Key": true, "csrfToken": true, "card_number": true,
		"Pass-Word": true, "p.a.s.s.w.o.r.d": true, "user_ssn": true, "email": false, "role": false,
		"": false, "pass": false, "tok": false, "AUTHORIZATION": true, "creditCard": true,
	} {
		if got := r.sensitive(name); got != want {
			t.Errorf("sensitive(%q) = %v, want %v", name, got, want)
		}
		if got, old := r.sensitive(name), strings.Contains(normalizeName(name), "password") || strings.Contains(normalizeName(name), "apikey") ||
			strings.Contains(normalizeName(name), "token") || strings.Contains(normalizeName(name), "cardnumber") || strings.Contains(normalizeName(name), "ssn") ||
			strings.Contains(normalizeName(name), "authorization") || strings.Contains(normalizeName(name), "creditcard"); got != old && name != "" {
			t.Errorf("sensitive(%q) = %v disagrees with the normalised comparison %v", name, got, old)
		}
	}
}
