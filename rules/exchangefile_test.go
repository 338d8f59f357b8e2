package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// readExchange builds an Exchange from a recorded request and response, each
// as sent on the wire (head, blank line, body). A response of the single
// line "upstream-error: REASON" stands for an upstream that never answered.
func readExchange(request, response string) (*event.Exchange, error) {
	head, body := splitMessage(request)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head + "\r\n\r\n")))
	if err != nil {
		return nil, fmt.Errorf("reading recorded request: %w", err)
	}
	x := &event.Exchange{
		Start:         time.Date(2026, 11, 21, 23, 42, 15, 123456000, time.UTC),
		Peer:          "127.0.0.1:50000",
		ClientIP:      "127.0.0.1",
		Method:        req.Method,
		Host:          req.Host,
		Path:          req.URL.Path,
		RawQuery:      req.URL.RawQuery,
		RequestHeader: req.Header,
		RequestBody:   capture(body),
	}
	if reason, ok := strings.CutPrefix(strings.TrimSpace(response), "upstream-error: "); ok {
		x.UpstreamError, x.Status = reason, http.StatusBadGateway
		return x, nil
	}
	head, body = splitMessage(response)
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head+"\r\n\r\n")), req)
	if err != nil {
		return nil, fmt.Errorf("reading recorded response: %w", err)
	}
	x.Status, x.ResponseHeader, x.ResponseBody = resp.StatusCode, resp.Header, capture(body)
	return x, nil
}

func splitMessage(msg string) (head, body string) {
	msg = strings.TrimLeft(msg, "\n")
	head, body, _ = strings.Cut(msg, "\n\n")
	return head, strings.TrimSuffix(body, "\n")
}

func capture(body string) event.Body {
	return event.Body{Captured: true, Data: []byte(body), Size: int64(len(body))}
}

// sections splits a golden file into its "--- name" sections.
func sections(data []byte) map[string]string {
	out := map[string]string{}
	var name string
	var cur bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if n, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "--- "); ok {
			if name != "" {
				out[name] = cur.String()
			}
			name = n
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	if name != "" {
		out[name] = cur.String()
	}
	return out
}
