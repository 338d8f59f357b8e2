package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		upstream string
		want     string
	}{
		{"missing", "", "Upstream is required"},
		{"relative", "/app", "scheme must be http or https"},
		{"other scheme", "ftp://files.example", "scheme must be http or https"},
		{"no host", "http:///app", "no host"},
		{"user info", "http://user:secret@app.example", "user info is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg Config
			if tc.upstream != "" {
				u, err := url.Parse(tc.upstream)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Upstream = u
			}
			_, err := New(cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "creating proxy: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%q) error = %v, want \"creating proxy: ...%s...\"", tc.upstream, err, tc.want)
			}
			if strings.Contains(fmt.Sprint(err), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestMethodsPass(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", "1234")
			return
		}
		echo(w, r)
	}))
	front := newFront(t, up.URL, Config{})
	c := newClient(t)

	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PURGE"} {
		t.Run(method, func(t *testing.T) {
			resp, s := doSeen(t, c, newRequest(t, method, front.URL+"/items/1?x=1", strings.NewReader("payload-"+method)))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", resp.StatusCode)
			}
			if s.Method != method || s.Body != "payload-"+method || s.RequestURI != "/items/1?x=1" {
				t.Errorf("upstream saw %s %s body %q, want %s /items/1?x=1 body %q", s.Method, s.RequestURI, s.Body, method, "payload-"+method)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		resp, body := do(t, c, newRequest(t, "HEAD", front.URL+"/items/1", nil))
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Fatalf("HEAD: status %d, %d body bytes; want 200 and none", resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Content-Length"); got != "1234" {
			t.Errorf("HEAD: Content-Length = %q, want the upstream's %q", got, "1234")
		}
		if resp.TransferEncoding != nil {
			t.Errorf("HEAD: Transfer-Encoding = %q, want none", resp.TransferEncoding)
		}
	})
}

func TestURLRewrite(t *testing.T) {
	for _, tc := range []struct {
		name     string
		base     string // upstream path and query
		target   string // as the client sends it
		wantURI  string // as the upstream receives it
		wantPath string
	}{
		{"no base", "", "/a/b?x=1", "/a/b?x=1", "/a/b"},
		{"root base", "/", "/a", "/a", "/a"},
		{"base", "/base", "/a/b", "/base/a/b", "/base/a/b"},
		{"base with slash", "/base/", "/a", "/base/a", "/base/a"},
		{"escaped slash kept", "/base", "/a%2Fb/c", "/base/a%2Fb/c", "/base/a/b/c"},
		{"escaped slash, no base", "", "/a%2Fb", "/a%2Fb", "/a/b"},
		{"base query first", "/base?k=v", "/a?x=1", "/base/a?k=v&x=1", "/base/a"},
		{"query untouched", "", "/q?b=2&a=1&a=3&s=%2F+%20&flag&semi=a;b&u=%E2%9C%93", "/q?b=2&a=1&a=3&s=%2F+%20&flag&semi=a;b&u=%E2%9C%93", "/q"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, http.HandlerFunc(echo))
			front := newFront(t, up.URL+tc.base, Config{})
			_, s := doSeen(t, newClient(t), newRequest(t, "GET", front.URL+tc.target, nil))
			if s.RequestURI != tc.wantURI || s.Path != tc.wantPath {
				t.Errorf("upstream %q, client %q: upstream got %q (path %q), want %q (path %q)",
					tc.base, tc.target, s.RequestURI, s.Path, tc.wantURI, tc.wantPath)
			}
		})
	}
}

func TestHopByHopRequestHeaders(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(echo))
	front := newFront(t, up.URL, Config{})
	req := newRequest(t, "GET", front.URL+"/", nil)
	req.Header.Set("Connection", "keep-alive, X-Hop-A, x-hop-b")
	req.Header.Set("X-Hop-A", "1")
	req.Header.Set("X-Hop-B", "1")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("Proxy-Anything", "x")
	req.Header.Set("Te", "trailers, deflate")
	req.Header.Set("Upgrade", "h2c")
	req.Header.Set("X-End-To-End", "kept")
	_, s := doSeen(t, newClient(t), req)

	for _, name := range []string{"Connection", "X-Hop-A", "X-Hop-B", "Keep-Alive", "Proxy-Authorization",
		"Proxy-Connection", "Proxy-Anything", "Upgrade", "Transfer-Encoding", "Trailer"} {
		if v, ok := s.Header[name]; ok {
			t.Errorf("upstream got %s: %q, want it removed", name, v)
		}
	}
	if got := s.Header.Get("Te"); got != "trailers" {
		t.Errorf("upstream got TE %q, want %q", got, "trailers")
	}
	if got := s.Header.Get("X-End-To-End"); got != "kept" {
		t.Errorf("upstream got X-End-To-End %q, want %q", got, "kept")
	}
}

