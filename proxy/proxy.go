// Package proxy is auditproxy's reverse proxy: HTTP in, one upstream out.
// It streams every request through goproxy, and for the requests its
// Observer is interested in it records an event.Exchange (heads, bounded
// body captures, timings, peer, client certificate, and when asked the
// state a change replaces, fetched first) and hands it over once the
// response has been written.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
)

const (
	defaultBodyCaptureLimit = 1 << 20
	defaultUpstreamTimeout  = 60 * time.Second
	defaultBeforeTimeout    = 2 * time.Second
)

// Reasons put in event.Exchange.UpstreamError; the meanings are documented
// in package event.
const (
	UpstreamUnreachable = event.UpstreamUnreachable // the client got 502
	UpstreamTimedOut    = event.UpstreamTimedOut    // the client got 504
	UpstreamCanceled    = event.UpstreamCanceled    // the client left first
)

const requestIDHeader = "X-Request-Id" // canonical form of X-Request-ID

// Config is what New needs. Only Upstream is required.
type Config struct {
	// Upstream is where every request goes. Its scheme (http or https) and
	// host are used, and its path, if any, is a prefix joined to the
	// request path the way httputil.NewSingleHostReverseProxy does
	// ("/base" + "/x" = "/base/x"); a query in it is prepended to the
	// request's query.
	Upstream *url.URL

	// Observer decides which exchanges to record and receives them.
	// If nil, nothing is recorded and no Exchange is built.
	Observer Observer

	// BodyCaptureLimit is how many bytes of each body (request and
	// response, separately) are kept when the Observer asks for bodies.
	// Bodies stream on past the limit; the capture is marked Truncated.
	// Zero or less means 1 MiB.
	BodyCaptureLimit int64

	// KeepClientHost sends the client's Host header upstream. If false,
	// the upstream's own host is sent; the client's is always passed in
	// X-Forwarded-Host.
	KeepClientHost bool

	// Transport sends requests upstream. It must not decompress responses
	// (gzip bodies are passed through byte for byte) and should honour
	// its own timeouts: UpstreamTimeout is not applied to it. Its timeout
	// errors still give the client a 504. It must honour the request's
	// context, as http.Transport does: BeforeTimeout relies on it.
	// If nil, a Transport tuned for one busy upstream is used: no proxy
	// from the environment, no compression, 256 idle connections, dial and
	// TLS handshake timeouts, and UpstreamTimeout as the response header
	// timeout. It speaks HTTP/1.1 to the upstream.
	Transport http.RoundTripper

	// UpstreamTimeout is how long the default Transport waits for the
	// upstream's response head once the request is sent; past it the
	// client gets 504. Bodies may then stream for as long as they take.
	// Zero or less means 60s.
	UpstreamTimeout time.Duration

	// BeforeTimeout bounds a pre-fetch (Interest.Before) from start to the
	// end of its body: the client's request waits at most this long before
	// it is forwarded, whatever the upstream does. Zero or less means 2s.
	BeforeTimeout time.Duration

	// Logger receives the proxy's own warnings (upstream failures with
	// their detail, goproxy's complaints). Clients never see that detail.
	// The zero Logger discards everything.
	Logger zerolog.Logger
}

// Proxy is an http.Handler that reverse-proxies to one upstream. Plain
// requests go through goproxy; WebSocket upgrades go through
// httputil.ReverseProxy, which passes a close from either side on to the
// other. CONNECT is refused.
type Proxy struct {
	upstream  url.URL
	joinPath  bool // the upstream has a path prefix to join
	keepHost  bool
	observer  Observer
	committer Committer // the observer, when it can commit (delivery: critical)
	limit     int64
	before    time.Duration // BeforeTimeout
	log       zerolog.Logger
	transport http.RoundTripper
	roundTrip goproxy.RoundTripper // transport, as goproxy calls it
	gp        *goproxy.ProxyHttpServer
	ws        *httputil.ReverseProxy
}

var _ http.Handler = (*Proxy)(nil)

