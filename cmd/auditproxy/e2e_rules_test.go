package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBeforeGivesFromValues: a PUT with before: fetches the old state with
// the client's credentials, and the event carries from -> to for the
// fields that changed only.
func TestBeforeGivesFromValues(t *testing.T) {
	var sawAuth string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "GET":
			sawAuth = r.Header.Get("Authorization")
			io.WriteString(w, `{"email":"old@example.com","role":"user","name":"Bob"}`)
		case "PUT":
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	defer up.Close()
	h := startProxy(t, up.URL, `version: 1
rules:
  - name: user-updated
    match: {method: PUT, path: "/users/{id}", status: 2xx}
    before: "/users/{path.id}"
    action: user.updated
    target: {type: user, id: path.id}
    changes: {all: true}
`, nil)
	resp, _ := do(t, "PUT", h.URL+"/users/7", `{"email":"new@example.com","role":"user","name":"Bob","password":"pw"}`,
		map[string]string{"Authorization": "Bearer " + aliceJWT})
	if resp.StatusCode != 200 {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	evs := h.events()
	if len(evs) != 1 {
		t.Fatalf("events = %v", evs)
	}
	ch, _ := json.Marshal(evs[0]["changes"])
	want := `{"email":{"from":"old@example.com","to":"new@example.com"},"password":{"from":null,"to":"[FILTERED]"}}`
	if string(ch) != want {
		t.Errorf("changes = %s\nwant      %s", ch, want)
	}
	if sawAuth != "Bearer "+aliceJWT {
		t.Errorf("pre-fetch sent Authorization %q, want the client's", sawAuth)
	}
}

// TestSlashRedirectYieldsOneEvent: POST /users answered 308 -> /users/,
// the client repeats it there: one activity, one event.
func TestSlashRedirectYieldsOneEvent(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/users" {
			http.Redirect(w, r, "/users/", http.StatusPermanentRedirect)
			return
		}
		w.WriteHeader(201)
		io.WriteString(w, `{"id":9}`)
	}))
	defer up.Close()
	h := startProxy(t, up.URL, `version: 1
rules:
  - name: user-created
    match: {method: POST, path: /users, trailing_slash: true}
    action: user.created
    target: {id: response.body.id}
`, nil)
	resp, _ := do(t, "POST", h.URL+"/users", `{"email":"x@example.com"}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("client got %d after following the redirect, want 201", resp.StatusCode)
	}
	evs := h.events()
	if len(evs) != 1 || evs[0]["http"].(map[string]any)["status"] != float64(201) {
		t.Fatalf("events = %v, want one, for the 201", evs)
	}
}

// TestMutualTLSActor: a client certificate verified by the listener names
// the actor.
func TestMutualTLSActor(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "Test CA", true)
	srv, srvKey := newCert(t, ca, caKey, "127.0.0.1", false)
	cli, cliKey := newCert(t, ca, caKey, "alice", false)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	writePEM(t, filepath.Join(dir, "srv.pem"), "CERTIFICATE", srv.Raw)
	writeKey(t, filepath.Join(dir, "srv.key"), srvKey)

	up := issueUpstream(t)
	h := startProxy(t, up.URL, `version: 1
rules:
  - name: login
    match: {method: POST, path: /login}
    action: user.login_attempt
    actor: {name: [tls.cn, request.body.username], id: tls.serial}
`, func(c *config) {
		c.TLSCert, c.TLSKey, c.ClientCA = filepath.Join(dir, "srv.pem"), filepath.Join(dir, "srv.key"), filepath.Join(dir, "ca.pem")
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cli.Raw}, PrivateKey: cliKey}},
	}}}
	url := strings.Replace(h.URL, "http://", "https://", 1) + "/login"
	resp, err := client.Post(url, "application/json", strings.NewReader(`{"username":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Without a certificate: no tls.cn, the body's name is the fallback.
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = anon.Post(url, "application/json", strings.NewReader(`{"username":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	evs := h.events()
	if len(evs) != 2 {
		t.Fatalf("events = %v", evs)
	}
	if a := evs[0]["actor"].(map[string]any); a["name"] != "alice" || a["id"] == nil {
		t.Errorf("with a client certificate: actor = %v, want alice with the serial as id", a)
	}
	if a := evs[1]["actor"].(map[string]any); a["name"] != "bob" {
		t.Errorf("without: actor = %v, want bob from the body", a)
	}
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"auditproxy tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}