func TestHopByHopResponseHeaders(t *testing.T) {
	up := rawUpstream(t, func(c net.Conn, r *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\n"+
			"Connection: X-Up-Hop\r\n"+
			"X-Up-Hop: 1\r\n"+
			"Keep-Alive: timeout=5\r\n"+
			"Proxy-Authenticate: Basic\r\n"+
			"Proxy-Anything: x\r\n"+
			"Upgrade: h2c\r\n"+
			"X-End-To-End: kept\r\n"+
			"Content-Type: text/plain\r\n"+
			"Content-Length: 2\r\n\r\nok")
	})
	front := newFront(t, up, Config{})
	resp, body := do(t, newClient(t), newRequest(t, "GET", front.URL+"/", nil))
	if string(body) != "ok" {
		t.Fatalf("body = %q, want %q", body, "ok")
	}
	for _, name := range []string{"Connection", "X-Up-Hop", "Keep-Alive", "Proxy-Authenticate", "Proxy-Anything", "Upgrade"} {
		if v, ok := resp.Header[name]; ok {
			t.Errorf("client got %s: %q, want it removed", name, v)
		}
	}
	if got := resp.Header.Get("X-End-To-End"); got != "kept" {
		t.Errorf("client got X-End-To-End %q, want %q", got, "kept")
	}
}

func TestForwardedHeaders(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(echo))
	upHost := strings.TrimPrefix(up.URL, "http://")
	for _, tc := range []struct {
		name     string
		keepHost bool
		wantHost string
	}{
		{"upstream host", false, upHost},
		{"client host kept", true, "app.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := newFront(t, up.URL, Config{KeepClientHost: tc.keepHost})
			req := newRequest(t, "GET", front.URL+"/", nil)
			req.Host = "app.example"
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-Forwarded-Host", "spoofed.example")
			req.Header.Set("X-Forwarded-Proto", "https")
			_, s := doSeen(t, newClient(t), req)
			for name, want := range map[string]string{
				"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
				"X-Forwarded-Host":  "app.example",
				"X-Forwarded-Proto": "http",
			} {
				if got := s.Header.Values(name); len(got) != 1 || got[0] != want {
					t.Errorf("upstream got %s %q, want %q", name, got, want)
				}
			}
			if s.Host != tc.wantHost {
				t.Errorf("upstream got Host %q, want %q", s.Host, tc.wantHost)
			}
		})
	}
	t.Run("first hop", func(t *testing.T) {
		front := newFront(t, up.URL, Config{})
		_, s := doSeen(t, newClient(t), newRequest(t, "GET", front.URL+"/", nil))
		if got := s.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("upstream got X-Forwarded-For %q, want %q", got, "127.0.0.1")
		}
	})
}

func TestUserAgentNotAdded(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(echo))
	front := newFront(t, up.URL, Config{})
	c := newClient(t)

	req := newRequest(t, "GET", front.URL+"/", nil)
	req.Header["User-Agent"] = []string{""} // the client sends none
	_, s := doSeen(t, c, req)
	if v, ok := s.Header["User-Agent"]; ok {
		t.Errorf("client sent no User-Agent, upstream got %q", v)
	}

	req = newRequest(t, "GET", front.URL+"/", nil)
	req.Header.Set("User-Agent", "curl/8.5.0")
	_, s = doSeen(t, c, req)
	if got := s.Header.Get("User-Agent"); got != "curl/8.5.0" {
		t.Errorf("upstream got User-Agent %q, want %q", got, "curl/8.5.0")
	}
}

func TestClientConnectionCloseKeepsUpstreamConnection(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	front := newFront(t, up.URL, Config{})
	c := newClient(t)

	const n = 20
	for range n {
		req := newRequest(t, "GET", front.URL+"/", nil)
		req.Close = true // "Connection: close", a new client connection each time
		_, s := doSeen(t, c, req)
		if v, ok := s.Header["Connection"]; ok {
			t.Fatalf("upstream got Connection %q, want none", v)
		}
	}
	// One connection is expected; a second is allowed for the moment the
	// first is between the body's end and the idle pool.
	if got := conns.Load(); got > 2 {
		t.Errorf("%d requests with Connection: close opened %d upstream connections, want 1", n, got)
	}
}

