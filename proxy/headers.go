package proxy

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

// removeHopByHop deletes the headers that belong to one connection
// (RFC 9110 section 7.6.1): those named in Connection, the classic
// hop-by-hop list, and every Proxy-* header. Keys are canonical, as
// net/http parses them.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for len(v) > 0 {
			var name string
			name, v, _ = strings.Cut(v, ",")
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for k := range h {
		switch k {
		case "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
			delete(h, k)
		default:
			if strings.HasPrefix(k, "Proxy-") {
				delete(h, k)
			}
		}
	}
}

// removeProxyHeaders deletes every Proxy-* header; httputil only knows
// three of them.
func removeProxyHeaders(h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, "Proxy-") {
			delete(h, k)
		}
	}
}

// hasToken reports whether a comma-separated header holds token, in any case.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for len(v) > 0 {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func isWebSocketUpgrade(h http.Header) bool {
	return hasToken(h["Connection"], "upgrade") && hasToken(h["Upgrade"], "websocket")
}

// setForwarded sets X-Forwarded-For (prior, the client's own value, with
// the client's socket address appended), -Host and -Proto on h, the
// header of the request going upstream. in is the request as received.
func setForwarded(h http.Header, prior []string, in *http.Request) {
	clientIP := in.RemoteAddr
	if host, _, err := net.SplitHostPort(clientIP); err == nil {
		clientIP = host
	}
	switch {
	case clientIP == "":
		// A listener with no peer address (a unix socket): pass on what
		// the client said, adding nothing.
	case len(prior) == 0:
		h["X-Forwarded-For"] = []string{clientIP}
	default:
		h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + clientIP}
	}
	if in.Host != "" {
		h["X-Forwarded-Host"] = []string{in.Host}
	}
	if in.TLS != nil {
		h["X-Forwarded-Proto"] = []string{"https"}
	} else {
		h["X-Forwarded-Proto"] = []string{"http"}
	}
}

// setRequestID makes sure h carries an X-Request-ID, keeping the client's,
// and returns it.
func setRequestID(h http.Header) string {
	if v := h[requestIDHeader]; len(v) > 0 && v[0] != "" {
		return v[0]
	}
	id := event.NewID()
	h[requestIDHeader] = []string{id}
	return id
}

// joinURLPath is httputil's: the upstream's path prefix a, then the
// request path b, with one slash between them, keeping b's escaping.
func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath := a.EscapedPath()
	bpath := b.EscapedPath()
	aslash := strings.HasSuffix(apath, "/")
	bslash := strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}

func singleJoiningSlash(a, b string) string {
	aslash := strings.HasSuffix(a, "/")
	bslash := strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}