// New checks cfg and builds the proxy. It opens no connections.
func New(cfg Config) (*Proxy, error) {
	u := cfg.Upstream
	if u == nil {
		return nil, errors.New("creating proxy: Upstream is required")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("creating proxy: upstream %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("creating proxy: upstream %q: no host", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("creating proxy: upstream %q: user info is not supported", u.Redacted())
	}

	p := &Proxy{
		upstream:  *u,
		joinPath:  u.Path != "" && u.Path != "/",
		keepHost:  cfg.KeepClientHost,
		observer:  cfg.Observer,
		limit:     cfg.BodyCaptureLimit,
		before:    cfg.BeforeTimeout,
		log:       cfg.Logger,
		transport: cfg.Transport,
	}
	p.committer, _ = cfg.Observer.(Committer)
	p.upstream.Fragment, p.upstream.RawFragment = "", ""
	if p.limit <= 0 {
		p.limit = defaultBodyCaptureLimit
	}
	if p.before <= 0 {
		p.before = defaultBeforeTimeout
	}
	timeout := cfg.UpstreamTimeout
	if timeout <= 0 {
		timeout = defaultUpstreamTimeout
	}
	if p.transport == nil {
		p.transport = newTransport(timeout)
	}
	p.roundTrip = goproxy.RoundTripperFunc(func(r *http.Request, _ *goproxy.ProxyCtx) (*http.Response, error) {
		return p.transport.RoundTrip(r)
	})

	gp := goproxy.NewProxyHttpServer()
	gp.Logger = logAdapter{p.log}               // only goproxy's warnings: Verbose stays off
	gp.KeepAcceptEncoding = true                // else it strips Accept-Encoding and decompresses
	gp.KeepDestinationHeaders = false           // the client gets the upstream's headers, nothing else
	gp.NonproxyHandler = http.NotFoundHandler() // unreachable: ServeHTTP always makes the URL absolute
	// goproxy only uses Tr itself for CONNECT and its own WebSocket relay,
	// both kept away from it; requests go through ctx.RoundTripper. Still,
	// never leave it the default, which honours HTTP_PROXY.
	if t, ok := p.transport.(*http.Transport); ok {
		gp.Tr = t
	} else {
		gp.Tr = newTransport(timeout)
	}
	gp.OnRequest().DoFunc(p.onRequest)
	gp.OnResponse().DoFunc(p.onResponse)
	p.gp = gp

	p.ws = &httputil.ReverseProxy{
		Rewrite:        p.rewriteUpgrade,
		Transport:      p.transport,
		ModifyResponse: p.modifyUpgradeResponse,
		ErrorHandler:   p.upgradeFailed,
		ErrorLog:       log.New(logAdapter{p.log}, "", 0),
	}
	return p, nil
}

// newTransport is the default Transport: one upstream, many concurrent
// requests, and nothing taken from the environment.
func newTransport(responseHeaderTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil, // never HTTP_PROXY: the upstream is the next hop
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// Idle connections are per host and there is one host: keep as many
		// as there are concurrent requests, or each burst redials.
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
		DisableCompression:    true, // pass the client's Accept-Encoding and the bytes as they are
	}
}

// ServeHTTP proxies one request. The Observer's Interest is asked before
// anything about the request is changed.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var (
		in    Interest
		start time.Time
	)
	if p.observer != nil {
		start = time.Now()
		in = p.observer.Interest(r)
	}
	if in.Record {
		p.serveRecorded(w, r, in, start)
		return
	}
	setRequestID(r.Header)
	p.serve(w, r)
}

// serve sends r on its way: refused, to httputil for WebSocket, or to goproxy.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodConnect:
		// goproxy would open a tunnel to anything this host can reach.
		w.Header()[requestIDHeader] = r.Header[requestIDHeader]
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case isWebSocketUpgrade(r.Header):
		// goproxy never closes a hijacked client connection; httputil does.
		p.ws.ServeHTTP(w, r)
	default:
		// goproxy runs its hooks only for absolute URLs (proxy requests).
		p.pointAtUpstream(r.URL)
		p.gp.ServeHTTP(w, r)
	}
}

// pointAtUpstream rewrites u, a request URL as the client sent it, to the
// upstream, joining the upstream's path prefix and query like httputil.
func (p *Proxy) pointAtUpstream(u *url.URL) {
	up := &p.upstream
	u.Scheme, u.Host = up.Scheme, up.Host
	if p.joinPath {
		u.Path, u.RawPath = joinURLPath(up, u)
	}
	if up.RawQuery != "" {
		if u.RawQuery == "" {
			u.RawQuery = up.RawQuery
		} else {
			u.RawQuery = up.RawQuery + "&" + u.RawQuery
		}
	}
}

// onRequest is goproxy's request hook: it turns the client's request into
// the upstream request in place (the Director of httputil).
func (p *Proxy) onRequest(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
	ctx.RoundTripper = p.roundTrip
	keepTE := hasToken(r.Header["Te"], "trailers")
	id := r.Header[requestIDHeader] // even "Connection: X-Request-ID" must not remove it
	removeHopByHop(r.Header)
	r.Header[requestIDHeader] = id
	if keepTE {
		// Tells the upstream that trailers reach the client.
		r.Header["Te"] = []string{"trailers"}
	}
	setForwarded(r.Header, r.Header["X-Forwarded-For"], r)
	p.setHost(r)
	// The client's "Connection: close" is about its own connection; the
	// upstream connection stays in the pool.
	r.Close = false
	if _, ok := r.Header["User-Agent"]; !ok {
		// An empty value stops the Transport adding Go's own User-Agent.
		r.Header["User-Agent"] = []string{""}
	}
	return r, nil
}