func TestGzipPassesThrough(t *testing.T) {
	var plain bytes.Buffer
	for i := range 2000 {
		fmt.Fprintf(&plain, `{"line":%d,"text":"the same words again and again"}`+"\n", i)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain.Bytes())
	zw.Close()

	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("X-Got-Accept-Encoding", r.Header.Get("Accept-Encoding"))
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write(plain.Bytes())
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(gz.Len()))
		w.Write(gz.Bytes())
	}))
	front := newFront(t, up.URL, Config{})
	c := newClient(t)

	req := newRequest(t, "GET", front.URL+"/", nil)
	req.Header.Set("Accept-Encoding", "gzip, br")
	resp, body := do(t, c, req)
	if got := resp.Header.Get("X-Got-Accept-Encoding"); got != "gzip, br" {
		t.Errorf("upstream got Accept-Encoding %q, want %q", got, "gzip, br")
	}
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(body, gz.Bytes()) {
		t.Errorf("client got %d bytes with Content-Encoding %q, want the upstream's %d gzip bytes unchanged",
			len(body), resp.Header.Get("Content-Encoding"), gz.Len())
	}
	if resp.ContentLength != int64(gz.Len()) {
		t.Errorf("Content-Length = %d, want %d", resp.ContentLength, gz.Len())
	}

	// Without Accept-Encoding from the client, the proxy asks for none.
	resp, body = do(t, c, newRequest(t, "GET", front.URL+"/", nil))
	if got := resp.Header.Get("X-Got-Accept-Encoding"); got != "" {
		t.Errorf("client sent no Accept-Encoding, upstream got %q", got)
	}
	if !bytes.Equal(body, plain.Bytes()) {
		t.Errorf("client got %d bytes, want the upstream's %d plain bytes", len(body), plain.Len())
	}
}

func TestRedirectsReturned(t *testing.T) {
	var followed atomic.Int64
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			followed.Add(1)
		}
		http.Redirect(w, r, "/next", http.StatusFound)
	}))
	front := newFront(t, up.URL, Config{})
	resp, _ := do(t, newClient(t), newRequest(t, "GET", front.URL+"/start", nil))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/next" {
		t.Errorf("got %d Location %q, want 302 Location /next", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := followed.Load(); n != 0 {
		t.Errorf("the proxy followed the redirect (%d requests to /next)", n)
	}
}

func TestConnectRefused(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	rec := newRecorder(Interest{Record: true})
	front := newFront(t, up.URL, Config{Observer: rec})

	target := up.Listener.Addr().String()
	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the answer to CONNECT: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("CONNECT got %d, want 405", resp.StatusCode)
	}
	if x := rec.next(t); x.Method != "CONNECT" || x.Status != http.StatusMethodNotAllowed || x.Host != target {
		t.Errorf("recorded %s %s -> %d, want CONNECT %s -> 405", x.Method, x.Host, x.Status, target)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the upstream got %d connections, want none", n)
	}
}

func TestChunkedRequestStreams(t *testing.T) {
	gotFirst := make(chan struct{})
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s|%d|%q", first, rest, r.ContentLength, r.TransferEncoding)
	}))
	front := newFront(t, up.URL, Config{})

	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "part1")
		select {
		case <-gotFirst:
			io.WriteString(pw, "part2")
			pw.Close()
		case <-time.After(wait):
			pw.CloseWithError(errors.New("the upstream never got the first part before the second was written"))
		}
	}()
	_, body := do(t, newClient(t), newRequest(t, "POST", front.URL+"/upload", pr))
	if want := `part1|part2|-1|["chunked"]`; string(body) != want {
		t.Errorf("upstream saw %q, want %q", body, want)
	}
}

