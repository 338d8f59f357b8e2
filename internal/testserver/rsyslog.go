package testserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rsyslogConf writes down what rsyslog parsed out of every message it
// receives on the inputs, one SyslogRecord (JSON) per line. rsyslog's own
// messages and the readiness probes go elsewhere, so the output file
// holds only what the test sent.
//
// maxMessageSize is raised from rsyslog's 8 KiB default so that tests of
// large messages see what the sink sent, not rsyslog's cut. Control
// characters are kept as they arrive (rsyslog would write a newline as
// "#012"); the JSON of the record escapes them.
const rsyslogConf = `global(workDirectory="{{dir}}" maxMessageSize="64k" parser.escapeControlCharactersOnReceive="off")
{{inputs}}
template(name="raw" type="string" string="%rawmsg%\n")
template(name="parsed" type="list" option.jsonf="on") {
	property(outname="pri" name="pri" format="jsonf")
	property(outname="time" name="timereported" dateFormat="rfc3339" format="jsonf")
	property(outname="host" name="hostname" format="jsonf")
	property(outname="program" name="app-name" format="jsonf")
	property(outname="pid" name="procid" format="jsonf")
	property(outname="msgid" name="msgid" format="jsonf")
	property(outname="sdata" name="structured-data" format="jsonf")
	property(outname="msg" name="msg" format="jsonf")
	property(outname="raw" name="rawmsg" format="jsonf")
}
if $app-name == "testserver-probe" then {
	action(type="omfile" file="{{probes}}" template="raw")
	stop
}
if $inputname == "imtcp" or $inputname == "imudp" then {
	action(type="omfile" file="{{out}}" template="parsed")
}
`

// StartRsyslog starts rsyslogd (Debian package rsyslog) listening on
// loopback over TCP (octet-counted or newline-framed, RFC 6587) and UDP
// (RFC 5426), and returns its addresses ("127.0.0.1:port") and the file it
// writes what it parsed to, one SyslogRecord per line (read it with
// WaitForSyslogRecords).
//
// It returns once rsyslog has written a probe sent over each transport;
// rsyslog is stopped when the test ends.
func StartRsyslog(t testing.TB) (addrTCP, addrUDP, outFile string) {
	t.Helper()
	bin := need(t, "rsyslogd", "rsyslog")
	tcpPort, udpPort := FreePort(t, "tcp"), FreePort(t, "udp")
	addrTCP, addrUDP = hostPort(tcpPort), hostPort(udpPort)
	inputs := fmt.Sprintf(`module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="%d")
input(type="imudp" address="127.0.0.1" port="%d")`, tcpPort, udpPort)
	outFile = startRsyslog(t, bin, inputs, map[string]func(msg string) error{
		"tcp": func(msg string) error { return sendProbe("tcp", addrTCP, nil, msg) },
		"udp": func(msg string) error { return sendProbe("udp", addrUDP, nil, msg) },
	})
	return addrTCP, addrUDP, outFile
}

// StartRsyslogTLS starts rsyslogd listening for syslog over TLS (RFC 5425)
// on loopback with the server certificate of certs, without asking for a
// client certificate. It needs the gtls driver (Debian package
// rsyslog-gnutls) besides rsyslog.
func StartRsyslogTLS(t testing.TB, certs *Certs) (addrTLS, outFile string) {
	t.Helper()
	bin := need(t, "rsyslogd", "rsyslog")
	if m, _ := filepath.Glob("/usr/lib/*/rsyslog/lmnsd_gtls.so"); len(m) == 0 {
		missing(t, "rsyslog's gtls driver not found: apt-get install rsyslog-gnutls")
	}
	port := FreePort(t, "tcp")
	addrTLS = hostPort(port)
	inputs := fmt.Sprintf(`module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="%d"
	streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
	streamDriver.CAFile=%q streamDriver.CertFile=%q streamDriver.KeyFile=%q)`,
		port, certs.CAFile, certs.ServerCert, certs.ServerKey)
	roots := certPool(t, certs.CAFile)
	outFile = startRsyslog(t, bin, inputs, map[string]func(msg string) error{
		"tls": func(msg string) error { return sendProbe("tcp", addrTLS, tlsClient(roots), msg) },
	})
	return addrTLS, outFile
}

// startRsyslog runs rsyslogd with the given inputs and waits until a probe
// sent by each of probes has arrived.
func startRsyslog(t testing.TB, bin, inputs string, probes map[string]func(msg string) error) (outFile string) {
	t.Helper()
	dir := t.TempDir()
	outFile = filepath.Join(dir, "received.log")
	probeFile := filepath.Join(dir, "probes.log")
	conf := strings.NewReplacer("{{dir}}", dir, "{{inputs}}", inputs, "{{probes}}", probeFile, "{{out}}", outFile).Replace(rsyslogConf)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// -n: stay in the foreground, so that the process we started is the
	// daemon; -i: our own pid file, so that a system rsyslog (or another
	// test's) is not in the way.
	p := startProcess(t, "rsyslogd", bin, filepath.Join(dir, "rsyslogd.log"),
		"-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	t.Cleanup(func() { p.stop(t) })

	waitForProbes(t, p, probeFile, probes)
	return outFile
}

// waitForProbes waits until a syslog daemon has written a probe sent by
// each of probes to probeFile, sending again what has not arrived: ready
// means messages go all the way through, on every input. A listening
// socket alone does not say the rest of the daemon is running.
func waitForProbes(t testing.TB, p *process, probeFile string, probes map[string]func(msg string) error) {
	t.Helper()
	p.waitReady(t, func() error {
		var missing []string
		for name, send := range probes {
			msg := "<14>1 - - testserver-probe - probe-" + name + " -"
			if !strings.Contains(string(readFile(probeFile)), msg) {
				missing = append(missing, name)
				if err := send(msg); err != nil {
					missing[len(missing)-1] += " (" + err.Error() + ")"
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no probe received over %s", strings.Join(missing, ", "))
		}
		return nil
	})
}

// certPool is a pool of the certificates in the PEM file at path.
func certPool(t testing.TB, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificates", path)
	}
	return pool
}

// tlsClient is a client config that trusts roots.
func tlsClient(roots *x509.CertPool) *tls.Config { return &tls.Config{RootCAs: roots} }

// sendProbe sends one message over transport, octet-counted over TCP
// (RFC 6587 3.4.1) and TLS when tlsConfig is set. The caller looks for the
// probe's arrival; the error only explains why it may not come.
func sendProbe(transport, addr string, tlsConfig *tls.Config, msg string) error {
	d := &net.Dialer{Timeout: time.Second}
	var (
		c   net.Conn
		err error
	)
	if tlsConfig != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsConfig)
	} else {
		c, err = d.Dial(transport, addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(time.Second))
	if transport == "tcp" {
		msg = fmt.Sprintf("%d %s", len(msg), msg)
	}
	_, err = c.Write([]byte(msg))
	return err
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
