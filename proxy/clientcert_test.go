package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
)

// testPKI is a CA and a client certificate it issued.
type testPKI struct {
	ca     *x509.CertPool
	client tls.Certificate
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA", Organization: []string{"Example Corp"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(0x0a1b2c),
		Subject:        pkix.Name{CommonName: "alice", Organization: []string{"Example Corp"}, Country: []string{"DE"}},
		DNSNames:       []string{"alice.example"},
		EmailAddresses: []string{"alice@example.com"},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       now.Add(time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return testPKI{ca: pool, client: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// newTLSFront serves a proxy to upstream over TLS configured by tc.
func newTLSFront(t *testing.T, upstream string, cfg Config, tc *tls.Config) *httptest.Server {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Upstream = u
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s := httptest.NewUnstartedServer(p)
	s.TLS = tc
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func TestClientCert(t *testing.T) {
	pki := newTestPKI(t)
	up := newUpstream(t, http.HandlerFunc(echo))
	want := &event.ClientCert{
		Subject:        "CN=alice,O=Example Corp,C=DE",
		CommonName:     "alice",
		Issuer:         "CN=Test CA,O=Example Corp",
		SerialNumber:   "0A1B2C",
		DNSNames:       []string{"alice.example"},
		EmailAddresses: []string{"alice@example.com"},
	}
	for _, tc := range []struct {
		name       string
		clientAuth tls.ClientAuthType
		present    bool // the client presents its certificate
		want       *event.ClientCert
	}{
		{"verified", tls.RequireAndVerifyClientCert, true, want},
		{"verified if given", tls.VerifyClientCertIfGiven, true, want},
		{"none given", tls.VerifyClientCertIfGiven, false, nil},
		// Accepted without verification: anyone can make such a certificate.
		{"not verified", tls.RequireAnyClientCert, true, nil},
		{"asked for, not verified", tls.RequestClientCert, true, nil},
		{"not asked for", tls.NoClientCert, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(Interest{Record: true})
			front := newTLSFront(t, up.URL, Config{Observer: rec}, &tls.Config{ClientAuth: tc.clientAuth, ClientCAs: pki.ca})
			c := front.Client()
			tr := c.Transport.(*http.Transport)
			if tc.present {
				tr.TLSClientConfig.Certificates = []tls.Certificate{pki.client}
			}
			c.Timeout = wait
			_, s := doSeen(t, c, newRequest(t, "GET", front.URL+"/me", nil))
			if got := s.Header.Get("X-Forwarded-Proto"); got != "https" {
				t.Errorf("upstream got X-Forwarded-Proto %q, want https", got)
			}
			if x := rec.next(t); !reflect.DeepEqual(x.ClientCert, tc.want) {
				t.Errorf("ClientCert = %+v, want %+v", x.ClientCert, tc.want)
			}
		})
	}
	t.Run("plain HTTP", func(t *testing.T) {
		rec := newRecorder(Interest{Record: true})
		front := newFront(t, up.URL, Config{Observer: rec})
		doSeen(t, newClient(t), newRequest(t, "GET", front.URL+"/me", nil))
		if x := rec.next(t); x.ClientCert != nil {
			t.Errorf("ClientCert = %+v, want nil", x.ClientCert)
		}
	})
}

func TestSerialHex(t *testing.T) {
	for _, tc := range []struct {
		n    *big.Int
		want string
	}{
		{nil, ""},
		{big.NewInt(0), "00"},
		{big.NewInt(1), "01"},
		{big.NewInt(255), "FF"},
		{big.NewInt(256), "0100"},
		{big.NewInt(0x0a1b2c), "0A1B2C"},
		{big.NewInt(-1), "-01"},
		{new(big.Int).Lsh(big.NewInt(1), 159), "80" + "00000000000000000000000000000000000000"},
	} {
		if got := serialHex(tc.n); got != tc.want {
			t.Errorf("serialHex(%v) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