// TestUnknownLengthResponsesFlush checks that each part of a stream reaches
// the client before the upstream sends the next one.
func TestUnknownLengthResponsesFlush(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType string
		first, last string
	}{
		{"SSE", "text/event-stream", "data: one\n\n", "data: two\n\n"},
		{"NDJSON", "application/x-ndjson", `{"n":1}` + "\n", `{"n":2}` + "\n"},
		{"no type", "", "line one\n", "line two\n"},
	} {
		for _, recorded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/recorded=%v", tc.name, recorded), func(t *testing.T) {
				next := make(chan struct{})
				up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header()["Content-Type"] = []string{tc.contentType}
					io.WriteString(w, tc.first)
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-r.Context().Done():
						return
					}
					io.WriteString(w, tc.last)
				}))
				var cfg Config
				rec := newRecorder(recordAll)
				if recorded {
					cfg.Observer = rec
				}
				front := newFront(t, up.URL, cfg)

				resp, err := newClient(t).Do(newRequest(t, "GET", front.URL+"/stream", nil))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.TransferEncoding == nil || resp.TransferEncoding[0] != "chunked" {
					t.Errorf("Transfer-Encoding = %q, want chunked", resp.TransferEncoding)
				}
				br := bufio.NewReader(resp.Body)
				got := make(chan string, 1)
				go func() {
					b := make([]byte, len(tc.first))
					io.ReadFull(br, b)
					got <- string(b)
				}()
				select {
				case s := <-got:
					if s != tc.first {
						t.Fatalf("first part = %q, want %q", s, tc.first)
					}
				case <-time.After(wait):
					t.Fatal("the first part did not reach the client before the upstream sent the next")
				}
				close(next)
				rest, err := io.ReadAll(br)
				if err != nil || string(rest) != tc.last {
					t.Fatalf("rest = %q, %v; want %q", rest, err, tc.last)
				}
				if recorded {
					x := rec.next(t)
					if want := tc.first + tc.last; string(x.ResponseBody.Data) != want {
						t.Errorf("recorded response body %q, want %q", x.ResponseBody.Data, want)
					}
				}
			})
		}
	}
}

func TestContentLengthKept(t *testing.T) {
	const n = 100_000
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(n))
		io.Copy(w, &patternReader{n: n})
	}))
	for _, recorded := range []bool{false, true} {
		t.Run(fmt.Sprintf("recorded=%v", recorded), func(t *testing.T) {
			var cfg Config
			if recorded {
				cfg.Observer = newRecorder(recordAll)
			}
			front := newFront(t, up.URL, cfg)
			resp, body := do(t, newClient(t), newRequest(t, "GET", front.URL+"/", nil))
			if resp.ContentLength != n || resp.TransferEncoding != nil || len(body) != n {
				t.Errorf("client got Content-Length %d, Transfer-Encoding %q, %d bytes; want Content-Length %d and no chunking",
					resp.ContentLength, resp.TransferEncoding, len(body), n)
			}
		})
	}
}

func TestNoContentTypeAdded(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no sniffing here either
		io.WriteString(w, "<html><body>hello</body></html>")
	}))
	front := newFront(t, up.URL, Config{})
	resp, _ := do(t, newClient(t), newRequest(t, "GET", front.URL+"/", nil))
	if v, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("the upstream sent no Content-Type, the client got %q", v)
	}
}

func TestTrailersPass(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		io.WriteString(w, "body")
		w.Header().Set("X-Checksum", "abc")
	}))
	front := newFront(t, up.URL, Config{})
	resp, body := do(t, newClient(t), newRequest(t, "GET", front.URL+"/", nil))
	if string(body) != "body" || resp.Trailer.Get("X-Checksum") != "abc" {
		t.Errorf("got body %q trailer X-Checksum %q, want %q and %q", body, resp.Trailer.Get("X-Checksum"), "body", "abc")
	}
}

func TestUpstreamBreaksMidBody(t *testing.T) {
	for _, tc := range []struct{ name, head string }{
		{"chunked", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"},
		{"content-length", "Content-Length: 100\r\n\r\nhello"},
		{"until close", "\r\nhello"}, // HTTP/1.0 style: the end is the close
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := rawUpstream(t, func(c net.Conn, r *http.Request) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"+tc.head)
			})
			rec := newRecorder(recordAll)
			front := newFront(t, up, Config{Observer: rec})
			resp, err := newClient(t).Get(front.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.name == "until close" {
				// The upstream said nothing about the length: its close is
				// a clean end and the client gets it all.
				if err != nil || string(body) != "hello" {
					t.Fatalf("got %q, %v; want %q", body, err, "hello")
				}
			} else if err == nil {
				t.Fatalf("client read %q and a clean end; want an error, the body is incomplete", body)
			}
			x := rec.next(t)
			if x.Status != http.StatusOK || x.ResponseBody.Size != 5 || string(x.ResponseBody.Data) != "hello" {
				t.Errorf("recorded status %d body %q (%d bytes), want 200 %q", x.Status, x.ResponseBody.Data, x.ResponseBody.Size, "hello")
			}
			if want := tc.name != "until close"; x.ResponseIncomplete != want || x.UpstreamError != "" {
				t.Errorf("recorded ResponseIncomplete %v, UpstreamError %q; want %v and none (the head arrived)", x.ResponseIncomplete, x.UpstreamError, want)
			}
		})
	}
}

