package discover

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/rules"
)

// TestDraftMatchesItsExchanges: the draft loads without errors or
// warnings (no rule shadows another), and its rules recognise the very
// requests they were drafted from.
func TestDraftMatchesItsExchanges(t *testing.T) {
	for name, app := range map[string][]call{"rest": restApp, "rpc": rpcApp} {
		t.Run(name, func(t *testing.T) {
			d := learn(app)
			var b bytes.Buffer
			if err := d.WriteDraft(&b); err != nil {
				t.Fatal(err)
			}
			set, err := rules.Parse("draft.yaml", b.Bytes())
			if err != nil {
				t.Fatalf("draft does not load: %v\n%s", err, b.String())
			}
			if len(set.Warnings) > 0 {
				t.Errorf("draft warnings: %v", set.Warnings)
			}
			for _, c := range app {
				got := ""
				if r, _ := set.Match(c.exchange()); r != nil {
					got = r.Action
				}
				if got != c.want {
					t.Errorf("%s %s (%d): matched %q, want %q", c.method, c.target, c.status, got, c.want)
				}
			}
			if t.Failed() {
				t.Logf("draft:\n%s", b.String())
			}
		})
	}
}

func TestEmptyDraft(t *testing.T) {
	var b bytes.Buffer
	New(Config{}).WriteDraft(&b)
	if !strings.HasSuffix(b.String(), "# 0 endpoints from 0 requests.\nversion: 1\nrules: []\n") {
		t.Errorf("empty draft:\n%s", b.String())
	}
	if _, err := rules.Parse("empty.yaml", b.Bytes()); err != nil {
		t.Error(err)
	}
}

// FuzzDraft: whatever a request looks like, the draft loads and its rule
// matches the request.
func FuzzDraft(f *testing.F) {
	f.Add("/users/42", "", `{"email":"a@b.c"}`, false, "Bearer "+jwt(`{"sub":"1","name":"A"}`))
	f.Add("/index.php", "module=API&method=Users.add", "", false, "")
	f.Add("/wp-admin/post.php", "", "action=trash&post_ID=1", true, "Basic YTpi")
	f.Add("/login", "", `{"username":"null","method":"true"}`, false, "")
	f.Add("/a b/\"q\"/#x", "action=%ff;x&do=yes", "action=~&null=1", true, "JWT a.e30.c")
	f.Add("", "method=a%00b", `{"action":"\u2028"}`, false, "Bearer "+jwt(`{"sub":{"x":1},"name":"\n"}`))
	f.Fuzz(func(t *testing.T, path, query, body string, form bool, auth string) {
		c := call{method: "POST", target: path, status: 200, header: http.Header{"Authorization": {auth}, "Cookie": {"sid=" + auth}}}
		if query != "" {
			c.target += "?" + query
		}
		if form {
			c.form = body
		} else {
			c.json = body
		}
		x := c.exchange()
		x.Path, x.RawQuery = path, query // even paths a URL could not carry
		d := New(Config{})
		d.Add(x)
		var b bytes.Buffer
		if err := d.WriteDraft(&b); err != nil {
			t.Fatal(err)
		}
		set, err := rules.Parse("draft.yaml", b.Bytes())
		if err != nil {
			t.Fatalf("draft does not load: %v\n%s", err, b.String())
		}
		if r, _ := set.Match(x); r == nil {
			t.Fatalf("the draft's rule does not match its request %q ? %q\n%s", path, query, b.String())
		}
	})
}

// ExampleDiscoverer_WriteDraft shows a draft for two endpoints of a JSON
// API that takes a JWT.
func ExampleDiscoverer_WriteDraft() {
	d := New(Config{})
	token := jwt(`{"sub":"1","name":"Alice"}`)
	for _, c := range []call{
		{method: "POST", target: "/users", json: `{"email":"bob@example.com","role":"user","password":"s3cret"}`, status: 201, resp: `{"id":7}`},
		{method: "PATCH", target: "/users/7", json: `{"role":"admin"}`, status: 200},
		{method: "PATCH", target: "/users/8", json: `{"role":"user"}`, status: 403},
	} {
		x := c.exchange()
		x.RequestHeader.Set("Authorization", "Bearer "+token)
		d.Add(x)
	}
	var b bytes.Buffer
	d.WriteDraft(&b)
	// The fixed header is left out here.
	os.Stdout.WriteString(b.String()[strings.Index(b.String(), "# 2 endpoints"):])
	// Output:
	// # 2 endpoints from 3 requests.
	// version: 1
	// rules:
	//
	//   # POST /users: 1 request, answered 201 (1)
	//   #   examples: /users
	//   #   request body (json): email "bob@example.com"; role "user"; password [FILTERED]
	//   #   response body: id
	//   #   caller: jwt.sub "1"; jwt.name "Alice"
	//   - name: user-created
	//     match: {method: POST, path: "/users", status: 2xx}
	//     action: user.created
	//     actor: {id: jwt.sub, name: jwt.name}
	//     target: {type: user, id: response.body.id, name: request.body.email}
	//     changes: [email, role, password]
	//
	//   # PATCH /users/{id}: 2 requests, answered 200 (1), 403 (1)
	//   #   examples: /users/7  /users/8
	//   #   request body (json): role "admin", "user"
	//   #   caller: jwt.sub "1"; jwt.name "Alice"
	//   - name: user-updated
	//     match: {method: PATCH, path: "/users/{id}", status: 2xx}
	//     action: user.updated
	//     actor: {id: jwt.sub, name: jwt.name}
	//     target: {type: user, id: path.id}
	//     changes: [role]
}
