package proxy

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// arrival is what an upstream saw of one request.
type arrival struct {
	Method, URI, Host string
	Header            http.Header
	ContentLength     int64
}

// arrivals is an upstream handler that reports every request, in order,
// then lets handle answer it.
func arrivals(handle http.HandlerFunc) (http.Handler, <-chan arrival) {
	ch := make(chan arrival, 100)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ch <- arrival{r.Method, r.RequestURI, r.Host, r.Header.Clone(), r.ContentLength}
		handle(w, r)
	}), ch
}

func nextArrival(t *testing.T, ch <-chan arrival) arrival {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(wait):
		t.Fatal("the upstream got no request")
		return arrival{}
	}
}

func noMoreArrivals(t *testing.T, ch <-chan arrival) {
	t.Helper()
	select {
	case a := <-ch:
		t.Errorf("the upstream got an unexpected %s %s", a.Method, a.URI)
	default:
	}
}

func TestBeforeCaptured(t *testing.T) {
	const state = `{"name":"old","role":"user"}`
	h, seenBy := arrivals(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == "GET" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"v3"`)
			io.WriteString(w, state)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})
	up := newUpstream(t, h)
	upHost := strings.TrimPrefix(up.URL, "http://")

	for _, tc := range []struct {
		name       string
		keepHost   bool
		accept     string // the client's; "" for none
		wantAccept string
		wantHost   string
	}{
		{"defaults", false, "", "application/json", upHost},
		{"client's Accept and Host", true, "application/vnd.app+json", "application/vnd.app+json", "app.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(Interest{Record: true, RequestBody: true, Before: "/users/7?view=full#frag"})
			// The upstream's path prefix is joined to the pre-fetch path
			// as to any request path.
			front := newFront(t, up.URL+"/base", Config{Observer: rec, KeepClientHost: tc.keepHost})
			req := newRequest(t, "PUT", front.URL+"/users/7", strings.NewReader(`{"name":"new"}`))
			req.Host = "app.example"
			req.Header.Set("Authorization", "Bearer abc")
			req.Header.Set("Cookie", "sid=s1")
			req.Header.Set("User-Agent", "legacy-browser/1.0")
			req.Header.Set("X-Request-ID", "req-1")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Custom", "not for the pre-fetch")
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, got := do(t, newClient(t), req)
			if resp.StatusCode != http.StatusOK || string(got) != `{"ok":true}` {
				t.Fatalf("client got %d %q, want 200 {\"ok\":true}", resp.StatusCode, got)
			}

			pre, real := nextArrival(t, seenBy), nextArrival(t, seenBy)
			noMoreArrivals(t, seenBy)
			if pre.Method != "GET" || pre.URI != "/base/users/7?view=full" || pre.ContentLength != 0 || pre.Host != tc.wantHost {
				t.Errorf("first upstream request: %s %s Host %q, %d body bytes; want GET /base/users/7?view=full Host %q, no body",
					pre.Method, pre.URI, pre.Host, pre.ContentLength, tc.wantHost)
			}
			if real.Method != "PUT" || real.URI != "/base/users/7" {
				t.Errorf("second upstream request: %s %s, want the client's PUT /base/users/7", real.Method, real.URI)
			}
			for name, want := range map[string]string{
				"Authorization":     "Bearer abc",
				"Cookie":            "sid=s1",
				"User-Agent":        "legacy-browser/1.0",
				"X-Request-Id":      "req-1",
				"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
				"X-Forwarded-Host":  "app.example",
				"X-Forwarded-Proto": "http",
				"Accept":            tc.wantAccept,
				"Content-Type":      "",
				"X-Custom":          "",
			} {
				if got := pre.Header.Get(name); got != want {
					t.Errorf("pre-fetch header %s = %q, want %q", name, got, want)
				}
				// The pre-fetch carries what the request itself carries.
				if name != "Accept" && want != "" && real.Header.Get(name) != want {
					t.Errorf("forwarded request header %s = %q, want %q as in the pre-fetch", name, real.Header.Get(name), want)
				}
			}

			x := rec.next(t)
			if want := body(state); !reflect.DeepEqual(x.Before, want) {
				t.Errorf("Before = %+v, want %+v", x.Before, want)
			}
			if x.BeforeError != "" || x.BeforeHeader.Get("ETag") != `"v3"` {
				t.Errorf("BeforeError %q, BeforeHeader %v; want no error and the upstream's header", x.BeforeError, x.BeforeHeader)
			}
			if want := body(`{"name":"new"}`); x.Status != http.StatusOK || !reflect.DeepEqual(x.RequestBody, want) {
				t.Errorf("recorded %d, request body %+v; want 200 and %+v", x.Status, x.RequestBody, want)
			}
		})
	}
}

func TestBeforeFailures(t *testing.T) {
	h, seenBy := arrivals(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.Error(w, "no such user", http.StatusNotFound)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/hangup":
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
		case "/broken":
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"na")
				c.Close()
			}
		default:
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "done")
		}
	})
	up := newUpstream(t, h)

	for _, tc := range []struct {
		before    string
		wantError string
		wantBody  event.Body
		requests  int // the upstream gets, the pre-fetch included
	}{
		{"/missing", "status 404", body("no such user\n"), 2},
		{"/moved", "status 302", body(`<a href="/elsewhere">Found</a>.` + "\n\n"), 2}, // not followed
		{"/hangup", event.UpstreamUnreachable, event.Body{Captured: true}, 2},
		{"/broken", "incomplete", event.Body{Captured: true}, 2},
		{"users/7", "invalid path", event.Body{Captured: true}, 1},
		{"//evil.example/users/7", "invalid path", event.Body{Captured: true}, 1},
		{"http://evil.example/users/7", "invalid path", event.Body{Captured: true}, 1},
	} {
		t.Run(tc.before, func(t *testing.T) {
			rec := newRecorder(Interest{Record: true, Before: tc.before})
			front := newFront(t, up.URL, Config{Observer: rec})
			resp, got := do(t, newClient(t), newRequest(t, "POST", front.URL+"/things", strings.NewReader("x")))
			if resp.StatusCode != http.StatusOK || string(got) != "done" {
				t.Errorf("client got %d %q, want 200 \"done\": a failed pre-fetch must not fail the request", resp.StatusCode, got)
			}
			for range tc.requests - 1 {
				if a := nextArrival(t, seenBy); a.Method != "GET" {
					t.Errorf("upstream got %s %s first, want the pre-fetch", a.Method, a.URI)
				}
			}
			if a := nextArrival(t, seenBy); a.Method != "POST" || a.URI != "/things" {
				t.Errorf("upstream got %s %s, want the client's POST /things", a.Method, a.URI)
			}
			noMoreArrivals(t, seenBy)
			x := rec.next(t)
			if x.BeforeError != tc.wantError || !reflect.DeepEqual(x.Before, tc.wantBody) {
				t.Errorf("BeforeError %q, Before %+v; want %q, %+v", x.BeforeError, x.Before, tc.wantError, tc.wantBody)
			}
			if x.Status != http.StatusOK || x.UpstreamError != "" {
				t.Errorf("recorded %d %q, want 200 and no upstream error", x.Status, x.UpstreamError)
			}
		})
	}
}

// TestBeforeTimeout lets the pre-fetch hang and checks the request is
// forwarded while it still hangs: the order is shown by the upstream, not
// by a clock.
func TestBeforeTimeout(t *testing.T) {
	for _, tc := range []struct {
		name string
		head bool // the upstream sends the pre-fetch's head, then stalls
	}{
		{"no head", false},
		{"head then stall", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{}) // never closed before the test ends
			abandoned := make(chan struct{})
			h, seenBy := arrivals(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != "GET" {
					io.WriteString(w, "done")
					return
				}
				if tc.head {
					w.Header().Set("Content-Length", "100")
					io.WriteString(w, `{"na`)
					w.(http.Flusher).Flush()
				}
				select {
				case <-release:
				case <-r.Context().Done(): // the proxy gave up: its connection closed
					close(abandoned)
				}
			})
			up := newUpstream(t, h)
			t.Cleanup(func() { close(release) }) // runs before the upstream's Close
			rec := newRecorder(Interest{Record: true, Before: "/state"})
			front := newFront(t, up.URL, Config{Observer: rec, BeforeTimeout: 50 * time.Millisecond})

			start := time.Now()
			resp, got := do(t, newClient(t), newRequest(t, "POST", front.URL+"/things", nil))
			if resp.StatusCode != http.StatusOK || string(got) != "done" {
				t.Fatalf("client got %d %q, want 200 \"done\"", resp.StatusCode, got)
			}
			// Without the bound the request would wait for release, which
			// comes only when the test ends.
			if d := time.Since(start); d > wait/2 {
				t.Errorf("the request took %v with a 50ms pre-fetch bound", d)
			}
			if a := nextArrival(t, seenBy); a.Method != "GET" || a.URI != "/state" {
				t.Errorf("upstream got %s %s first, want the pre-fetch", a.Method, a.URI)
			}
			if a := nextArrival(t, seenBy); a.Method != "POST" {
				t.Errorf("upstream got %s %s second, want the client's POST", a.Method, a.URI)
			}
			select {
			case <-abandoned:
			case <-time.After(wait):
				t.Error("the pre-fetch was never abandoned")
			}
			x := rec.next(t)
			if x.BeforeError != event.UpstreamTimedOut || !reflect.DeepEqual(x.Before, event.Body{Captured: true}) {
				t.Errorf("BeforeError %q, Before %+v; want %q and nothing kept", x.BeforeError, x.Before, event.UpstreamTimedOut)
			}
			if x.Status != http.StatusOK {
				t.Errorf("recorded status %d, want 200", x.Status)
			}
		})
	}
}

