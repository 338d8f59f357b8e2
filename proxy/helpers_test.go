package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
)

// wait bounds every blocking step of a test: long enough never to fire on
// a loaded machine, short enough that a hang fails instead of stalling.
const wait = 10 * time.Second

// recorder is an Observer that wants the same thing of every request and
// keeps every exchange it is given.
type recorder struct {
	interest Interest
	calls    atomic.Int64
	ch       chan *event.Exchange
}

func newRecorder(in Interest) *recorder {
	return &recorder{interest: in, ch: make(chan *event.Exchange, 1000)}
}

func (o *recorder) Interest(*http.Request) Interest { return o.interest }

func (o *recorder) Observe(x *event.Exchange) {
	o.calls.Add(1)
	select {
	case o.ch <- x:
	default: // a test that lets this many pile up fails on calls anyway
	}
}

// next waits for the next exchange.
func (o *recorder) next(t *testing.T) *event.Exchange {
	t.Helper()
	select {
	case x := <-o.ch:
		return x
	case <-time.After(wait):
		t.Fatal("Observe was not called")
		return nil
	}
}

// recordAll wants everything.
var recordAll = Interest{Record: true, RequestBody: true, ResponseBody: true, Token: "token"}

// newUpstream starts an upstream server, closed when the test ends.
func newUpstream(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// newFront builds a proxy to upstream with cfg and serves it. It is closed
// (waiting for every handler to return) when the test ends, before the
// upstream, which was started first.
func newFront(t testing.TB, upstream string, cfg Config) *httptest.Server {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream = u
	if t, ok := t.(*testing.T); ok {
		cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := httptest.NewServer(p)
	t.Cleanup(s.Close)
	return s
}

// newClient is a client that shows what the proxy sent: no redirects
// followed, no transparent gzip, a bound on every request.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       wait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// seen is what the echo upstream reports about the request it got.
type seen struct {
	Method        string
	Host          string
	RequestURI    string
	Path          string
	RawQuery      string
	Header        http.Header
	Body          string
	ContentLength int64
	TE            []string
}

// echo answers with a JSON description of the request.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s := seen{
		Method: r.Method, Host: r.Host, RequestURI: r.RequestURI, Path: r.URL.Path,
		RawQuery: r.URL.RawQuery, Header: r.Header, Body: string(body),
		ContentLength: r.ContentLength, TE: r.TransferEncoding,
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s)
}

// do sends req and returns the response with its body read.
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

// doSeen sends req to a front of the echo upstream and decodes what the
// upstream saw.
func doSeen(t testing.TB, c *http.Client, req *http.Request) (*http.Response, seen) {
	t.Helper()
	resp, body := do(t, c, req)
	var s seen
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("%s %s: status %d, decoding echo %q: %v", req.Method, req.URL, resp.StatusCode, body, err)
	}
	return resp, s
}

func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// rawUpstream accepts connections and lets reply write whatever bytes it
// likes after the request head has been read; the connection is closed
// when reply returns.
func rawUpstream(t *testing.T, reply func(c net.Conn, r *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(wait))
				r, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				reply(c, r)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// pattern is the repeating content of generated bodies; its odd length
// makes a dropped or repeated block show.
var pattern = func() []byte {
	b := make([]byte, 64<<10+7)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// patternReader generates n bytes of pattern without holding them.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	done := 0
	for done < len(p) {
		done += copy(p[done:], pattern[(r.off+int64(done))%int64(len(pattern)):])
	}
	r.off += int64(done)
	return done, nil
}

// patternChecker checks that what is written to it is pattern, in order.
type patternChecker struct {
	n   int64
	bad bool
}

func (c *patternChecker) Write(p []byte) (int, error) {
	for done := 0; done < len(p); {
		at := (c.n + int64(done)) % int64(len(pattern))
		want := pattern[at:min(int64(len(pattern)), at+int64(len(p)-done))]
		if !bytes.Equal(p[done:done+len(want)], want) {
			c.bad = true
		}
		done += len(want)
	}
	c.n += int64(len(p))
	return len(p), nil
}