// TestLargeBodiesStream sends 256 MiB each way through a recording proxy
// and checks memory does not grow with the body.
func TestLargeBodiesStream(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 512 MiB")
	}
	const size = 256 << 20
	const limit = 64 << 10
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			var c patternChecker
			io.Copy(&c, r.Body)
			fmt.Fprintf(w, "%d %v", c.n, c.bad)
			return
		}
		// No Content-Length: the proxy streams a body of unknown length.
		io.Copy(w, &patternReader{n: size})
	}))
	rec := newRecorder(recordAll)
	front := newFront(t, up.URL, Config{Observer: rec, BodyCaptureLimit: limit})
	c := newClient(t)
	c.Timeout = 2 * time.Minute

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)

	req := newRequest(t, "POST", front.URL+"/upload", &patternReader{n: size})
	req.ContentLength = size
	_, body := do(t, c, req)
	if want := fmt.Sprintf("%d false", size); string(body) != want {
		t.Errorf("upload: upstream got %q, want %q (bytes, corrupt)", body, want)
	}
	x := rec.next(t)
	if b := x.RequestBody; b.Size != size || !b.Truncated || len(b.Data) != limit || !bytes.Equal(b.Data, pattern[:limit]) {
		t.Errorf("recorded request body: %d bytes kept of %d, truncated %v; want the first %d of %d, truncated",
			len(b.Data), b.Size, b.Truncated, limit, size)
	}

	resp, err := c.Get(front.URL + "/download")
	if err != nil {
		t.Fatal(err)
	}
	var check patternChecker
	_, err = io.Copy(&check, resp.Body)
	resp.Body.Close()
	if err != nil || check.n != size || check.bad {
		t.Errorf("download: got %d bytes (corrupt: %v), %v; want %d", check.n, check.bad, err, size)
	}
	x = rec.next(t)
	if b := x.ResponseBody; b.Size != size || !b.Truncated || len(b.Data) != limit {
		t.Errorf("recorded response body: %d bytes kept of %d, truncated %v; want the first %d of %d, truncated",
			len(b.Data), b.Size, b.Truncated, limit, size)
	}

	runtime.ReadMemStats(&after)
	// A body held in memory would allocate at least its size; streaming
	// allocates buffers and bookkeeping only.
	grown := after.TotalAlloc - before.TotalAlloc
	t.Logf("moving %d MiB each way allocated %.1f MiB", size>>20, float64(grown)/(1<<20))
	if grown > 64<<20 {
		t.Errorf("moving %d MiB each way allocated %d MiB, want under 64 MiB", size>>20, grown>>20)
	}
}

func TestWebSocket(t *testing.T) {
	gotHeader := make(chan http.Header, 1)
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		h.Set("Request-Uri", r.RequestURI)
		gotHeader <- h
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("upstream: hijacking: %v", err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(wait))
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		buf := make([]byte, 64)
		for {
			n, err := brw.Read(buf)
			if err != nil || string(buf[:n]) == "quit" {
				return // closing: the proxy must close the client too
			}
			c.Write(buf[:n])
		}
	}))
	rec := newRecorder(Interest{Record: true, RequestBody: true, ResponseBody: true})
	front := newFront(t, up.URL, Config{Observer: rec})

	c, err := net.Dial("tcp", front.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, "GET /socket?room=1 HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Request-ID: ws-1\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("X-Request-Id") != "ws-1" {
		t.Fatalf("upgrade answer %d X-Request-Id %q, want 101 ws-1", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	var h http.Header
	select {
	case h = <-gotHeader:
	case <-time.After(wait):
		t.Fatal("the upstream got no upgrade request")
	}
	for name, want := range map[string]string{
		"Host": strings.TrimPrefix(up.URL, "http://"), "Request-Uri": "/socket?room=1",
		"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "app.example", "X-Request-Id": "ws-1",
		"Upgrade": "websocket", "Connection": "Upgrade",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("upstream got %s %q, want %q", name, got, want)
		}
	}

	for _, msg := range []string{"hello", "second message"} {
		io.WriteString(c, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %q: got %q, %v", msg, got, err)
		}
	}
	io.WriteString(c, "quit")
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the upstream closed, client read %d bytes, %v; want EOF", n, err)
	}
	// httputil half-closes: the exchange ends when the client closes too.
	c.Close()

	x := rec.next(t)
	if x.Status != http.StatusSwitchingProtocols || x.RequestID != "ws-1" || x.Path != "/socket" {
		t.Errorf("recorded %d %s id %q, want 101 /socket id ws-1", x.Status, x.Path, x.RequestID)
	}
	if x.ResponseHeader.Get("Upgrade") != "websocket" {
		t.Errorf("recorded response header %v, want the 101's", x.ResponseHeader)
	}
}

