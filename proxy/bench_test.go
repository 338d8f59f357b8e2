package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elazarl/goproxy"

	"github.com/auditproxy/auditproxy/event"
)

// The benchmarks run client, proxy and upstream in one process over
// loopback, so ns/op and allocs/op include the client's and the upstream's
// share. Compare them with BenchmarkBaseline*, measured the same way:
//
//	go test -run '^$' -bench . -benchmem ./proxy/

// benchJSON is a 2 KB JSON request body, as an API might receive.
var benchJSON = func() []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < 2000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item %d","qty":%d}`, i, i, i%7)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}()

const benchReply = `{"ok":true,"id":"a1b2c3"}`

func benchUpstream(b *testing.B) *httptest.Server {
	return newUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchReply)
	}))
}

// discard is an Observer that records and drops exchanges.
type discard struct{ in Interest }

func (d discard) Interest(*http.Request) Interest { return d.in }
func (discard) Observe(*event.Exchange)           {}

func runGET(b *testing.B, url string) {
	c := newClient(b)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func runPOST(b *testing.B, url string) {
	c := newClient(b)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Post(url, "application/json", bytes.NewReader(benchJSON))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// BenchmarkProxyGET is the hot path: nothing recorded.
func BenchmarkProxyGET(b *testing.B) {
	up := benchUpstream(b)
	front := newFront(b, up.URL, Config{Observer: discard{}})
	runGET(b, front.URL+"/api/items?page=2")
}

// BenchmarkProxyPOSTCaptured records a 2 KB JSON POST with both bodies.
func BenchmarkProxyPOSTCaptured(b *testing.B) {
	up := benchUpstream(b)
	front := newFront(b, up.URL, Config{Observer: discard{recordAll}})
	runPOST(b, front.URL+"/api/items")
}

// BenchmarkProxyPOSTRequestBody records the request body only: the shape
// of a rule that reads the request (bench/run.sh's), whose response header
// is not kept.
func BenchmarkProxyPOSTRequestBody(b *testing.B) {
	up := benchUpstream(b)
	front := newFront(b, up.URL, Config{Observer: discard{Interest{Record: true, RequestBody: true}}})
	runPOST(b, front.URL+"/api/items")
}

// BenchmarkProxyPOSTUnrecorded is the same POST, not recorded.
func BenchmarkProxyPOSTUnrecorded(b *testing.B) {
	up := benchUpstream(b)
	front := newFront(b, up.URL, Config{Observer: discard{}})
	runPOST(b, front.URL+"/api/items")
}

// BenchmarkBaselineDirectGET is the client talking to the upstream itself.
func BenchmarkBaselineDirectGET(b *testing.B) {
	up := benchUpstream(b)
	runGET(b, up.URL+"/api/items?page=2")
}

// BenchmarkBaselineGoproxyGET is bare goproxy with the same tuned
// Transport and nothing else: the cost the proxy is to be compared with.
func BenchmarkBaselineGoproxyGET(b *testing.B) {
	up := benchUpstream(b)
	gp := goproxy.NewProxyHttpServer()
	gp.Tr = newTransport(defaultUpstreamTimeout)
	gp.KeepAcceptEncoding = true
	host := strings.TrimPrefix(up.URL, "http://")
	front := newUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host, r.Host = "http", host, host
		gp.ServeHTTP(w, r)
	}))
	runGET(b, front.URL+"/api/items?page=2")
}

// BenchmarkBaselineGoproxyPOST is bare goproxy with the same POST.
func BenchmarkBaselineGoproxyPOST(b *testing.B) {
	up := benchUpstream(b)
	gp := goproxy.NewProxyHttpServer()
	gp.Tr = newTransport(defaultUpstreamTimeout)
	gp.KeepAcceptEncoding = true
	host := strings.TrimPrefix(up.URL, "http://")
	front := newUpstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Scheme, r.URL.Host, r.Host = "http", host, host
		gp.ServeHTTP(w, r)
	}))
	runPOST(b, front.URL+"/api/items")
}
