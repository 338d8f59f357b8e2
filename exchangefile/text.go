package exchangefile

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

const upstreamErrorPrefix = "upstream-error:"

// textReader walks a text file line by line, keeping byte offsets so that
// Content-Length and chunked bodies can be cut out exactly.
type textReader struct {
	name string
	data []byte
	off  int // where the next line starts
	line int // the number of the next line, from 1
}

func readText(name string, data []byte) ([]Entry, error) {
	r := &textReader{name: name, data: trimBOM(data), line: 1}
	var entries []Entry
	for {
		r.skip(func(l string) bool { return l == "" || isSeparator(l) })
		if _, ok := r.peek(); !ok {
			break
		}
		pos := fmt.Sprintf("%s:%d", name, r.line)
		x, err := r.exchange()
		if err != nil {
			return nil, err
		}
		entries = append(entries, Entry{Exchange: x, Pos: pos})
	}
	if len(entries) == 0 {
		return nil, errNoExchanges(name)
	}
	return entries, nil
}

func (r *textReader) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", r.name, line, fmt.Sprintf(format, args...))
}

// peek returns the next line without its line ending; false at the end.
func (r *textReader) peek() (string, bool) {
	if r.off >= len(r.data) {
		return "", false
	}
	rest := r.data[r.off:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	return string(bytes.TrimSuffix(rest, []byte("\r"))), true
}

// next consumes the next line (or what is left of the current one, after
// a body cut mid-line) and returns it without its line ending.
func (r *textReader) next() string {
	l, _ := r.peek()
	if i := bytes.IndexByte(r.data[r.off:], '\n'); i >= 0 {
		r.off += i + 1
	} else {
		r.off = len(r.data)
	}
	r.line++
	return l
}

// take consumes n bytes, which may end mid-line.
func (r *textReader) take(n int) []byte {
	b := r.data[r.off : r.off+n]
	r.off += n
	r.line += bytes.Count(b, []byte("\n"))
	return b
}

// skip consumes the lines for which ok holds.
func (r *textReader) skip(ok func(string) bool) {
	for {
		l, more := r.peek()
		if !more || !ok(l) {
			return
		}
		r.next()
	}
}

func (r *textReader) exchange() (*event.Exchange, error) {
	x := &event.Exchange{Peer: peer, ClientIP: clientIP}
	reqLine := r.line
	if err := r.request(x); err != nil {
		return nil, err
	}
	r.skip(isBlank)
	l, ok := r.peek()
	if !ok || !startsResponse(l) {
		return nil, r.errorf(reqLine, "reading response: the request has no response (want a status line or %q after it)", upstreamErrorPrefix+" REASON")
	}
	if reason, ok := strings.CutPrefix(l, upstreamErrorPrefix); ok {
		reason = strings.TrimSpace(reason)
		status, known := upstreamStatus(reason)
		if !known {
			return nil, r.errorf(r.line, "reading response: unknown upstream error %q (want %s, %s or %s)",
				reason, event.UpstreamTimedOut, event.UpstreamUnreachable, event.UpstreamCanceled)
		}
		r.next()
		x.Status, x.UpstreamError = status, reason
		x.ResponseHeader = http.Header{}
		x.ResponseBody = captured(nil)
		return x, nil
	}
	return x, r.response(x)
}

func (r *textReader) request(x *event.Exchange) error {
	n := r.line
	method, u, err := parseRequestLine(r.next())
	if err != nil {
		return r.errorf(n, "reading request: %v", err)
	}
	h, err := r.header("request")
	if err != nil {
		return err
	}
	x.Method, x.Path, x.RawQuery = method, u.Path, u.RawQuery
	x.Host = u.Host // a request line with an absolute URL wins over the Host header, as in net/http
	if x.Host == "" {
		x.Host = h.Get("Host")
	}
	x.RequestID = h.Get("X-Request-Id")
	body, err := r.body("request", h)
	if err != nil {
		return err
	}
	takeOutOfHeader(h)
	x.RequestHeader, x.RequestBody = h, captured(body)
	return nil
}

func (r *textReader) response(x *event.Exchange) error {
	n := r.line
	status, err := parseStatusLine(r.next())
	if err != nil {
		return r.errorf(n, "reading response: %v", err)
	}
	h, err := r.header("response")
	if err != nil {
		return err
	}
	var body []byte
	// These responses have no body whatever their Content-Length says.
	if !(x.Method == http.MethodHead || status < 200 || status == http.StatusNoContent || status == http.StatusNotModified) {
		if body, err = r.body("response", h); err != nil {
			return err
		}
	}
	takeOutOfHeader(h)
	x.Status, x.ResponseHeader, x.ResponseBody = status, h, captured(body)
	return nil
}

// header reads header lines up to a blank line. A line that starts the next
// message also ends it, so a request without a body needs no blank line.
func (r *textReader) header(what string) (http.Header, error) {
	h := http.Header{}
	for {
		l, ok := r.peek()
		if !ok || startsMessage(l) {
			return h, nil
		}
		n := r.line
		r.next()
		if l == "" {
			return h, nil
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || !isToken(name) {
			return nil, r.errorf(n, "reading %s: malformed header line %q", what, l)
		}
		value = strings.Trim(value, " \t")
		// Checked here, where the line is known, rather than when the body
		// is cut.
		if http.CanonicalHeaderKey(name) == "Content-Length" {
			if _, err := strconv.ParseUint(value, 10, 63); err != nil {
				return nil, r.errorf(n, "reading %s: bad Content-Length %q", what, value)
			}
		}
		h.Add(name, value)
	}
}

// body reads the body that follows a head with header h.
func (r *textReader) body(what string, h http.Header) ([]byte, error) {
	n := r.line
	if isChunked(h) {
		b, err := r.chunked(what)
		if err != nil {
			return nil, err
		}
		return b, r.endOfBody(what, "the chunked body")
	}
	if cl := h.Get("Content-Length"); cl != "" {
		size, _ := strconv.ParseInt(cl, 10, 64) // checked by header
		if left := int64(len(r.data) - r.off); size > left {
			return nil, r.errorf(n, "reading %s: Content-Length says %d bytes, the file has %d left", what, size, left)
		}
		b := r.take(int(size))
		return b, r.endOfBody(what, fmt.Sprintf("the body's %d bytes (Content-Length)", size))
	}
	start := r.off
	r.skip(func(l string) bool { return !startsMessage(l) })
	// The blank line before the next message separates; it is not body.
	return bytes.TrimRight(r.data[start:r.off], "\r\n"), nil
}

// endOfBody checks that a body of known length is followed by nothing but
// line endings up to the next message: anything else means the length and
// the text disagree, which is worth saying rather than guessing.
func (r *textReader) endOfBody(what, body string) error {
	if r.off > 0 && r.data[r.off-1] != '\n' { // the body ended mid-line
		n := r.line
		if rest := r.next(); rest != "" {
			return r.errorf(n, "reading %s: %q follows %s", what, rest, body)
		}
	}
	r.skip(isBlank)
	if l, ok := r.peek(); ok && !startsMessage(l) {
		return r.errorf(r.line, "reading %s: %q follows %s", what, l, body)
	}
	return nil
}

// chunked decodes a chunked body: hex size lines, each followed by that
// many bytes and a line ending, up to a chunk of size 0 and the trailer.
func (r *textReader) chunked(what string) ([]byte, error) {
	body := []byte{}
	for {
		n := r.line
		l, ok := r.peek()
		if !ok {
			return nil, r.errorf(n, "reading %s: the chunked body has no last chunk (0)", what)
		}
		r.next()
		sizeText, _, _ := strings.Cut(l, ";") // chunk extensions mean nothing here
		size, err := strconv.ParseUint(strings.TrimSpace(sizeText), 16, 63)
		if err != nil {
			return nil, r.errorf(n, "reading %s: malformed chunk size %q", what, l)
		}
		if size == 0 {
			break
		}
		if size > uint64(len(r.data)-r.off) {
			return nil, r.errorf(n, "reading %s: a chunk of %d bytes runs past the end of the file", what, size)
		}
		body = append(body, r.take(int(size))...)
		n = r.line
		if rest := r.next(); rest != "" {
			return nil, r.errorf(n, "reading %s: %q follows a chunk of %d bytes, want a line ending", what, rest, size)
		}
	}
	// The trailer: header lines the Exchange has no place for.
	r.skip(func(l string) bool { return l != "" && !startsMessage(l) })
	return body, nil
}

func isChunked(h http.Header) bool {
	for _, v := range h.Values("Transfer-Encoding") {
		for coding := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(coding), "chunked") {
				return true
			}
		}
	}
	return false
}