func TestWebSocketUpstreamDown(t *testing.T) {
	rec := newRecorder(Interest{Record: true})
	front := newFront(t, closedURL(t), Config{Observer: rec})
	req := newRequest(t, "GET", front.URL+"/socket", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	resp, body := do(t, newClient(t), req)
	if resp.StatusCode != http.StatusBadGateway || string(body) != "bad gateway\n" {
		t.Errorf("got %d %q, want 502 %q", resp.StatusCode, body, "bad gateway\n")
	}
	if x := rec.next(t); x.Status != http.StatusBadGateway || x.UpstreamError != UpstreamUnreachable {
		t.Errorf("recorded %d %q, want 502 %q", x.Status, x.UpstreamError, UpstreamUnreachable)
	}
}

// closedURL is the URL of a port nobody listens on.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestUpstreamFailures(t *testing.T) {
	release := make(chan struct{})
	slow := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release) })

	for _, tc := range []struct {
		name       string
		upstream   string
		wantStatus int
		wantBody   string
		wantReason string
	}{
		{"unreachable", closedURL(t), http.StatusBadGateway, "bad gateway\n", UpstreamUnreachable},
		{"timeout", slow.URL, http.StatusGatewayTimeout, "gateway timeout\n", UpstreamTimedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(Interest{Record: true})
			front := newFront(t, tc.upstream, Config{Observer: rec, UpstreamTimeout: 100 * time.Millisecond})
			resp, body := do(t, newClient(t), newRequest(t, "GET", front.URL+"/", nil))
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("the error response has no X-Request-Id")
			}
			x := rec.next(t)
			if x.Status != tc.wantStatus || x.UpstreamError != tc.wantReason || x.RequestID != resp.Header.Get("X-Request-Id") {
				t.Errorf("recorded %d %q id %q, want %d %q id %q", x.Status, x.UpstreamError, x.RequestID,
					tc.wantStatus, tc.wantReason, resp.Header.Get("X-Request-Id"))
			}
		})
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(echo))
	rec := newRecorder(Interest{Record: true})
	front := newFront(t, up.URL, Config{Observer: rec})
	c := newClient(t)

	t.Run("kept", func(t *testing.T) {
		req := newRequest(t, "GET", front.URL+"/", nil)
		req.Header.Set("X-Request-ID", "client-id-1")
		resp, s := doSeen(t, c, req)
		x := rec.next(t)
		if got := []string{s.Header.Get("X-Request-Id"), resp.Header.Get("X-Request-Id"), x.RequestID}; !reflect.DeepEqual(got, []string{"client-id-1", "client-id-1", "client-id-1"}) {
			t.Errorf("upstream, client, exchange got %q, want the client's id everywhere", got)
		}
	})
	t.Run("generated", func(t *testing.T) {
		var ids []string
		for range 2 {
			resp, s := doSeen(t, c, newRequest(t, "GET", front.URL+"/", nil))
			x := rec.next(t)
			id := s.Header.Get("X-Request-Id")
			if !uuidV7.MatchString(id) || resp.Header.Get("X-Request-Id") != id || x.RequestID != id {
				t.Errorf("upstream got %q, client %q, exchange %q; want one UUIDv7 in all three", id, resp.Header.Get("X-Request-Id"), x.RequestID)
			}
			ids = append(ids, id)
		}
		if ids[0] == ids[1] {
			t.Errorf("two requests got the same id %q", ids[0])
		}
	})
	t.Run("upstream's replaced", func(t *testing.T) {
		up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "upstream-made-this")
		}))
		front := newFront(t, up.URL, Config{})
		req := newRequest(t, "GET", front.URL+"/", nil)
		req.Header.Set("X-Request-ID", "client-id-2")
		resp, _ := do(t, c, req)
		if got := resp.Header.Values("X-Request-Id"); !reflect.DeepEqual(got, []string{"client-id-2"}) {
			t.Errorf("client got X-Request-Id %q, want only %q", got, "client-id-2")
		}
	})
}

