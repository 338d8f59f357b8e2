package output

// What the sinks that POST batches to a collector share (http, loki,
// elasticsearch, splunk, otlp): the options every one of them takes, one
// tuned http.Client, request compression, and the reading of the
// collector's answer into the errors delivery acts on (errors.go).

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/output/format"
)

// httpOptions are the options of every HTTP sink, inline in each sink's own:
//
//	url: https://collector.example:8443      # required
//	headers: {X-Team: sec}                   # sent with every request
//	username: auditproxy                     # HTTP Basic auth, with password
//	password: s3cret
//	tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}
//	compression: gzip                        # request bodies; default none
//	timeout: 30s                             # one request, connect to reply
//	proxy_from_environment: false            # honour HTTPS_PROXY and friends
type httpOptions struct {
	URL      string            `yaml:"url"`
	Headers  map[string]string `yaml:"headers"`
	Username string            `yaml:"username"`
	Password string            `yaml:"password"`
	TLS      TLSConfig         `yaml:"tls"`
	// Compression of request bodies: "" or "none", or "gzip" (every
	// collector here documents gzip request bodies: Loki's push API, the
	// Elasticsearch REST layer, Splunk HEC, OTLP/HTTP).
	Compression string `yaml:"compression"`
	// Timeout bounds one request, from dialling to the end of the reply;
	// 0 means 30s.
	Timeout time.Duration `yaml:"timeout"`
	// ProxyFromEnvironment makes requests go through the proxy that
	// HTTP_PROXY, HTTPS_PROXY and NO_PROXY name. Off by default: an audit
	// trail should not leave through a proxy the environment happens to
	// set.
	ProxyFromEnvironment bool `yaml:"proxy_from_environment"`
}

const (
	defaultHTTPTimeout = 30 * time.Second
	// maxDetail bounds how much of a collector's error text goes into an
	// error: enough for Elasticsearch's reason or Loki's message, not a
	// whole HTML error page.
	maxDetail = 500
	// maxReply bounds how much of a reply is read. A _bulk reply for a
	// large batch with an error per item stays well under it.
	maxReply = 16 << 20
	// minGzip is the smallest body worth compressing: below it gzip's
	// framing makes the body bigger.
	minGzip = 1 << 10
)

// httpClient posts to one collector. It is safe for concurrent use.
type httpClient struct {
	url   string // the endpoint requests go to, e.g. http://loki:3100/loki/api/v1/push
	where string // "loki at <url without password>", for messages
	// header is sent with every request: the user's headers and the
	// sink's authorization. Its values may be secrets: they never appear
	// in a message or a log.
	header    http.Header
	secrets   []string // header values and credentials, scrubbed from collector replies
	gzip      bool
	client    *http.Client
	transport *http.Transport
	log       zerolog.Logger
	closed    atomic.Bool
}

// reservedHeaders are set by the sinks themselves; a headers: entry for one
// of them would be overwritten or would corrupt the request.
var reservedHeaders = map[string]bool{"Content-Type": true, "Content-Length": true, "Content-Encoding": true, "Transfer-Encoding": true, "Host": true}

