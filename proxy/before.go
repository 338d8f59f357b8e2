package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

// beforeInvalidPath is Exchange.BeforeError for an Interest.Before that is
// not a path on the upstream; nothing was sent.
const beforeInvalidPath = "invalid path"

// beforeIncomplete is Exchange.BeforeError when the pre-fetch's body broke
// off; what arrived is dropped, as half a state would read as a change.
const beforeIncomplete = "incomplete"

// beforeHeaders are the client's headers a pre-fetch carries: its
// credentials, and its User-Agent, which some apps bind sessions to.
var beforeHeaders = [...]string{"Authorization", "Cookie", "User-Agent"}

// prefetch GETs path from the upstream as the client, before the client's
// request r is forwarded, and records the answer in x.Before,
// x.BeforeHeader and x.BeforeError. It never fails the request: every
// problem ends in x.BeforeError. It returns within p.before, or sooner if
// the client goes away.
func (p *Proxy) prefetch(r *http.Request, path string, x *event.Exchange) {
	x.Before.Captured = true
	u, ok := p.beforeURL(path)
	if !ok {
		x.BeforeError = beforeInvalidPath
		p.log.Warn().Str("before", path).Str("request_id", x.RequestID).
			Msg("pre-fetching the previous state: not a path on the upstream; nothing sent")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.before)
	defer cancel()
	req := (&http.Request{
		Method:     http.MethodGet,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     beforeHeader(r),
		Host:       p.upstream.Host,
	}).WithContext(ctx)
	if p.keepHost {
		req.Host = r.Host
	}

	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		x.BeforeError = p.beforeFailed(r, ctx, err, "")
		return
	}
	defer resp.Body.Close()
	x.BeforeHeader = resp.Header
	// One byte past the limit tells a body of exactly limit bytes from a
	// longer one without reading the rest.
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.limit+1))
	if err != nil {
		x.BeforeError = p.beforeFailed(r, ctx, err, beforeIncomplete)
		return
	}
	x.Before.Size = int64(len(data))
	if int64(len(data)) > p.limit {
		data, x.Before.Truncated = data[:p.limit], true
		// The rest is not read: the declared length, when there is one,
		// says how big the body was.
		x.Before.Size = max(x.Before.Size, resp.ContentLength)
	}
	x.Before.Data = data
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		x.BeforeError = "status " + strconv.Itoa(resp.StatusCode)
	}
}

// beforeURL is the upstream URL of an Interest.Before: path must be an
// absolute path, with a query if any, and is joined to the upstream as a
// request path would be.
func (p *Proxy) beforeURL(path string) (*url.URL, bool) {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return nil, false // relative, absolute URL or //host/...
	}
	u, err := url.Parse(path)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return nil, false
	}
	u.Fragment, u.RawFragment = "", ""
	p.pointAtUpstream(u)
	return u, true
}

// beforeHeader is the header of the pre-fetch for the client's request r:
// the client's credentials, X-Request-ID and X-Forwarded-* as the forwarded
// request carries them, and an Accept. Nothing else of the client's is
// passed on; there is no body.
func beforeHeader(r *http.Request) http.Header {
	h := make(http.Header, len(beforeHeaders)+5)
	for _, k := range beforeHeaders {
		// A header the client named in Connection is not forwarded with
		// its request, so it is not sent here either.
		if v, ok := r.Header[k]; ok && !hasToken(r.Header["Connection"], k) {
			h[k] = v
		}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // not Go's own
	}
	if v, ok := r.Header["Accept"]; ok && !hasToken(r.Header["Connection"], "Accept") {
		h["Accept"] = v
	} else {
		h["Accept"] = []string{"application/json"}
	}
	h[requestIDHeader] = r.Header[requestIDHeader]
	setForwarded(h, r.Header["X-Forwarded-For"], r)
	return h
}

// beforeFailed logs why a pre-fetch gave no usable answer and returns the
// reason for Exchange.BeforeError. ctx is the pre-fetch's; otherwise says
// what to call a failure that is neither the client leaving nor a timeout
// ("" for unreachable).
func (p *Proxy) beforeFailed(r *http.Request, ctx context.Context, err error, otherwise string) string {
	reason := otherwise
	switch {
	case r.Context().Err() != nil:
		reason = event.UpstreamCanceled
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		reason = event.UpstreamTimedOut
	case reason == "":
		reason = event.UpstreamUnreachable
	}
	ev := p.log.Warn()
	if reason == event.UpstreamCanceled {
		ev = p.log.Debug() // the client left; the request goes nowhere either
	}
	ev.Err(err).Str("reason", reason).Str("request_id", r.Header.Get(requestIDHeader)).
		Dur("timeout", p.before).Msg("pre-fetching the previous state; forwarding the request without it")
	return reason
}