func TestRecording(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Up", "1")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"created":%s}`, body)
	}))
	const reqBody = `{"name":"widget","size":12}`
	const respBody = `{"created":{"name":"widget","size":12}}`

	post := func(t *testing.T, front string) *http.Response {
		req := newRequest(t, "POST", front+"/orders/7?a=1&b=%2F", strings.NewReader(reqBody))
		req.Host = "app.example"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Connection", "X-Hop")
		req.Header.Set("X-Hop", "1")
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		resp, body := do(t, newClient(t), req)
		if string(body) != respBody {
			t.Fatalf("client got %q, want %q", body, respBody)
		}
		return resp
	}

	t.Run("everything", func(t *testing.T) {
		rec := newRecorder(recordAll)
		front := newFront(t, up.URL, Config{Observer: rec})
		before := time.Now()
		resp := post(t, front.URL)
		x := rec.next(t)

		if x.Method != "POST" || x.Host != "app.example" || x.Path != "/orders/7" || x.RawQuery != "a=1&b=%2F" {
			t.Errorf("recorded %s %s %s ? %s, want POST app.example /orders/7 ? a=1&b=%%2F", x.Method, x.Host, x.Path, x.RawQuery)
		}
		if !strings.HasPrefix(x.Peer, "127.0.0.1:") {
			t.Errorf("Peer = %q, want 127.0.0.1:port", x.Peer)
		}
		// The header as the client sent it: hop-by-hop still there, no
		// address appended.
		if x.RequestHeader.Get("X-Hop") != "1" || x.RequestHeader.Get("X-Forwarded-For") != "203.0.113.9" ||
			x.RequestHeader.Get("Content-Type") != "application/json" {
			t.Errorf("RequestHeader = %v, want the client's as sent", x.RequestHeader)
		}
		if want := body(reqBody); !reflect.DeepEqual(x.RequestBody, want) {
			t.Errorf("RequestBody = %+v, want %+v", x.RequestBody, want)
		}
		if want := body(respBody); !reflect.DeepEqual(x.ResponseBody, want) {
			t.Errorf("ResponseBody = %+v, want %+v", x.ResponseBody, want)
		}
		if x.Status != http.StatusCreated || x.ResponseHeader.Get("X-Up") != "1" || x.UpstreamError != "" || x.ResponseIncomplete {
			t.Errorf("recorded %d X-Up %q error %q incomplete %v, want 201 1, no error, complete",
				x.Status, x.ResponseHeader.Get("X-Up"), x.UpstreamError, x.ResponseIncomplete)
		}
		if x.RequestID == "" || x.RequestID != resp.Header.Get("X-Request-Id") {
			t.Errorf("RequestID = %q, want the client's %q", x.RequestID, resp.Header.Get("X-Request-Id"))
		}
		if x.Token != "token" {
			t.Errorf("Token = %v, want the Interest's", x.Token)
		}
		if x.Start.Before(before) || x.Start.After(time.Now()) || x.Duration <= 0 {
			t.Errorf("Start %v Duration %v, want the request's time and a positive duration", x.Start, x.Duration)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		rec := newRecorder(recordAll)
		front := newFront(t, up.URL, Config{Observer: rec, BodyCaptureLimit: 8})
		post(t, front.URL)
		x := rec.next(t)
		wantReq := event.Body{Captured: true, Data: []byte(reqBody[:8]), Truncated: true, Size: int64(len(reqBody))}
		wantResp := event.Body{Captured: true, Data: []byte(respBody[:8]), Truncated: true, Size: int64(len(respBody))}
		if !reflect.DeepEqual(x.RequestBody, wantReq) || !reflect.DeepEqual(x.ResponseBody, wantResp) {
			t.Errorf("bodies = %+v, %+v; want %+v, %+v", x.RequestBody, x.ResponseBody, wantReq, wantResp)
		}
	})
	t.Run("heads only", func(t *testing.T) {
		rec := newRecorder(Interest{Record: true})
		front := newFront(t, up.URL, Config{Observer: rec})
		post(t, front.URL)
		x := rec.next(t)
		wantReq, wantResp := event.Body{Size: int64(len(reqBody))}, event.Body{Size: int64(len(respBody))}
		if !reflect.DeepEqual(x.RequestBody, wantReq) || !reflect.DeepEqual(x.ResponseBody, wantResp) {
			t.Errorf("bodies = %+v, %+v; want sizes only: %+v, %+v", x.RequestBody, x.ResponseBody, wantReq, wantResp)
		}
	})
	t.Run("response header only when asked", func(t *testing.T) {
		for _, c := range []struct {
			in   Interest
			want bool
		}{
			{Interest{Record: true}, false},
			{Interest{Record: true, ResponseHeader: true}, true},
			{Interest{Record: true, ResponseBody: true}, true}, // the body's type is in it
		} {
			rec := newRecorder(c.in)
			front := newFront(t, up.URL, Config{Observer: rec})
			post(t, front.URL)
			x := rec.next(t)
			if got := x.ResponseHeader.Get("X-Up") == "1"; got != c.want || (!c.want && x.ResponseHeader != nil) {
				t.Errorf("%+v: ResponseHeader = %v, want it kept: %v", c.in, x.ResponseHeader, c.want)
			}
			if x.Status != http.StatusCreated {
				t.Errorf("%+v: Status = %d, want 201 either way", c.in, x.Status)
			}
		}
	})
	t.Run("not interested", func(t *testing.T) {
		rec := newRecorder(Interest{})
		front := newFront(t, up.URL, Config{Observer: rec})
		post(t, front.URL)
		front.Close() // waits for the handler
		if n := rec.calls.Load(); n != 0 {
			t.Errorf("Observe called %d times, want none", n)
		}
	})
	t.Run("once each", func(t *testing.T) {
		rec := newRecorder(Interest{Record: true})
		front := newFront(t, up.URL, Config{Observer: rec})
		const n = 10
		for range n {
			post(t, front.URL)
		}
		front.Close()
		if got := rec.calls.Load(); got != n {
			t.Errorf("Observe called %d times for %d requests", got, n)
		}
	})
}

