// Package exchangefile reads recorded exchanges from files, so rules can be
// tried on traffic without a proxy in front of a live app: HAR files as the
// browsers' developer tools export them, and a plain text format for
// writing exchanges by hand.
//
// The text format is each request as sent on the wire, a blank line, then
// its response as received. A line "###" (with an optional comment after a
// space) separates exchanges; LF and CRLF line endings are both accepted:
//
//	### alice creates bob
//	POST /users HTTP/1.1
//	Host: app.example
//	Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiI0MiJ9.
//	Content-Type: application/json
//
//	{"email":"bob@example.com"}
//
//	HTTP/1.1 201 Created
//	Content-Type: application/json
//
//	{"id":7}
//	###
//	DELETE /users/7 HTTP/1.1
//	Host: app.example
//
//	upstream-error: timeout
//
// A body with a Content-Length header is exactly that many bytes; one with
// Transfer-Encoding: chunked is decoded. Any other body runs to the next line
// that starts a message ("HTTP/1.1 200 OK", "upstream-error: ...", "###" or
// a request line such as "GET /x HTTP/1.1"), without the line endings before
// it; give a Content-Length when a body must contain such a line or end in a
// line break. A response of the single line "upstream-error: timeout" (or
// unreachable, or canceled) stands for an upstream that never answered: the
// client got 504 (502).
//
// From a HAR file (HAR 1.2, as Chrome and Firefox export it) each entry
// gives request.method, url, headers and postData (its text, or its params
// encoded as a form), response.status, headers and content (base64 decoded
// when so marked), startedDateTime and time. An entry with status 0 (the
// browser got no response) stands for an unreachable upstream. HTTP/2
// pseudo-headers are dropped, and so is the response's Content-Encoding,
// since a HAR holds bodies already decoded.
//
// Every exchange comes back as the proxy would have recorded it: bodies
// captured in full, header keys canonical, Host and Transfer-Encoding taken
// out of the header as Go's HTTP server and client do, RequestID from
// X-Request-ID, and the client at 127.0.0.1, since neither format records
// its address. A text file records no times: Start and Duration are zero.
package exchangefile

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/auditproxy/auditproxy/event"
)

// The client's address is not in either format; this stands in for it.
const (
	peer     = "127.0.0.1:0"
	clientIP = "127.0.0.1"
)

// Entry is one recorded exchange and where it was found.
type Entry struct {
	Exchange *event.Exchange
	// Pos names the exchange for people: "exchange.txt:14" (the line of
	// its request) or "session.har: log.entries[2]".
	Pos string
}

// Read parses a file of recorded exchanges, detecting the format: HAR (JSON
// with log.entries) or text. name is used in error messages only.
func Read(name string, data []byte) ([]*event.Exchange, error) {
	return exchanges(ReadEntries(name, data))
}

// ReadText parses a file in the text format (see the package documentation).
func ReadText(name string, data []byte) ([]*event.Exchange, error) {
	return exchanges(readText(name, data))
}

// ReadHAR parses a HAR 1.2 file.
func ReadHAR(name string, data []byte) ([]*event.Exchange, error) {
	return exchanges(readHAR(name, data))
}

// ReadEntries is Read with the position of each exchange in its file.
func ReadEntries(name string, data []byte) ([]Entry, error) {
	// A text file starts with a request line or "###"; a HAR file, being a
	// JSON object, with "{".
	if t := bytes.TrimLeft(trimBOM(data), " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return readHAR(name, data)
	}
	return readText(name, data)
}

func exchanges(entries []Entry, err error) ([]*event.Exchange, error) {
	if err != nil {
		return nil, err
	}
	xs := make([]*event.Exchange, len(entries))
	for i, e := range entries {
		xs[i] = e.Exchange
	}
	return xs, nil
}

// trimBOM drops the byte order mark some Windows editors put first.
func trimBOM(data []byte) []byte {
	return bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
}

func errNoExchanges(name string) error {
	return fmt.Errorf("%s: no exchanges in file", name)
}

// captured is a complete capture of data. It copies: the file's buffer stays
// the caller's.
func captured(data []byte) event.Body {
	return event.Body{Captured: true, Data: bytes.Clone(data), Size: int64(len(data))}
}

// takeOutOfHeader moves what Go's HTTP server and client keep outside the
// header (Host, Transfer-Encoding) out of h, so rules see the header the
// proxy would have seen.
func takeOutOfHeader(h http.Header) {
	delete(h, "Host")
	delete(h, "Transfer-Encoding")
}

// upstreamStatus is the status the client gets when the upstream fails for
// reason, and whether reason is one of event's Upstream* reasons.
func upstreamStatus(reason string) (int, bool) {
	switch reason {
	case event.UpstreamTimedOut:
		return http.StatusGatewayTimeout, true
	case event.UpstreamUnreachable, event.UpstreamCanceled:
		return http.StatusBadGateway, true
	}
	return 0, false
}
