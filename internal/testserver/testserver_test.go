package testserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// syslogDaemons are the syslog daemons this package starts, with what
// each writes for a NILVALUE.
var syslogDaemons = []struct {
	name     string
	start    func(testing.TB) (addrTCP, addrUDP, outFile string)
	startTLS func(testing.TB, *Certs) (addrTLS, outFile string)
	nil      string
}{
	{"rsyslog", StartRsyslog, StartRsyslogTLS, "-"},
	{"syslog-ng", StartSyslogNG, StartSyslogNGTLS, ""},
}

func TestSyslogDaemonsParse(t *testing.T) {
	for _, d := range syslogDaemons {
		t.Run(d.name, func(t *testing.T) {
			addrTCP, addrUDP, out := d.start(t)
			certs := NewCerts(t)
			addrTLS, outTLS := d.startTLS(t, certs)
			msgs := map[string]string{
				"tcp": `<134>1 2026-01-02T03:04:05.000006Z host app 1 via-tcp [x@32473 a="b\"c\]d"] hello` + "\nworld",
				"udp": `<134>1 2026-01-02T03:04:05.000006Z host app 1 via-udp - hello`,
				"tls": `<134>1 2026-01-02T03:04:05.000006Z host app 1 via-tls [x@32473 a="b"] hello`,
			}
			for transport, addr := range map[string]string{"tcp": addrTCP, "udp": addrUDP} {
				if err := sendProbe(transport, addr, nil, msgs[transport]); err != nil {
					t.Fatal(err)
				}
			}
			if err := sendProbe("tcp", addrTLS, tlsClient(certPool(t, certs.CAFile)), msgs["tls"]); err != nil {
				t.Fatal(err)
			}
			recs := append(WaitForSyslogRecords(t, out, 2, 10*time.Second), WaitForSyslogRecords(t, outTLS, 1, 10*time.Second)...)
			if len(recs) != 3 {
				t.Fatalf("%d records, want 3: %+v", len(recs), recs)
			}
			got := map[string]SyslogRecord{}
			for _, r := range recs {
				got[r.MsgID] = r
				if strings.Contains(r.Raw, "probe") {
					t.Errorf("probe in the output file: %+v", r)
				}
			}
			for transport, raw := range msgs {
				r, ok := got["via-"+transport]
				if !ok {
					t.Errorf("%s message not written; records %+v", transport, recs)
					continue
				}
				wantSD, wantMsg := `[x@32473 a="b\"c\]d"]`, "hello\nworld"
				switch transport {
				case "udp":
					wantSD, wantMsg = d.nil, "hello"
				case "tls":
					wantSD, wantMsg = `[x@32473 a="b"]`, "hello"
				}
				want := SyslogRecord{PRI: "134", Host: "host", Program: "app", PID: "1", MsgID: "via-" + transport,
					SData: wantSD, Msg: wantMsg, Raw: raw}
				tm, err := time.Parse(time.RFC3339Nano, r.Time)
				if err != nil || !tm.Equal(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)) {
					t.Errorf("%s: time %q", transport, r.Time)
				}
				r.Time, r.Params = "", nil
				if !reflect.DeepEqual(r, want) {
					t.Errorf("%s: record\n got %+v\nwant %+v", transport, r, want)
				}
			}
			if d.name == "syslog-ng" {
				if p := got["via-tcp"].Params; p["x@32473"]["a"] != `b"c]d` {
					t.Errorf("params %q, want x@32473 a=%q", p, `b"c]d`)
				}
			}
		})
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