func body(s string) event.Body {
	return event.Body{Captured: true, Data: []byte(s), Size: int64(len(s))}
}

func TestObserveWhenClientLeaves(t *testing.T) {
	t.Run("mid-response", func(t *testing.T) {
		up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for {
				if _, err := io.WriteString(w, "tick\n"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
		}))
		rec := newRecorder(recordAll)
		front := newFront(t, up.URL, Config{Observer: rec})
		resp, err := newClient(t).Get(front.URL + "/ticks")
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "tick\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		resp.Body.Close() // goes away mid-stream
		x := rec.next(t)
		if x.Status != http.StatusOK || x.ResponseBody.Size == 0 || x.UpstreamError != "" || x.ResponseIncomplete {
			t.Errorf("recorded %d, %d bytes, error %q, incomplete %v; want 200, some bytes, no upstream error, complete: the client left",
				x.Status, x.ResponseBody.Size, x.UpstreamError, x.ResponseIncomplete)
		}
		front.Close()
		if n := rec.calls.Load(); n != 1 {
			t.Errorf("Observe called %d times, want once", n)
		}
	})
	t.Run("mid-response, declared length", func(t *testing.T) {
		up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(1<<30))
			chunk := bytes.Repeat([]byte("x"), 8<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(time.Millisecond):
				}
			}
		}))
		rec := newRecorder(Interest{Record: true})
		front := newFront(t, up.URL, Config{Observer: rec})
		resp, err := newClient(t).Get(front.URL + "/download")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // goes away mid-body
		x := rec.next(t)
		if x.Status != http.StatusOK || x.ResponseBody.Size == 0 || x.ResponseIncomplete {
			t.Errorf("recorded %d, %d bytes, incomplete %v; want 200, some bytes, complete: the client left, not the upstream",
				x.Status, x.ResponseBody.Size, x.ResponseIncomplete)
		}
	})
	t.Run("before the head", func(t *testing.T) {
		arrived := make(chan struct{})
		var once sync.Once
		up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(arrived) })
			<-r.Context().Done()
		}))
		rec := newRecorder(Interest{Record: true})
		front := newFront(t, up.URL, Config{Observer: rec})
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-arrived:
			case <-time.After(wait):
			}
			cancel()
		}()
		req := newRequest(t, "GET", front.URL+"/", nil).WithContext(ctx)
		if resp, err := newClient(t).Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("got %d, want the request canceled", resp.StatusCode)
		}
		x := rec.next(t)
		if x.UpstreamError != UpstreamCanceled {
			t.Errorf("UpstreamError = %q, want %q", x.UpstreamError, UpstreamCanceled)
		}
		front.Close()
		if n := rec.calls.Load(); n != 1 {
			t.Errorf("Observe called %d times, want once", n)
		}
	})
}