func TestBeforeTruncated(t *testing.T) {
	const state = "0123456789abcdefghij" // 20 bytes
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" {
			return
		}
		n := len(state)
		if r.URL.Path == "/exact" {
			n = 8
		}
		if r.URL.Path == "/stream" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		io.WriteString(w, state[:n])
	}))
	for _, tc := range []struct {
		before string
		want   event.Body
	}{
		{"/declared", event.Body{Captured: true, Data: []byte(state[:8]), Truncated: true, Size: 20}},
		// Only limit+1 bytes are read: without a declared length, that
		// is all that is known of the size.
		{"/stream", event.Body{Captured: true, Data: []byte(state[:8]), Truncated: true, Size: 9}},
		{"/exact", body(state[:8])},
	} {
		t.Run(tc.before, func(t *testing.T) {
			rec := newRecorder(Interest{Record: true, Before: tc.before})
			front := newFront(t, up.URL, Config{Observer: rec, BodyCaptureLimit: 8})
			do(t, newClient(t), newRequest(t, "DELETE", front.URL+"/things/1", nil))
			x := rec.next(t)
			if !reflect.DeepEqual(x.Before, tc.want) || x.BeforeError != "" {
				t.Errorf("Before %+v, BeforeError %q; want %+v and no error", x.Before, x.BeforeError, tc.want)
			}
		})
	}
}

