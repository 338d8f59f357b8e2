package exchangefile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

// describe puts everything a test checks about an exchange on one line.
func describe(x *event.Exchange) string {
	s := fmt.Sprintf("%s %s %s", x.Method, x.Host, x.Path)
	if x.RawQuery != "" {
		s += "?" + x.RawQuery
	}
	s += fmt.Sprintf(" %v %q -> %d", map[string][]string(x.RequestHeader), x.RequestBody.Data, x.Status)
	if x.UpstreamError != "" {
		return s + " " + x.UpstreamError
	}
	return s + fmt.Sprintf(" %v %q", map[string][]string(x.ResponseHeader), x.ResponseBody.Data)
}

// checkExchange checks what holds for every exchange read from a file.
func checkExchange(t *testing.T, x *event.Exchange) {
	t.Helper()
	if x.Peer != "127.0.0.1:0" || x.ClientIP != "127.0.0.1" {
		t.Errorf("peer %q, client IP %q", x.Peer, x.ClientIP)
	}
	if x.RequestHeader == nil || x.ResponseHeader == nil {
		t.Errorf("nil header: request %v, response %v", x.RequestHeader, x.ResponseHeader)
	}
	for side, b := range map[string]event.Body{"request": x.RequestBody, "response": x.ResponseBody} {
		if !b.Captured || b.Truncated || b.Size != int64(len(b.Data)) {
			t.Errorf("%s body: captured %v, truncated %v, size %d for %d bytes", side, b.Captured, b.Truncated, b.Size, len(b.Data))
		}
	}
	if x.UpstreamError == "" && (x.Status < 100 || x.Status > 999) || x.UpstreamError != "" && x.Status != 502 && x.Status != 504 {
		t.Errorf("status %d with upstream error %q", x.Status, x.UpstreamError)
	}
}