// newHTTPClient builds the client for one output. path is the collector's
// API path, completing the url (withAPIPath: http://loki:3100 and
// http://loki:3100/loki/api/v1/push both work); "" posts to the url as
// given. kind names the collector in messages.
func newHTTPClient(spec Spec, kind string, o httpOptions, path string) (*httpClient, error) {
	if o.URL == "" {
		return nil, errors.New("url: required (the collector's address, e.g. https://collector.example:8443)")
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url: %q is not an http:// or https:// URL", redactURL(o.URL))
	}
	if path != "" {
		u.Path = withAPIPath(u.Path, path)
		u.RawPath = ""
	}
	c := &httpClient{url: u.String(), where: kind + " at " + u.Redacted(), header: http.Header{}}
	if p, ok := u.User.Password(); ok {
		c.secrets = append(c.secrets, p)
	}
	c.header.Set("User-Agent", "auditproxy") // headers: may say otherwise
	for k, v := range o.Headers {
		k = http.CanonicalHeaderKey(k)
		if reservedHeaders[k] {
			return nil, fmt.Errorf("headers: %s is set by the %s output itself", k, kind)
		}
		c.header.Set(k, v)
		c.secrets = append(c.secrets, v)
	}
	switch {
	case o.Username != "":
		if err := c.setAuthorization("Basic "+base64.StdEncoding.EncodeToString([]byte(o.Username+":"+o.Password)), "username"); err != nil {
			return nil, err
		}
		c.secrets = append(c.secrets, o.Password)
	case o.Password != "":
		return nil, errors.New("password: given without username")
	}
	switch o.Compression {
	case "", "none":
	case "gzip":
		c.gzip = true
	default:
		return nil, fmt.Errorf("compression: %q is not one of none, gzip", o.Compression)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("timeout: %v is negative", o.Timeout)
	}
	if o.Timeout == 0 {
		o.Timeout = defaultHTTPTimeout
	}
	tlsConf, err := o.TLS.Config()
	if err != nil {
		return nil, err
	}
	c.transport = &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		ForceAttemptHTTP2:     true, // a custom TLSClientConfig would turn HTTP/2 off otherwise
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   8, // delivery sends a few batches at a time, not hundreds
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if o.ProxyFromEnvironment {
		c.transport.Proxy = http.ProxyFromEnvironment
	}
	c.client = &http.Client{
		Transport: c.transport,
		Timeout:   o.Timeout,
		// A redirect is a misconfigured url, and following one would turn
		// a POST into a GET (301, 302) or send the batch and its
		// credentials somewhere nobody configured: report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.log = zerolog.New(os.Stderr).With().Timestamp().Str("output", spec.Name).Logger()
	return c, nil
}

// withAPIPath completes a URL path with the collector's API path: nothing
// when it is there already, the rest of it when the URL stops part way
// (/services/collector + /event), all of it otherwise (a base URL, or one
// behind a gateway prefix).
func withAPIPath(have, api string) string {
	have = strings.TrimSuffix(have, "/")
	for end := len(api); end > 0; end = strings.LastIndexByte(api[:end], '/') {
		if strings.HasSuffix(have, api[:end]) {
			return have + api[end:]
		}
	}
	return have + api
}

// setAuthorization sets the Authorization header, refusing a second source
// for it (a headers: entry, or two auth options); option names the option
// that asks for it.
func (c *httpClient) setAuthorization(value, option string) error {
	if c.header.Get("Authorization") != "" {
		return fmt.Errorf("%s: the Authorization header is already set (by headers: or another auth option); use one", option)
	}
	c.header.Set("Authorization", value)
	c.secrets = append(c.secrets, value)
	return nil
}

// addSecret marks s as a secret to scrub from collector replies.
func (c *httpClient) addSecret(s string) { c.secrets = append(c.secrets, s) }

// SetLogger replaces where the sink reports what is not an error (a
// collector that dropped some records of an accepted batch, advice on
// batch sizes). The default writes JSON lines to stderr. Call it before
// the first Write.
func (c *httpClient) SetLogger(l zerolog.Logger) { c.log = l }

// Close makes later Writes fail with ErrClosed and closes idle
// connections. A Write in progress finishes.
func (c *httpClient) Close() error {
	c.closed.Store(true)
	c.transport.CloseIdleConnections()
	return nil
}

// reply is a collector's answer: the status, the headers and the body (up
// to maxReply bytes).
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r *reply) ok() bool { return r.status >= 200 && r.status < 300 }