func TestBeforeNotAsked(t *testing.T) {
	var requests atomic.Int64
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
	}))
	for _, tc := range []struct {
		name string
		in   Interest
	}{
		{"recorded, no Before", Interest{Record: true, RequestBody: true, ResponseBody: true}},
		{"Before, not recorded", Interest{Before: "/state"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			rec := newRecorder(tc.in)
			front := newFront(t, up.URL, Config{Observer: rec})
			do(t, newClient(t), newRequest(t, "POST", front.URL+"/things", strings.NewReader("x")))
			front.Close() // waits for the handler
			if n := requests.Load(); n != 1 {
				t.Errorf("the upstream got %d requests, want exactly the client's", n)
			}
			if !tc.in.Record {
				return
			}
			x := rec.next(t)
			if !reflect.DeepEqual(x.Before, event.Body{}) || x.BeforeHeader != nil || x.BeforeError != "" {
				t.Errorf("Before %+v, BeforeHeader %v, BeforeError %q; want all empty", x.Before, x.BeforeHeader, x.BeforeError)
			}
		})
	}
}

func TestBeforeClientLeaves(t *testing.T) {
	arrived := make(chan struct{}, 1)
	var forwarded atomic.Int64
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "GET" {
			forwarded.Add(1)
			return
		}
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	rec := newRecorder(Interest{Record: true, Before: "/state"})
	// A bound the test never reaches: only the client's leaving ends the
	// pre-fetch.
	front := newFront(t, up.URL, Config{Observer: rec, BeforeTimeout: 2 * wait})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-arrived:
		case <-time.After(wait):
		}
		cancel()
	}()
	req := newRequest(t, "POST", front.URL+"/things", nil).WithContext(ctx)
	if resp, err := newClient(t).Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("got %d, want the request canceled", resp.StatusCode)
	}
	x := rec.next(t)
	if x.BeforeError != event.UpstreamCanceled || x.UpstreamError != event.UpstreamCanceled {
		t.Errorf("BeforeError %q, UpstreamError %q; want both %q", x.BeforeError, x.UpstreamError, event.UpstreamCanceled)
	}
	front.Close()
	if n := forwarded.Load(); n != 0 {
		t.Errorf("the request was forwarded %d times after the client left", n)
	}
}