func (p *Proxy) setHost(out *http.Request) {
	if !p.keepHost {
		out.Host = p.upstream.Host
	}
}

// onResponse is goproxy's response hook. A nil resp means the upstream
// gave no answer; ctx.Error says why.
func (p *Proxy) onResponse(resp *http.Response, ctx *goproxy.ProxyCtx) *http.Response {
	r := ctx.Req
	if resp == nil {
		status, msg := p.upstreamFailed(r, ctx.Error)
		resp = gatewayResponse(r, status, msg)
		if rec := recordingOf(r); rec != nil && rec.critical {
			return p.commit(rec, r, resp)
		}
		return resp
	}
	removeHopByHop(resp.Header)
	resp.Header[requestIDHeader] = r.Header[requestIDHeader]
	if _, ok := resp.Header["Content-Type"]; !ok {
		// A present but empty Content-Type stops net/http sniffing one
		// that the upstream never sent.
		resp.Header["Content-Type"] = nil
	}
	if rec := recordingOf(r); rec != nil && rec.critical {
		return p.commit(rec, r, resp)
	}
	if resp.ContentLength < 0 && r.Method != http.MethodHead && resp.Body != http.NoBody {
		// net/http hides Transfer-Encoding from resp.Header, so goproxy
		// would buffer a stream of unknown length (NDJSON, long poll) until
		// it ends. With the header back, goproxy flushes every read.
		// Content-Length is not lost by swapping the body: there is none.
		resp.Header["Transfer-Encoding"] = []string{"chunked"}
		resp.Body = &streamBody{ReadCloser: resp.Body, p: p, req: r}
	}
	return resp
}

// rewriteUpgrade gives WebSocket requests going through httputil the same
// treatment onRequest gives the others. httputil has already removed the
// hop-by-hop headers (keeping Connection/Upgrade) and X-Forwarded-*.
func (p *Proxy) rewriteUpgrade(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.RawQuery = in.URL.RawQuery // httputil drops query parts it cannot parse
	p.pointAtUpstream(out.URL)
	removeProxyHeaders(out.Header)
	out.Header[requestIDHeader] = in.Header[requestIDHeader]
	if v, ok := in.Header["Forwarded"]; ok {
		out.Header["Forwarded"] = v // passed on as the goproxy path does
	}
	setForwarded(out.Header, in.Header["X-Forwarded-For"], in)
	p.setHost(out)
}

func (p *Proxy) modifyUpgradeResponse(resp *http.Response) error {
	resp.Header[requestIDHeader] = resp.Request.Header[requestIDHeader]
	if resp.StatusCode == http.StatusSwitchingProtocols {
		// httputil writes a 101 straight to the hijacked connection, so
		// the capture writer never sees it.
		if rec := recordingOf(resp.Request); rec != nil {
			rec.w.switched(resp.Header)
		}
	}
	return nil
}

// upgradeFailed is httputil's error handler for WebSocket requests.
func (p *Proxy) upgradeFailed(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := p.upstreamFailed(r, err)
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	h[requestIDHeader] = r.Header[requestIDHeader]
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

// upstreamFailed logs why the upstream gave no response head, notes the
// reason in the recording if there is one, and says what the client gets.
func (p *Proxy) upstreamFailed(r *http.Request, err error) (status int, msg string) {
	reason, status, msg := UpstreamUnreachable, http.StatusBadGateway, "bad gateway\n"
	switch {
	case r.Context().Err() != nil:
		reason = UpstreamCanceled
	case isTimeout(err):
		reason, status, msg = UpstreamTimedOut, http.StatusGatewayTimeout, "gateway timeout\n"
	}
	if rec := recordingOf(r); rec != nil {
		rec.upstreamError = reason
	}
	ev := p.log.Warn()
	if reason == UpstreamCanceled {
		ev = p.log.Debug() // the client left; nothing is wrong upstream
	}
	ev.Err(err).Str("reason", reason).Str("request_id", r.Header.Get(requestIDHeader)).
		Str("method", r.Method).Str("path", r.URL.Path).Msg("proxying to upstream")
	return status, msg
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// gatewayResponse is what goproxy sends the client when the upstream gave
// no answer: a short plain body, never the error itself.
func gatewayResponse(r *http.Request, status int, msg string) *http.Response {
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode: status,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":           {"text/plain; charset=utf-8"},
			"X-Content-Type-Options": {"nosniff"},
			requestIDHeader:          r.Header[requestIDHeader],
		},
		Body:          io.NopCloser(strings.NewReader(msg)),
		ContentLength: int64(len(msg)),
		Request:       r,
	}
}