// parseRequestLine parses "POST /users?x=1 HTTP/1.1". The messages are
// net/http's where it has one.
func parseRequestLine(l string) (method string, u *url.URL, err error) {
	method, rest, ok1 := strings.Cut(l, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return "", nil, fmt.Errorf("malformed HTTP request %q", l)
	}
	if !isToken(method) {
		return "", nil, fmt.Errorf("invalid method %q", method)
	}
	if !validProto(proto) {
		return "", nil, fmt.Errorf("malformed HTTP version %q", proto)
	}
	u, err = url.ParseRequestURI(target)
	if err != nil {
		return "", nil, err
	}
	if u.Path == "" && u.Host != "" {
		u.Path = "/" // "GET http://app.example HTTP/1.1" asks for /
	}
	return method, u, nil
}

// parseStatusLine parses "HTTP/1.1 201 Created" (the reason is optional).
func parseStatusLine(l string) (int, error) {
	proto, rest, ok := strings.Cut(l, " ")
	if !ok {
		return 0, fmt.Errorf("malformed HTTP response %q", l)
	}
	if !validProto(proto) {
		return 0, fmt.Errorf("malformed HTTP version %q", proto)
	}
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if len(code) != 3 || err != nil || status < 100 {
		return 0, fmt.Errorf("malformed HTTP status code %q", code)
	}
	return status, nil
}

// validProto accepts what net/http does (HTTP/1.1, HTTP/1.0, HTTP/x.y),
// and HTTP/2 and HTTP/3 as developer tools write them.
func validProto(p string) bool {
	_, _, ok := http.ParseHTTPVersion(p)
	return ok || p == "HTTP/2" || p == "HTTP/3"
}

func isBlank(l string) bool { return l == "" }

// isSeparator reports whether l is "###", alone or followed by a comment.
func isSeparator(l string) bool { return l == "###" || strings.HasPrefix(l, "### ") }

func startsResponse(l string) bool {
	return strings.HasPrefix(l, "HTTP/") || strings.HasPrefix(l, upstreamErrorPrefix)
}

// startsMessage reports whether l ends a body that has no length: it starts
// a response or the next exchange.
func startsMessage(l string) bool {
	if startsResponse(l) || isSeparator(l) {
		return true
	}
	_, _, err := parseRequestLine(l)
	return err == nil
}

// isToken reports whether s is an HTTP token (a method or a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