// post sends body to endpoint with the client's headers plus header, and
// returns the reply whatever its status. The error is for a request that
// got no reply (refused, reset, timed out, ctx done): retryable, unless
// the sink is closed.
func (c *httpClient) post(ctx context.Context, endpoint, contentType string, header http.Header, body []byte) (*reply, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	encoding := ""
	if c.gzip && len(body) >= minGzip {
		body, encoding = gzipBytes(body), "gzip"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		// *url.Error repeats the method and URL; the caller says where.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil && resp.StatusCode/100 == 2 {
		// An answer cut short may hide per-item failures: send again.
		return nil, fmt.Errorf("reading the reply: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	return &reply{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// statusError classifies a reply that is not 2xx, with the collector's own
// words (detail) scrubbed of secrets and shortened. retryable says which
// statuses the collector documents as worth retrying.
func (c *httpClient) statusError(r *reply, detail string, retryable func(int) bool) error {
	if r.status/100 == 3 {
		detail = "redirected to " + redactURL(r.header.Get("Location")) + "; set url to the final address"
	}
	return classify(r.status, r.header, c.scrub(detail), retryable, time.Now())
}

// classify is the one reading of an HTTP status that every sink shares:
// nil for 2xx; for a status retryable allows, a plain (retryable) error,
// carrying the wait the collector asked for when a 429 or 503 has a
// Retry-After (RFC 9110 section 10.2.3; OTLP/HTTP "Throttling" names the
// same two); anything else is Permanent.
func classify(status int, header http.Header, detail string, retryable func(int) bool, now time.Time) error {
	if status >= 200 && status < 300 {
		return nil
	}
	msg := strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		msg += " " + t
	}
	if detail = shorten(detail, maxDetail); detail != "" {
		msg += ": " + detail
	}
	err := errors.New(msg)
	if !retryable(status) {
		return Permanent(err)
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		if d, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
			return RetryAfter(err, d)
		}
	}
	return err
}

// retryableStatus is what most collectors document (Loki, Elasticsearch,
// Splunk HEC) and what a webhook receiver can be assumed to mean: 408
// Request Timeout, 429 Too Many Requests and every 5xx are worth another
// try; any other 4xx says the request itself is wrong.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// parseRetryAfter reads both forms of Retry-After (RFC 9110 section
// 10.2.3): delay-seconds, or an HTTP-date (a date already past means now).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// scrub removes the client's secrets from text a collector sent back (some
// echo the request's headers in their errors).
func (c *httpClient) scrub(s string) string {
	for _, secret := range c.secrets {
		if len(secret) >= 4 { // shorter would blank ordinary words
			s = strings.ReplaceAll(s, secret, "[FILTERED]")
		}
	}
	return s
}

// shorten trims s and cuts it to at most n bytes on a character boundary,
// marking the cut, and replaces what is not valid UTF-8.
func shorten(s string, n int) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactURL hides the password of a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// bodySize guesses the size of a batch's body from the last one, so that
// encoding allocates the buffer once instead of doubling it from nothing.
type bodySize struct{ perEvent atomic.Int64 }

func (b *bodySize) buffer(events int) []byte {
	return make([]byte, 0, int(b.perEvent.Load())*events*9/8+512)
}

func (b *bodySize) learn(body []byte, events int) {
	if events > 0 {
		b.perEvent.Store(int64(len(body) / events))
	}
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // audit JSON is repetitive: speed costs little ratio
	return w
}}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b) / 4)
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&buf)
	w.Write(b) // a bytes.Buffer never fails
	w.Close()
	gzipWriters.Put(w)
	return buf.Bytes()
}

// isJSONFormat reports whether f's records are JSON documents (json, ecs,
// ocsf, cloudevents) rather than text lines (cef, text): some collectors
// and encodings take only the former.
func isJSONFormat(f format.Format) bool {
	mt, _, err := mime.ParseMediaType(f.ContentType())
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// appendJSONString appends s as a JSON string (format.AppendJSONString:
// invalid UTF-8 becomes U+FFFD, U+2028/U+2029 are escaped).
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	return format.AppendJSONString(dst, s)
}
