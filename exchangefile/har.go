package exchangefile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// harFile is the part of HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/)
// that an Exchange needs; everything else (timings, cookies, cache, pages)
// is ignored.
type harFile struct {
	Log *struct {
		Entries []harEntry `json:"entries"`
	} `json:"log"`
}

type harEntry struct {
	StartedDateTime string  `json:"startedDateTime"`
	Time            float64 `json:"time"` // milliseconds
	Request         struct {
		Method   string  `json:"method"`
		URL      string  `json:"url"`
		Headers  []harNV `json:"headers"`
		PostData *struct {
			MimeType string  `json:"mimeType"`
			Text     string  `json:"text"`
			Params   []harNV `json:"params"`
		} `json:"postData"`
	} `json:"request"`
	Response struct {
		Status  int     `json:"status"`
		Headers []harNV `json:"headers"`
		Content struct {
			Text     string `json:"text"`
			Encoding string `json:"encoding"`
		} `json:"content"`
	} `json:"response"`
}

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func readHAR(name string, data []byte) ([]Entry, error) {
	data = trimBOM(data)
	var f harFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, jsonError(name, data, err)
	}
	if f.Log == nil {
		return nil, fmt.Errorf("%s: reading HAR: no \"log\" object: not a HAR file", name)
	}
	if len(f.Log.Entries) == 0 {
		return nil, errNoExchanges(name)
	}
	entries := make([]Entry, len(f.Log.Entries))
	for i := range f.Log.Entries {
		pos := fmt.Sprintf("%s: log.entries[%d]", name, i)
		x, err := harExchange(&f.Log.Entries[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pos, err)
		}
		entries[i] = Entry{Exchange: x, Pos: pos}
	}
	return entries, nil
}

func harExchange(e *harEntry) (*event.Exchange, error) {
	x := &event.Exchange{Peer: peer, ClientIP: clientIP}
	if e.StartedDateTime != "" {
		t, err := time.Parse(time.RFC3339Nano, e.StartedDateTime)
		if err != nil {
			return nil, fmt.Errorf("startedDateTime: %v", err)
		}
		x.Start = t
	}
	if e.Time > 0 {
		x.Duration = time.Duration(e.Time * float64(time.Millisecond))
	}

	req := &e.Request
	if !isToken(req.Method) {
		return nil, fmt.Errorf("request.method: invalid method %q", req.Method)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, fmt.Errorf("request.url: %v", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("request.url: %q is not an absolute URL", req.URL)
	}
	x.Method, x.Host, x.Path, x.RawQuery = req.Method, u.Host, u.Path, u.RawQuery
	if x.Path == "" {
		x.Path = "/"
	}
	x.RequestHeader = harHeader(req.Headers)
	x.RequestID = x.RequestHeader.Get("X-Request-Id")
	var body []byte
	if pd := req.PostData; pd != nil {
		body = []byte(pd.Text)
		if pd.Text == "" && len(pd.Params) > 0 {
			// Some exports list a form's fields instead of its text.
			body = []byte(formText(pd.Params))
		}
		if x.RequestHeader.Get("Content-Type") == "" && pd.MimeType != "" {
			x.RequestHeader.Set("Content-Type", pd.MimeType)
		}
	}
	x.RequestBody = captured(body)

	resp := &e.Response
	if resp.Status == 0 {
		// The browser got no response (refused, blocked, failed).
		x.UpstreamError = event.UpstreamUnreachable
		x.Status, _ = upstreamStatus(x.UpstreamError)
		x.ResponseHeader, x.ResponseBody = http.Header{}, captured(nil)
		return x, nil
	}
	if resp.Status < 100 || resp.Status > 999 {
		return nil, fmt.Errorf("response.status: %d is not an HTTP status", resp.Status)
	}
	x.Status = resp.Status
	x.ResponseHeader = harHeader(resp.Headers)
	// content.text is the body after the browser decoded it (gzip, br): a
	// Content-Encoding left in the header would have rules decode it again.
	x.ResponseHeader.Del("Content-Encoding")
	body = []byte(resp.Content.Text)
	if resp.Content.Encoding == "base64" {
		if body, err = base64.StdEncoding.DecodeString(resp.Content.Text); err != nil {
			return nil, fmt.Errorf("response.content.text: base64: %v", err)
		}
	}
	x.ResponseBody = captured(body)
	return x, nil
}

// harHeader turns a HAR header list into the header Go's HTTP server (for a
// request) or client (for a response) would have handed the proxy.
func harHeader(nvs []harNV) http.Header {
	h := http.Header{}
	for _, nv := range nvs {
		// HTTP/2 pseudo-headers (:method, :path, :authority) are in the
		// URL and method already; a Go server never puts them in a header.
		if strings.HasPrefix(nv.Name, ":") || !isToken(nv.Name) {
			continue
		}
		h.Add(nv.Name, nv.Value)
	}
	takeOutOfHeader(h)
	return h
}

// formText encodes a form's fields in their order, as a browser sends them.
func formText(params []harNV) string {
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

// jsonError locates a decoding error in the file: name:line:col.
func jsonError(name string, data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%s: reading HAR: %s", at(name, data, syntax.Offset), strings.TrimPrefix(err.Error(), "json: "))
	case errors.As(err, &typ):
		return fmt.Errorf("%s: reading HAR: %s: want %s, got %s", at(name, data, typ.Offset), typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	}
	return fmt.Errorf("%s: reading HAR: %v", name, err)
}

// at is name:line:col of the last byte encoding/json read before it failed
// (the offending one, or the end of a value of the wrong type).
func at(name string, data []byte, offset int64) string {
	offset = min(max(offset-1, 0), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("%s:%d:%d", name, line, col)
}

// jsonKind names a Go kind the way JSON does.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "struct", kind == "map", kind == "ptr":
		return "object"
	case kind == "slice":
		return "array"
	}
	return kind
}
