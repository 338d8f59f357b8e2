package output

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// received is one request a fake collector got, its body already
// decompressed.
type received struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
}

// fakeCollector is an httptest server that records requests and answers
// them with handle. handle may be replaced between Writes (under mu).
type fakeCollector struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []received
	handle func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newFakeCollector(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, body []byte)) *fakeCollector {
	t.Helper()
	f := &fakeCollector{handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err == nil {
				body, err = io.ReadAll(zr)
			}
			if err != nil {
				http.Error(w, "bad gzip: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, received{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		handle := f.handle
		f.mu.Unlock()
		handle(w, r, body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCollector) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.reqs...)
}

func (f *fakeCollector) setHandler(h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	f.mu.Lock()
	f.handle = h
	f.mu.Unlock()
}

// openSink opens a sink of kind typ with options, closing it at the end of
// the test.
func openSink(t testing.TB, typ string, opts map[string]any) Sink {
	t.Helper()
	s, err := OpenSpec(Spec{Name: typ, Type: typ, Options: opts})
	if err != nil {
		t.Fatalf("OpenSpec(%s, %v): %v", typ, opts, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// replyWith answers every request with status, the headers (name, value
// pairs) and body.
func replyWith(status int, body string, header ...string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 21, 23, 42, 15, 0, time.UTC)
	otlp := otlpRetryable
	type want int
	const (
		ok want = iota
		permanent
		retry // no wait asked
		wait  // retry after the given duration
	)
	for _, tt := range []struct {
		status     int
		retryAfter string
		retryable  func(int) bool
		want       want
		after      time.Duration
	}{
		{status: 200, want: ok},
		{status: 201, want: ok},
		{status: 204, want: ok},
		{status: 301, want: permanent},
		{status: 400, want: permanent},
		{status: 401, want: permanent},
		{status: 403, want: permanent},
		{status: 404, want: permanent},
		{status: 409, want: permanent},
		{status: 413, want: permanent},
		{status: 408, want: retry},
		{status: 429, want: retry},
		{status: 429, retryAfter: "7", want: wait, after: 7 * time.Second},
		{status: 429, retryAfter: " 0 ", want: wait, after: 0},
		{status: 429, retryAfter: "Sat, 21 Nov 2026 23:43:15 GMT", want: wait, after: time.Minute},
		{status: 429, retryAfter: "Sat, 21 Nov 2026 23:00:00 GMT", want: wait, after: 0}, // already past
		{status: 429, retryAfter: "soon", want: retry},
		{status: 429, retryAfter: "-5", want: retry},
		{status: 503, retryAfter: "120", want: wait, after: 2 * time.Minute},
		{status: 503, retryAfter: "Saturday, 21-Nov-26 23:42:45 GMT", want: wait, after: 30 * time.Second}, // RFC 850, obsolete but allowed
		{status: 503, want: retry},
		{status: 500, retryAfter: "7", want: retry}, // Retry-After counts with 429 and 503 only
		{status: 502, want: retry},
		{status: 504, want: retry},
		// OTLP/HTTP retries 429, 502, 503, 504 and nothing else.
		{status: 408, retryable: otlp, want: permanent},
		{status: 500, retryable: otlp, want: permanent},
		{status: 501, retryable: otlp, want: permanent},
		{status: 429, retryable: otlp, retryAfter: "3", want: wait, after: 3 * time.Second},
		{status: 502, retryable: otlp, want: retry},
		{status: 503, retryable: otlp, want: retry},
		{status: 504, retryable: otlp, want: retry},
	} {
		retryable := tt.retryable
		if retryable == nil {
			retryable = retryableStatus
		}
		h := http.Header{}
		if tt.retryAfter != "" {
			h.Set("Retry-After", tt.retryAfter)
		}
		err := classify(tt.status, h, "the collector's words", retryable, now)
		after, hasAfter := RetryAfterOf(err)
		var got want
		switch {
		case err == nil:
			got = ok
		case IsPermanent(err):
			got = permanent
		case hasAfter:
			got = wait
		default:
			got = retry
		}
		name := map[want]string{ok: "ok", permanent: "permanent", retry: "retry", wait: "retry after"}
		if got != tt.want || after != tt.after {
			t.Errorf("classify(%d, Retry-After %q) = %v: %s %v, want %s %v", tt.status, tt.retryAfter, err, name[got], after, name[tt.want], tt.after)
		}
		if err != nil && !strings.Contains(err.Error(), "the collector's words") {
			t.Errorf("classify(%d) = %q, want the collector's words in it", tt.status, err)
		}
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("é", 400) // 800 bytes
	got := shorten(long, maxDetail)
	if len(got) > maxDetail+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("shorten(800 bytes) = %d bytes %q…", len(got), got[:10])
	}
	if got := shorten("  short\n", maxDetail); got != "short" {
		t.Errorf("shorten = %q, want %q", got, "short")
	}
	if got := shorten("a\xffb", maxDetail); got != "a\uFFFDb" {
		t.Errorf("shorten of invalid UTF-8 = %q", got)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `"quoted" \ back`, "tab\tnew\nline\rcr\x00\x1f\x7f", "é ü 日本 🎉", "bad \xff\xfe utf8 \xe6\x97", "\u2028\u2029", "</script>"} {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", `"\`, "\x00\n", "é\xff", "日本"} {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

// checkJSONString checks that appendJSONString writes what encoding/json
// reads back as the string encoding/json itself would have written.
func checkJSONString(t *testing.T, s string) {
	for _, enc := range [][]byte{appendJSONString(nil, s), appendJSONString(nil, []byte(s))} {
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s: not JSON: %v", s, enc, err)
		}
		std, _ := json.Marshal(s)
		var want string
		json.Unmarshal(std, &want)
		if got != want {
			t.Fatalf("appendJSONString(%q) reads back as %q, want %q", s, got, want)
		}
	}
}

func TestHTTPOptionErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tt := range []struct {
		opts    map[string]any
		wantErr string
	}{
		{map[string]any{}, "url: required"},
		{map[string]any{"url": "ftp://x"}, `url: "ftp://x" is not an http:// or https:// URL`},
		{map[string]any{"url": "http://u:hunter2@/x"}, `url: "http://u:xxxxx@/x" is not`},
		{map[string]any{"url": "http://x", "urll": "y"}, "field urll not found"},
		{map[string]any{"url": "http://x", "headers": map[string]any{"content-type": "text/plain"}}, "headers: Content-Type is set by the webhook output itself"},
		{map[string]any{"url": "http://x", "password": "p"}, "password: given without username"},
		{map[string]any{"url": "http://x", "username": "u", "headers": map[string]any{"Authorization": "Bearer x"}}, "username: the Authorization header is already set"},
		{map[string]any{"url": "http://x", "compression": "zstd"}, `compression: "zstd" is not one of none, gzip`},
		{map[string]any{"url": "http://x", "timeout": "-1s"}, "timeout: -1s is negative"},
		{map[string]any{"url": "http://x", "timeout": "soon"}, "soon"},
		{map[string]any{"url": "http://x", "tls": map[string]any{"cert_file": "c.pem"}}, "tls: cert_file and key_file go together"},
		{map[string]any{"url": "http://x", "tls": map[string]any{"ca_file": filepath.Join(dir, "missing.pem")}}, "tls: ca_file: open"},
		{map[string]any{"url": "http://x", "tls": map[string]any{"ca_file": notPEM}}, "tls: ca_file "},
		{map[string]any{"url": "http://x", "tls": map[string]any{"cert_file": notPEM, "key_file": notPEM}}, "tls: cert_file/key_file:"},
		{map[string]any{"url": "http://x", "tls": map[string]any{"verify": false}}, "field verify not found"},
	} {
		_, err := OpenSpec(Spec{Name: "hook", Type: "http", Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("OpenSpec(http, %v) error = %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}

func TestHTTPHeadersAuthAndGzip(t *testing.T) {
	fake := newFakeCollector(t, replyWith(http.StatusNoContent, ""))
	s := openSink(t, "http", map[string]any{
		"url":         fake.URL + "/hook",
		"headers":     map[string]any{"x-team": "sec", "X-Api-Key": "k-123"},
		"username":    "auditproxy",
		"password":    "hunter2",
		"compression": "gzip",
	})
	evs := batch("gz", 20) // well over minGzip
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	reqs := fake.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for k, want := range map[string]string{"X-Team": "sec", "X-Api-Key": "k-123", "Content-Encoding": "gzip", "Content-Type": "application/json", "User-Agent": "auditproxy"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	req := &http.Request{Header: r.header}
	if u, p, ok := req.BasicAuth(); !ok || u != "auditproxy" || p != "hunter2" {
		t.Errorf("basic auth = %q %q %v, want auditproxy hunter2", u, p, ok)
	}
	var got []event.Event
	if err := json.Unmarshal(r.body, &got); err != nil || len(got) != 20 || got[19].ID != "gz-19" {
		t.Errorf("decompressed body: %d events, %v", len(got), err)
	}
}

func TestHTTPProxyOnlyWhenAsked(t *testing.T) {
	for _, on := range []bool{false, true} {
		w, err := OpenWebhook(Spec{Name: "hook", Type: "http", Options: map[string]any{"url": "http://x", "proxy_from_environment": on}})
		if err != nil {
			t.Fatal(err)
		}
		if got := w.transport.Proxy != nil; got != on {
			t.Errorf("proxy_from_environment: %v: transport uses a proxy: %v", on, got)
		}
	}
}

func TestHTTPRedirectIsNotFollowed(t *testing.T) {
	target := newFakeCollector(t, replyWith(http.StatusOK, ""))
	fake := newFakeCollector(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	s := openSink(t, "http", map[string]any{"url": fake.URL})
	err := s.Write(context.Background(), batch("r", 1))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "redirected to "+target.URL+"/elsewhere") {
		t.Errorf("Write to a redirect = %v, want a permanent error naming the new address", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("the redirect was followed (%d requests)", n)
	}
}

// TestHTTPSecretsNeverInErrors has collectors that echo the request back
// in their errors, as some proxies do: the error must not carry the
// credentials.
func TestHTTPSecretsNeverInErrors(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request, _ []byte) {
		var b strings.Builder
		r.Header.Write(&b)
		http.Error(w, "unauthorized request:\n"+b.String(), http.StatusUnauthorized)
	}
	fake := newFakeCollector(t, echo)
	u := strings.Replace(fake.URL, "http://", "http://user:pass-in-url@", 1)
	secrets := []string{"pass-in-url", "hunter2-basic", "Bearer tok-in-header", "whsec-raw-secret", "splunk-tok-42", "es-api-key-1"}
	for _, tt := range []struct {
		typ  string
		opts map[string]any
	}{
		{"http", map[string]any{"url": u, "username": "u", "password": "hunter2-basic", "secret": "whsec-raw-secret"}},
		{"http", map[string]any{"url": u, "headers": map[string]any{"Authorization": "Bearer tok-in-header"}}},
		{"loki", map[string]any{"url": u, "username": "u", "password": "hunter2-basic"}},
		{"elasticsearch", map[string]any{"url": u, "api_key": "es-api-key-1"}},
		{"splunk", map[string]any{"url": u, "token": "splunk-tok-42"}},
		{"otlp", map[string]any{"url": u, "headers": map[string]any{"Authorization": "Bearer tok-in-header"}}},
	} {
		s := openSink(t, tt.typ, tt.opts)
		err := s.Write(context.Background(), batch("s", 2))
		if err == nil {
			t.Fatalf("%s: Write to a 401 succeeded", tt.typ)
		}
		for _, secret := range secrets {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error %q reveals %q", tt.typ, err, secret)
			}
		}
		if !strings.Contains(err.Error(), "401") {
			t.Errorf("%s: error %q does not say 401", tt.typ, err)
		}
	}
}

// selfSigned makes a certificate for 127.0.0.1, good for serving and for
// client authentication, and writes it and its key as PEM files.
func selfSigned(t *testing.T, dir, name string) (tls.Certificate, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

func TestHTTPTLS(t *testing.T) {
	dir := t.TempDir()
	serverCert, caFile, _ := selfSigned(t, dir, "server")
	clientCert, clientFile, clientKey := selfSigned(t, dir, "client")
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(clientCert.Leaf)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "client" {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: clientCAs, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()

	for _, tt := range []struct {
		name    string
		tls     map[string]any
		wantErr string // "" for success
	}{
		{"ca and client cert", map[string]any{"ca_file": caFile, "cert_file": clientFile, "key_file": clientKey}, ""},
		{"system roots", map[string]any{}, "certificate"},
		{"no client cert", map[string]any{"ca_file": caFile}, "403"},
		{"insecure", map[string]any{"insecure_skip_verify": true, "cert_file": clientFile, "key_file": clientKey}, ""},
	} {
		s := openSink(t, "http", map[string]any{"url": srv.URL, "tls": tt.tls})
		err := s.Write(context.Background(), batch("tls", 1))
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// errorsIsCanceled tells whether err says the caller's context ended.
func errorsIsCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func TestWithAPIPath(t *testing.T) {
	for _, tt := range []struct{ have, api, want string }{
		{"", "/loki/api/v1/push", "/loki/api/v1/push"},
		{"/", "/loki/api/v1/push", "/loki/api/v1/push"},
		{"/loki/api/v1/push", "/loki/api/v1/push", "/loki/api/v1/push"},
		{"/loki", "/loki/api/v1/push", "/loki/api/v1/push"},
		{"/gateway", "/loki/api/v1/push", "/gateway/loki/api/v1/push"},
		{"/gateway/loki/", "/loki/api/v1/push", "/gateway/loki/api/v1/push"},
		{"/myloki", "/loki/api/v1/push", "/myloki/loki/api/v1/push"},
		{"/services/collector", "/services/collector/event", "/services/collector/event"},
		{"/services/collector/event", "/services/collector/event", "/services/collector/event"},
		{"/otlp", "/v1/logs", "/otlp/v1/logs"},
	} {
		if got := withAPIPath(tt.have, tt.api); got != tt.want {
			t.Errorf("withAPIPath(%q, %q) = %q, want %q", tt.have, tt.api, got, tt.want)
		}
	}
}

// httpSinks are the sinks built on httpClient, with what each needs
// besides url, and its collector's success reply.
var httpSinks = []struct {
	typ  string
	opts map[string]any
	ok   func(http.ResponseWriter, *http.Request, []byte)
}{
	{"http", map[string]any{}, replyWith(http.StatusOK, "")},
	{"loki", map[string]any{}, replyWith(http.StatusNoContent, "")},
	{"elasticsearch", map[string]any{}, replyWith(http.StatusOK, `{"errors":false,"items":[]}`)},
	{"splunk", map[string]any{"token": "t"}, replyWith(http.StatusOK, `{"text":"Success","code":0}`)},
	{"otlp", map[string]any{}, replyWith(http.StatusOK, `{}`, "Content-Type", "application/json")},
}

func TestHTTPSinksCommon(t *testing.T) {
	for _, k := range httpSinks {
		t.Run(k.typ, func(t *testing.T) {
			open := func(url string) Sink {
				opts := map[string]any{"url": url}
				for o, v := range k.opts {
					opts[o] = v
				}
				return openSink(t, k.typ, opts)
			}
			fake := newFakeCollector(t, k.ok)
			s := open(fake.URL)

			// Success, and nothing sent for nothing.
			if err := s.Write(context.Background(), batch("ok", 2)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := s.Write(context.Background(), nil); err != nil || len(fake.requests()) != 1 {
				t.Errorf("empty Write: %v, %d requests in all, want 1", err, len(fake.requests()))
			}

			// Throttled: the wait the collector asked for, both forms.
			fake.setHandler(replyWith(http.StatusTooManyRequests, "slow down", "Retry-After", "2"))
			if after, ok := RetryAfterOf(s.Write(context.Background(), batch("t", 1))); !ok || after != 2*time.Second {
				t.Errorf("429 Retry-After 2: retry after %v %v", after, ok)
			}
			date := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
			fake.setHandler(replyWith(http.StatusServiceUnavailable, "maintenance", "Retry-After", date))
			if after, ok := RetryAfterOf(s.Write(context.Background(), batch("t", 1))); !ok || after < 59*time.Minute || after > time.Hour {
				t.Errorf("503 Retry-After %s: retry after %v %v", date, after, ok)
			}

			// The caller's context ends while the collector sits on the
			// request: Write returns at once, retryable.
			fake.setHandler(func(w http.ResponseWriter, r *http.Request, _ []byte) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := s.Write(ctx, batch("c", 1))
			if !errorsIsCanceled(err) || IsPermanent(err) || time.Since(start) > 2*time.Second {
				t.Errorf("Write with a context that ends: %v after %v, want a retryable context error at once", err, time.Since(start))
			}
			if err := s.Write(ctx, batch("c", 1)); !errorsIsCanceled(err) {
				t.Errorf("Write with an ended context: %v", err)
			}

			// Nobody listening: retryable.
			gone := newFakeCollector(t, k.ok)
			gone.Close()
			if err := open(gone.URL).Write(context.Background(), batch("n", 1)); err == nil || IsPermanent(err) {
				t.Errorf("Write to a closed port: %v, want a retryable error", err)
			}

			// Closed sink.
			s.Close()
			if err := s.Write(context.Background(), batch("x", 1)); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// FuzzParseRetryAfter: any header value gives a wait that is not negative,
// or none.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "120", "Sat, 21 Nov 2026 23:43:15 GMT", "Saturday, 21-Nov-26 23:42:45 GMT", "Sat Nov 21 23:42:45 2026", "-1", "1e3", "99999999999"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 21, 23, 42, 15, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := parseRetryAfter(v, now); d < 0 || !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}
