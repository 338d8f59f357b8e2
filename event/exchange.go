package event

import (
	"net/http"
	"time"
)

// Exchange is one request and its response as the proxy saw them: heads,
// bounded body captures, timings and the socket peer. The proxy fills it in
// and hands it over once the response has been written to the client; from
// then on nobody writes to it except ClientIP, which enrichment resolves
// before rules read it.
type Exchange struct {
	Start    time.Time     // when the request head arrived
	Duration time.Duration // until the response was fully written (or failed)

	Peer     string // socket peer, "ip:port"
	ClientIP string // the client's address after trusted-proxy resolution; set by enrich

	// ClientCert is set when the client presented a verified TLS
	// certificate to the proxy's listener (mutual TLS). It is nil for plain
	// HTTP, for TLS without a client certificate, and for a certificate the
	// listener accepted without verifying it (tls.RequestClientCert,
	// tls.RequireAnyClientCert): such a certificate proves nothing.
	ClientCert *ClientCert

	Method   string
	Host     string // the Host the client asked for
	Path     string // the path the client asked for, unescaped
	RawQuery string // without the leading '?'

	// RequestHeader is the client's header as it arrived, before the proxy
	// removed hop-by-hop headers or added X-Forwarded-*.
	RequestHeader http.Header
	RequestBody   Body
	RequestID     string // X-Request-ID as received, or the one the proxy generated

	// Status is what the client got: the upstream's status, or 502/504 when
	// the upstream could not be reached or timed out.
	Status int
	// ResponseHeader is nil when no rule asked for it (proxy.Interest),
	// except on a redirect.
	ResponseHeader http.Header
	ResponseBody   Body

	// NormalizingRedirect: the response is a redirect (301, 302, 303, 307
	// or 308) to the same path differing only by a trailing slash (or to
	// the same path on another scheme or host of the same app), with the
	// same query, so the client will repeat the request there (307 and 308
	// as it was; 301, 302 and 303 usually as a GET). Rules skip such
	// exchanges unless a rule lists the redirect's status code explicitly.
	NormalizingRedirect bool

	// ResponseIncomplete: the upstream's response broke off after its head
	// was sent; the client got a truncated or aborted response. Status and
	// ResponseHeader are the upstream's; ResponseBody has what arrived. A
	// client that goes away mid-response does not set it.
	ResponseIncomplete bool

	// UpstreamError is empty when the upstream answered; otherwise one of
	// the Upstream* reasons below, with no internal detail.
	UpstreamError string

	// Before is the upstream's answer to the pre-fetch the observer asked
	// for (Interest.Before), taken before the request was forwarded: the
	// state the request changes. Before.Captured is false when no pre-fetch
	// was asked for; BeforeError says why one failed ("timeout", a status).
	Before       Body
	BeforeHeader http.Header
	BeforeError  string

	// Committed: the events of this exchange were built and made durable
	// before the response was released (delivery: critical), through
	// proxy.Committer. The observer must not build them again.
	Committed bool

	// Token is whatever the observer returned with its interest for this
	// request (e.g. the rule set in force when the request arrived). The
	// proxy only carries it.
	Token any
}

// Reasons for Exchange.UpstreamError: the upstream gave no response head.
const (
	// UpstreamUnreachable: no usable answer (connection refused or reset,
	// DNS, TLS or protocol failure). The client got 502.
	UpstreamUnreachable = "unreachable"
	// UpstreamTimedOut: no response head in time (or a dial timeout). The
	// client got 504.
	UpstreamTimedOut = "timeout"
	// UpstreamCanceled: the client went away before the upstream answered
	// and the request was abandoned. Status says 502, but nobody received it.
	UpstreamCanceled = "canceled"
)

// Body is a bounded copy of a body, taken while it streamed through.
type Body struct {
	Captured  bool   // a capture was asked for
	Data      []byte // the first bytes of the body, at most the capture limit
	Truncated bool   // the body was longer than the limit: Data is incomplete
	Size      int64  // bytes that passed through, captured or not
}

// ClientCert is the certificate a client presented to the proxy's listener
// and the listener verified: the leaf, not the chain.
type ClientCert struct {
	Subject        string // distinguished name, RFC 2253 form: "CN=alice,O=Example Corp,C=DE"
	CommonName     string // the subject's CN; empty if it has none
	Issuer         string // the issuer's distinguished name, RFC 2253 form
	SerialNumber   string // upper-case hex, as openssl and nginx's $ssl_client_serial print it: "0A1B"
	DNSNames       []string
	EmailAddresses []string
}
