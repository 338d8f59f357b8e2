package proxy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestIsNormalizingRedirect(t *testing.T) {
	hosts := []string{"app.example", "10.0.0.5:8080", "[::1]:8080"}
	for _, tc := range []struct {
		req      string // the URL the client asked for
		status   int
		location string
		want     bool
	}{
		// A trailing slash added or removed, every redirect status.
		{"http://app.example/users", 301, "/users/", true},
		{"http://app.example/users", 302, "/users/", true},
		{"http://app.example/users", 303, "/users/", false}, // see other: the request was handled
		{"http://app.example/users", 307, "/users/", true},
		{"http://app.example/users", 308, "/users/", true},
		{"http://app.example/users/", 308, "/users", true},
		{"http://app.example/a/users", 308, "users/", true}, // relative to /a/
		{"http://app.example/users", 308, "/users/#top", true},
		{"http://app.example/a%20b", 308, "/a%20b/", true},
		{"http://app.example/a%20b", 308, "/a b/", true},
		// Not redirects, or ones the client does not follow.
		{"http://app.example/users", 200, "/users/", false},
		{"http://app.example/users", 201, "/users/", false},
		{"http://app.example/users", 300, "/users/", false},
		{"http://app.example/users", 304, "/users/", false},
		// The query must be the same.
		{"http://app.example/users?page=2", 308, "/users/?page=2", true},
		{"http://app.example/users?page=2", 308, "/users/", false},
		{"http://app.example/users", 308, "/users/?page=2", false},
		{"http://app.example/users?a=1&b=2", 308, "/users/?b=2&a=1", false},
		// Another path.
		{"http://app.example/users", 308, "/users//", false},
		{"http://app.example/users", 308, "/users/7", false},
		{"http://app.example/users", 303, "/", false},
		{"http://app.example/users", 302, "/login?next=/users", false},
		{"http://app.example/users/", 308, "/accounts/", false},
		{"http://app.example/", 308, "//", false},
		// The very URL requested: post/redirect/get, not a normalisation.
		{"http://app.example/settings", 303, "/settings", false},
		{"http://app.example/settings", 302, "http://APP.example/settings", false},
		{"http://app.example/settings", 303, "", false},
		{"http://app.example/", 301, "http://app.example", false},
		// The same app under another scheme, port or host name.
		{"http://app.example/users", 301, "https://app.example/users", true},
		{"http://app.example/users", 308, "https://app.example/users/", true},
		{"http://app.example/users", 308, "http://app.example:8443/users", true},
		{"http://app.example/users", 308, "http://10.0.0.5:8080/users/", true}, // the upstream's own name
		{"http://app.example/users", 308, "http://10.0.0.5/users", true},
		{"http://app.example/users", 308, "http://[::1]:9/users/", true},
		{"https://app.example/users", 308, "//app.example/users/", true},
		// Someone else's host: an SSO or another site with the same path.
		{"http://app.example/login", 302, "https://sso.example/login", false},
		{"http://app.example/users", 308, "https://sso.example/users/", false},
		{"http://app.example/users", 308, "http://app.example.evil/users/", false},
		// Not a web address, or not an address at all.
		{"http://app.example/users", 308, "ftp://app.example/users/", false},
		{"http://app.example/users", 308, "javascript:alert(1)", false},
		{"http://app.example/users", 308, "/users/%zz", false},
		{"http://app.example/users", 308, "http://[bad/users/", false},
	} {
		req, err := url.Parse(tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := isNormalizingRedirect(tc.status, tc.location, req, hosts); got != tc.want {
			t.Errorf("%s answered %d Location %q: normalizing = %v, want %v", tc.req, tc.status, tc.location, got, tc.want)
		}
	}
}

func TestNormalizingRedirectRecorded(t *testing.T) {
	// The app redirects to what X-Location says, with X-Status, else
	// answers 201.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loc := r.Header.Get("X-Location"); loc != "" {
			w.Header().Set("Location", strings.ReplaceAll(loc, "{host}", r.Host))
			w.WriteHeader(308)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	up := newUpstream(t, app)
	rec := newRecorder(Interest{Record: true})
	front := newFront(t, up.URL, Config{Observer: rec})
	prefixed := newFront(t, up.URL+"/base", Config{Observer: rec})
	c := newClient(t)

	for _, tc := range []struct {
		name, front, path, location string
		wantStatus                  int
		want                        bool
	}{
		{"slash added", front.URL, "/users", "/users/", 308, true},
		{"the repeated request", front.URL, "/users/", "", 201, false},
		// The app builds absolute URLs from the Host it was sent: the
		// upstream's.
		{"absolute, the upstream's host", front.URL, "/users", "http://{host}/users/", 308, true},
		{"elsewhere", front.URL, "/users", "/users/7", 308, false},
		// The app sees /base/users and answers in its own terms.
		{"under the upstream's prefix", prefixed.URL, "/users", "/base/users/", 308, true},
		{"relative, under the upstream's prefix", prefixed.URL, "/users", "users/", 308, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, "POST", tc.front+tc.path, strings.NewReader(`{"name":"x"}`))
			if tc.location != "" {
				req.Header.Set("X-Location", tc.location)
			}
			resp, _ := do(t, c, req)
			x := rec.next(t)
			if resp.StatusCode != tc.wantStatus || x.Status != tc.wantStatus || x.NormalizingRedirect != tc.want {
				t.Errorf("client got %d, recorded %d NormalizingRedirect %v (Location %q); want %d and %v",
					resp.StatusCode, x.Status, x.NormalizingRedirect, resp.Header.Get("Location"), tc.wantStatus, tc.want)
			}
		})
	}
}