func TestReadText(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string
	}{{
		name: "json body without length",
		file: `POST /users HTTP/1.1
Host: app.example
Content-Type: application/json

{"email":"bob@example.com",
 "role":"admin"}

HTTP/1.1 201 Created
Content-Type: application/json

{"id":7}
`,
		want: []string{`POST app.example /users map[Content-Type:[application/json]] "{\"email\":\"bob@example.com\",\n \"role\":\"admin\"}" -> 201 map[Content-Type:[application/json]] "{\"id\":7}"`},
	}, {
		name: "CRLF and Content-Length",
		file: "POST /login?next=%2Fhome HTTP/1.1\r\nHost: app.example\r\nContent-Length: 11\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nuser=a&pw=b\r\n\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /home\r\nContent-Length: 0\r\n\r\n",
		want: []string{`POST app.example /login?next=%2Fhome map[Content-Length:[11] Content-Type:[application/x-www-form-urlencoded]] "user=a&pw=b" -> 302 map[Content-Length:[0] Location:[/home]] ""`},
	}, {
		name: "Content-Length keeps lines that would end a body",
		file: "PUT /notes/1 HTTP/1.1\nContent-Length: 34\n\nHTTP/1.1 is old\n###\nGET / HTTP/1.1\nHTTP/1.1 204 No Content\n",
		want: []string{`PUT  /notes/1 map[Content-Length:[34]] "HTTP/1.1 is old\n###\nGET / HTTP/1.1" -> 204 map[] ""`},
	}, {
		name: "no bodies, no blank line before the response, no final newline",
		file: "GET /users/7 HTTP/1.1\nHost: app.example\nHTTP/1.0 404 Not Found",
		want: []string{`GET app.example /users/7 map[] "" -> 404 map[] ""`},
	}, {
		name: "chunked",
		file: "POST /upload HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nc\r\n{\"ok\":true}\n\r\n0\r\n\r\n",
		want: []string{`POST app.example /upload map[] "hello, world" -> 200 map[] "{\"ok\":true}\n"`},
	}, {
		name: "chunked with LF only",
		file: "POST /upload HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\nHTTP/1.1 201 Created\n",
		want: []string{`POST  /upload map[] "abc" -> 201 map[] ""`},
	}, {
		name: "several exchanges, upstream errors",
		file: `### first
GET /a HTTP/1.1
Host: app.example
X-Request-ID: r1

HTTP/1.1 200 OK

a
### second
DELETE /b HTTP/1.1

upstream-error: timeout

###
POST /c HTTP/1.1

{"x":1}

upstream-error: unreachable
GET /d HTTP/1.1

HTTP/1.1 200 OK

d
`,
		want: []string{
			`GET app.example /a map[X-Request-Id:[r1]] "" -> 200 map[] "a"`,
			`DELETE  /b map[] "" -> 504 timeout`,
			`POST  /c map[] "{\"x\":1}" -> 502 unreachable`,
			`GET  /d map[] "" -> 200 map[] "d"`,
		},
	}, {
		name: "absolute URL, escaped path",
		file: "GET https://app.example:8443/files/a%20b?x=1 HTTP/1.1\nHost: ignored.example\n\nHTTP/2 200\n",
		want: []string{`GET app.example:8443 /files/a b?x=1 map[] "" -> 200 map[] ""`},
	}, {
		name: "HEAD and 304 have no body whatever Content-Length says",
		file: "HEAD /big HTTP/1.1\n\nHTTP/1.1 200 OK\nContent-Length: 9000\n\n###\nGET /big HTTP/1.1\n\nHTTP/1.1 304 Not Modified\nContent-Length: 9000\n",
		want: []string{`HEAD  /big map[] "" -> 200 map[Content-Length:[9000]] ""`, `GET  /big map[] "" -> 304 map[Content-Length:[9000]] ""`},
	}, {
		name: "byte order mark, repeated headers",
		file: "\xef\xbb\xbfGET / HTTP/1.1\naccept: a\nAccept: b\n\nHTTP/1.1 200 OK\nset-cookie: a=1\nSet-Cookie: b=2\n",
		want: []string{`GET  / map[Accept:[a b]] "" -> 200 map[Set-Cookie:[a=1 b=2]] ""`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			xs, err := ReadText("exchange.txt", []byte(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range xs {
				checkExchange(t, x)
				got = append(got, describe(x))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestReadTextRequestID(t *testing.T) {
	xs, err := ReadText("x.txt", []byte("GET / HTTP/1.1\nX-Request-Id: abc\n\nHTTP/1.1 200 OK\n"))
	if err != nil {
		t.Fatal(err)
	}
	if xs[0].RequestID != "abc" || !xs[0].Start.IsZero() {
		t.Errorf("request id %q, start %v", xs[0].RequestID, xs[0].Start)
	}
}

func TestReadEntriesPositions(t *testing.T) {
	entries, err := ReadEntries("x.txt", []byte("\n### one\nGET /a HTTP/1.1\n\nHTTP/1.1 200 OK\n\nbody\n\n###\n\nGET /b HTTP/1.1\n\nupstream-error: canceled\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Pos != "x.txt:3" || entries[1].Pos != "x.txt:11" {
		t.Errorf("entries = %+v", entries)
	}
}

func TestReadTextErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`### create
POST /users HTTP/1.1
Host: app.example
Content-Type: application/json

{"email":"bob@example.com"}

HTTP/1.1 201 Created

{"id":7}
###
GET /users/7 HTTP/1.1

HTTP/1.1 2x1 OK
`, `exchange.txt:14: reading response: malformed HTTP status code "2x1"`},
		{"", "exchange.txt: no exchanges in file"},
		{"###\n\n### nothing\n", "exchange.txt: no exchanges in file"},
		{"hello\n", `exchange.txt:1: reading request: malformed HTTP request "hello"`},
		{"\n\nGET /x HTTP/9\n", `exchange.txt:3: reading request: malformed HTTP version "HTTP/9"`},
		{"G(T /x HTTP/1.1\n", `exchange.txt:1: reading request: invalid method "G(T"`},
		{"GET x HTTP/1.1\n", `exchange.txt:1: reading request: parse "x": invalid URI for request`},
		{"GET /x HTTP/1.1\nHost app.example\n", `exchange.txt:2: reading request: malformed header line "Host app.example"`},
		{"GET /x HTTP/1.1\n\nHTTP/1.1 200 OK\nContent-Type: a\n{\"id\":1}\n", `exchange.txt:5: reading response: malformed header line "{\"id\":1}"`},
		{"GET /x HTTP/1.1\n\n", `exchange.txt:1: reading response: the request has no response (want a status line or "upstream-error: REASON" after it)`},
		{"GET /x HTTP/1.1\n\n###\nGET /y HTTP/1.1\n\nHTTP/1.1 200 OK\n", `exchange.txt:1: reading response: the request has no response (want a status line or "upstream-error: REASON" after it)`},
		{"GET /x HTTP/1.1\n\nHTTP/1.1\n", `exchange.txt:3: reading response: malformed HTTP response "HTTP/1.1"`},
		{"GET /x HTTP/1.1\n\nHTTP/1.1 099 Odd\n", `exchange.txt:3: reading response: malformed HTTP status code "099"`},
		{"GET /x HTTP/1.1\n\nupstream-error: refused\n", `exchange.txt:3: reading response: unknown upstream error "refused" (want timeout, unreachable or canceled)`},
		{"POST /x HTTP/1.1\nContent-Length: -1\n", `exchange.txt:2: reading request: bad Content-Length "-1"`},
		{"POST /x HTTP/1.1\nContent-Length: 100\n\nshort\n", `exchange.txt:4: reading request: Content-Length says 100 bytes, the file has 6 left`},
		{"POST /x HTTP/1.1\nContent-Length: 3\n\nlonger\n\nHTTP/1.1 200 OK\n", `exchange.txt:4: reading request: "ger" follows the body's 3 bytes (Content-Length)`},
		{"POST /x HTTP/1.1\nContent-Length: 3\n\nabc\nmore\n\nHTTP/1.1 200 OK\n", `exchange.txt:5: reading request: "more" follows the body's 3 bytes (Content-Length)`},
		{"POST /x HTTP/1.1\nTransfer-Encoding: chunked\n\nzz\n", `exchange.txt:4: reading request: malformed chunk size "zz"`},
		{"POST /x HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n", `exchange.txt:6: reading request: the chunked body has no last chunk (0)`},
		{"POST /x HTTP/1.1\nTransfer-Encoding: chunked\n\n2\nabc\n0\n\n", `exchange.txt:5: reading request: "c" follows a chunk of 2 bytes, want a line ending`},
		{"POST /x HTTP/1.1\nTransfer-Encoding: chunked\n\nff\nabc\n0\n\n", `exchange.txt:4: reading request: a chunk of 255 bytes runs past the end of the file`},
		{"GET /x HTTP/1.1\n\nHTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n0\n\nnot a request\n", `exchange.txt:8: reading response: "not a request" follows the chunked body`},
	} {
		_, err := ReadText("exchange.txt", []byte(tc.file))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ReadText(%q):\n got: %v\nwant: %s", tc.file, err, tc.want)
		}
	}
}