// streamBody is the upstream body of a response with no declared length.
// goproxy copies it with io.Copy, which uses WriteTo: that copy uses a
// pooled buffer and can tell an upstream failure from a client one.
type streamBody struct {
	io.ReadCloser
	p   *Proxy
	req *http.Request
}

func (b *streamBody) WriteTo(dst io.Writer) (int64, error) {
	n, readErr, writeErr := copyBuffer(dst, b.ReadCloser)
	switch {
	case writeErr != nil:
		return n, writeErr
	case readErr != nil && b.req.Context().Err() == nil:
		// The upstream broke off mid-body. Returning would let goproxy end
		// the chunked response cleanly, telling the client it has the whole
		// body; aborting the handler closes the connection instead, as
		// httputil does.
		b.p.log.Warn().Err(readErr).Str("request_id", b.req.Header.Get(requestIDHeader)).
			Int64("bytes", n).Msg("reading upstream response body")
		if rec := recordingOf(b.req); rec != nil {
			rec.w.incomplete = true
		}
		panic(http.ErrAbortHandler)
	}
	return n, readErr
}

// logAdapter feeds goproxy's Printf logger and httputil's log.Logger into
// zerolog. Both only report problems, so everything is a warning.
type logAdapter struct{ l zerolog.Logger }

func (a logAdapter) Printf(format string, v ...any) {
	a.l.Warn().Str("component", "goproxy").Msgf(strings.TrimSuffix(format, "\n"), v...)
}

func (a logAdapter) Write(b []byte) (int, error) {
	a.l.Warn().Str("component", "httputil").Msg(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// recording is the state of one recorded exchange, in one allocation.
type recording struct {
	x             event.Exchange
	w             captureWriter
	body          teeBody // the request body, when there is one
	wantReqBody   bool
	wantRespBody  bool
	https         bool // the client came over TLS
	upstreamError string
	critical      bool // hold the response until Commit (Interest.Critical)
	committed     bool // Commit made the events durable
}

type recordingKey struct{}

// recordingOf finds the recording of a request (or of the upstream request
// made from it), or nil when it is not recorded.
func recordingOf(r *http.Request) *recording {
	rec, _ := r.Context().Value(recordingKey{}).(*recording)
	return rec
}

func (p *Proxy) serveRecorded(w http.ResponseWriter, r *http.Request, in Interest, start time.Time) {
	rec := &recording{wantReqBody: in.RequestBody, wantRespBody: in.ResponseBody, critical: in.Critical && p.committer != nil}
	rec.x = event.Exchange{
		Start:         start,
		Peer:          r.RemoteAddr,
		Method:        r.Method,
		Host:          r.Host,
		Path:          r.URL.Path,
		RawQuery:      r.URL.RawQuery,
		RequestHeader: r.Header.Clone(), // before any header is removed or added
		RequestID:     setRequestID(r.Header),
		Token:         in.Token,
		ClientCert:    clientCert(r.TLS),
	}
	rec.https = r.TLS != nil
	rec.w.ResponseWriter = w
	rec.w.keepHeader = in.ResponseHeader || in.ResponseBody
	if in.ResponseBody {
		rec.w.body.limit = p.limit
	}
	// The context carries the recording to the hooks, which see only the
	// request; WithContext copies r, so the body swap stays on the copy.
	r = r.WithContext(context.WithValue(r.Context(), recordingKey{}, rec))
	rec.w.ctx = r.Context()
	if r.Body != nil && r.Body != http.NoBody {
		// Wrapped even when not captured, to count its size. goproxy has
		// consumed it by the time the response hook runs, so the copy is
		// taken while it streams.
		rec.body.ReadCloser = r.Body
		if in.RequestBody {
			rec.body.buf.limit = p.limit
			rec.body.buf.expect(r.ContentLength)
		}
		r.Body = &rec.body
	}
	defer p.finish(rec) // also when the handler is aborted mid-response
	if in.Before != "" && r.Method != http.MethodConnect {
		p.prefetch(r, in.Before, &rec.x)
	}
	p.serve(&rec.w, r)
}

// finish completes the exchange and hands it over, once per request.
func (p *Proxy) finish(rec *recording) {
	x := &rec.x
	x.Duration = time.Since(x.Start)
	x.Status, x.ResponseHeader = rec.w.status, rec.w.header
	x.ResponseBody = rec.w.body.result(rec.wantRespBody)
	x.UpstreamError = rec.upstreamError
	x.ResponseIncomplete = rec.w.incomplete
	x.NormalizingRedirect = p.normalizingRedirect(rec)
	x.Committed = rec.committed
	if rec.body.ReadCloser != nil {
		buf := rec.body.seal()
		x.RequestBody = buf.result(rec.wantReqBody)
	} else {
		x.RequestBody = event.Body{Captured: rec.wantReqBody}
	}
	p.observer.Observe(x)
}
