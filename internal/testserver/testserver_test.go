package testserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRsyslogWritesWhatArrives(t *testing.T) {
	addrTCP, addrUDP, out := StartRsyslog(t)
	msgs := map[string]string{
		"tcp": `<134>1 2026-01-02T03:04:05.000006Z host app 1 via-tcp [x@32473 a="b\"c"] hello`,
		"udp": `<134>1 2026-01-02T03:04:05.000006Z host app 1 via-udp - hello`,
	}
	for transport, addr := range map[string]string{"tcp": addrTCP, "udp": addrUDP} {
		c, err := net.DialTimeout(transport, addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		msg := msgs[transport]
		if transport == "tcp" {
			msg = fmt.Sprintf("%d %s", len(msg), msg)
		}
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	lines := WaitForLines(t, out, 2, 10*time.Second)
	for transport, want := range msgs {
		found := false
		for _, l := range lines {
			found = found || l == want
		}
		if !found {
			t.Errorf("%s message %q not in %q", transport, want, lines)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "probe") {
			t.Errorf("probe in the output file: %q", l)
		}
	}
}

func TestNATSStopRestart(t *testing.T) {
	url, stop, restart := StartNATS(t)
	addr := strings.TrimPrefix(url, "nats://")
	info := func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 4)
		if _, err := c.Read(b); err != nil {
			return err
		}
		if string(b) != "INFO" {
			return fmt.Errorf("server said %q, want INFO", b)
		}
		return nil
	}
	if err := info(); err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // twice is fine
	if err := info(); err == nil {
		t.Fatal("server still answers after stop")
	}
	restart()
	if err := info(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestCerts(t *testing.T) {
	c := NewCerts(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", c.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err == nil {
			conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	ca, err := os.ReadFile(c.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	pair, err := tls.LoadX509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(),
		&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func TestRsyslogTLS(t *testing.T) {
	certs := NewCerts(t)
	addr, out := StartRsyslogTLS(t, certs)
	ca, err := os.ReadFile(certs.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	msg := `<134>1 2026-01-02T03:04:05.000006Z host app 1 via-tls [x@32473 a="b\]c"] hello`
	if err := sendProbe("tcp", addr, &tls.Config{RootCAs: roots}, msg); err != nil {
		t.Fatal(err)
	}
	if lines := WaitForLines(t, out, 1, 10*time.Second); lines[0] != msg {
		t.Errorf("rsyslog wrote %q, want %q", lines[0], msg)
	}
}
