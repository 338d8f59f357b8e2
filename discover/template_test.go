package discover

import (
	"strconv"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/rules"
)

func TestInferTemplate(t *testing.T) {
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"/users/42", "/users/43"}, "/users/{id}"},
		{[]string{"/users/42"}, "/users/{id}"},
		{[]string{"/users"}, "/users"},
		{[]string{"/users/"}, "/users/"},
		{[]string{"/"}, "/"},
		{nil, "/"},
		{[]string{"/orgs/acme/users/7"}, "/orgs/acme/users/{id}"},
		{[]string{"/orgs/acme/users/7", "/orgs/globex/users/8"}, "/orgs/{org_id}/users/{id}"},
		{[]string{"/users/42/roles/7"}, "/users/{user_id}/roles/{id}"},
		{[]string{"/companies/3/addresses/9"}, "/companies/{company_id}/addresses/{id}"},
		{[]string{"/users/42/activate"}, "/users/{id}/activate"},
		{[]string{"/x/1/2"}, "/x/{x_id}/{id}"},
		{[]string{"/1/2/3"}, "/{param}/{param2}/{id}"},
		{[]string{"/users/1/users/2/users/3"}, "/users/{user_id}/users/{user_id2}/users/{id}"},
		// What a value looks like.
		{[]string{"/users/550e8400-e29b-41d4-a716-446655440000"}, "/users/{id}"},
		{[]string{"/commits/9f86d081884c"}, "/commits/{id}"},
		{[]string{"/objects/507f1f77bcf86cd799439011"}, "/objects/{id}"},
		{[]string{"/tags/deadbeef"}, "/tags/deadbeef"}, // hex letters without a digit: a word
		{[]string{"/users/bob@example.com/roles"}, "/users/{id}/roles"},
		{[]string{"/people/@alice"}, "/people/{id}"},
		{[]string{"/posts/hello-world-2024"}, "/posts/{id}"},
		{[]string{"/reports/2024-01-15"}, "/reports/{id}"},
		{[]string{"/users/42.json"}, "/users/{id}"},
		{[]string{"/keys/Ab3dEf9hIjK1mNoP"}, "/keys/{id}"},
		{[]string{"/api/v1/users"}, "/api/v1/users"},
		{[]string{"/auth/oauth2-callback"}, "/auth/oauth2-callback"},
		{[]string{"/index.php"}, "/index.php"},
		{[]string{"/a/{x}", "/a/*"}, "/a/{id}"}, // braces and * cannot be literal text
		{[]string{"/a/b\x00c"}, "/a/{id}"},
		{[]string{"/a/\xff"}, "/a/{id}"},
		// The first path fixes the segment count.
		{[]string{"/users/42", "/users", "/users/7/roles"}, "/users/{id}"},
	}
	for _, tt := range tests {
		if got := InferTemplate(tt.paths); got != tt.want {
			t.Errorf("InferTemplate(%q) = %q, want %q", tt.paths, got, tt.want)
		}
	}
}

// FuzzInferTemplate: never panics; the template starts with "/", has as
// many segments as the first path, loads as a rules path, and matches every
// input of that length (except where a parameter faces an empty segment,
// which rules never match).
func FuzzInferTemplate(f *testing.F) {
	for _, seed := range [][2]string{
		{"/users/42", "/users/43"}, {"/orgs/acme/users/7", "/orgs/globex/users/8"}, {"", "/"},
		{"/users/", "/users/5"}, {"/a//b", "/a/x/b"}, {"/{x}/*", "/y/z"}, {"/é/ü", "/\xff/\x00"}, {"users", "/users"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		got := InferTemplate([]string{a, b})
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("InferTemplate(%q, %q) = %q: no leading /", a, b, got)
		}
		tsegs := segments(got)
		if len(tsegs) != len(segments(a)) {
			t.Fatalf("InferTemplate(%q, %q) = %q: %d segments, want %d", a, b, got, len(tsegs), len(segments(a)))
		}
		set, err := rules.Parse("fuzz.yaml", []byte("version: 1\nrules:\n  - name: r\n    match: {method: POST, path: "+strconv.Quote(got)+"}\n    action: x.y\n"))
		if err != nil {
			t.Fatalf("template %q does not load: %v", got, err)
		}
		for _, p := range []string{a, b} {
			segs := segments(p)
			if len(segs) != len(tsegs) {
				continue
			}
			emptyParam := false
			for i := range segs {
				emptyParam = emptyParam || segs[i] == "" && strings.HasPrefix(tsegs[i], "{")
			}
			if r, _ := set.Match(&event.Exchange{Method: "POST", Path: p}); r == nil && !emptyParam {
				t.Fatalf("template %q does not match its input %q", got, p)
			}
		}
	})
}

func TestValueApart(t *testing.T) {
	tests := []struct {
		a, b string
		at   int // -1: not one endpoint
	}{
		{"/orgs/acme/users/{}", "/orgs/globex/users/{}", 1},
		{"/orgs/acme", "/orgs/globex", 1},
		{"/settings/general", "/settings/mail", 1},
		{"/api/users", "/api/projects", -1},            // api is not a collection
		{"/users/{}/roles", "/users/{}/groups", -1},    // after a parameter: sub-resources
		{"/orgs/acme/users", "/orgs/globex/teams", -1}, // two segments differ
		{"/status/ok", "/status/failed", -1},           // status is not a plural
		{"/users/me", "/users/{}", -1},                 // a literal and a parameter
		{"/orgs//users", "/orgs/acme/users", -1},       // an empty segment is no value
		{"/users/{}/roles/admin", "/users/{}/roles/guest", 3},
	}
	for _, tt := range tests {
		at, ok := valueApart(pattern(segments(tt.a)), pattern(segments(tt.b)))
		if !ok {
			at = -1
		}
		if at != tt.at {
			t.Errorf("valueApart(%s, %s) = %d, want %d", tt.a, tt.b, at, tt.at)
		}
	}
}

func TestWords(t *testing.T) {
	for in, want := range map[string]string{
		"UsersManager": "users_manager", "addUser": "add_user", "API": "api", "index.php": "index_php",
		"post_ID": "post_id", "--": "", "Ünïcode": "n_code",
	} {
		if got := word(in); got != want {
			t.Errorf("word(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"users": "user", "companies": "company", "addresses": "address", "boxes": "box",
		"status": "status", "access": "access", "settings": "setting", "data": "data",
	} {
		if got := singular(in); got != want {
			t.Errorf("singular(%q) = %q, want %q", in, got, want)
		}
	}
}
