package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// syslogNGConf writes down what syslog-ng parsed out of every message it
// receives on the sources, one SyslogRecord (JSON) per line; the
// readiness probes go to a file of their own. There is no internal()
// source: syslog-ng's own messages go to its stderr, the log.
//
// It needs nothing of the system's: no system() source, no /dev/log, no
// scl.conf, no root. keep-hostname and keep-timestamp: the record shows
// the message's header fields, not the sender's address or the time of
// arrival; frac-digits(6): the microseconds RFC 5424 timestamps carry.
const syslogNGConf = `@version: {{version}}
options {
	keep-hostname(yes); keep-timestamp(yes); chain-hostnames(no);
	use-dns(no); dns-cache(no); use-fqdn(no);
	ts-format(iso); frac-digits(6);
	log-msg-size(65536); stats-freq(0); create-dirs(no);
};
source s_net {
{{sources}}
};
destination d_probes { file("{{probes}}" template("${RAWMSG}\n")); };
destination d_out {
	file("{{out}}" template("$(format-json --scope none
		pri=${PRI} time=${ISODATE} host=${HOST} program=${PROGRAM} pid=${PID} msgid=${MSGID}
		sdata=${SDATA} msg=${MSG} raw=${RAWMSG}
		--key .SDATA.* --rekey .SDATA.* --replace-prefix .SDATA.=params.)\n"));
};
log { source(s_net); filter { program("testserver-probe" type(string)); }; destination(d_probes); flags(final); };
log { source(s_net); destination(d_out); };
`

// syslogNGUnpacked is where .ci/run unpacks syslog-ng-core when rsyslog is
// installed: the two Debian packages conflict (both provide
// system-log-daemon), and the tests want both daemons.
const syslogNGUnpacked = "/opt/syslog-ng-core"

// StartSyslogNG starts syslog-ng (Debian package syslog-ng-core) listening
// on loopback with its syslog() driver over TCP (octet-counted, RFC 6587
// 3.4.1) and UDP (RFC 5426), and returns its addresses ("127.0.0.1:port")
// and the file it writes what it parsed to, one SyslogRecord per line
// (read it with WaitForSyslogRecords).
//
// It runs as whoever runs the test, with its configuration, persist file,
// pid file and control socket in t.TempDir(). It returns once syslog-ng has
// written a probe sent over each transport; it is stopped when the test
// ends.
func StartSyslogNG(t testing.TB) (addrTCP, addrUDP, outFile string) {
	t.Helper()
	tcpPort, udpPort := FreePort(t, "tcp"), FreePort(t, "udp")
	addrTCP, addrUDP = hostPort(tcpPort), hostPort(udpPort)
	sources := fmt.Sprintf(`	syslog(ip("127.0.0.1") port(%d) transport("tcp") flags(store-raw-message));
	syslog(ip("127.0.0.1") port(%d) transport("udp") flags(store-raw-message));`, tcpPort, udpPort)
	outFile = startSyslogNG(t, sources, map[string]func(msg string) error{
		"tcp": func(msg string) error { return sendProbe("tcp", addrTCP, nil, msg) },
		"udp": func(msg string) error { return sendProbe("udp", addrUDP, nil, msg) },
	})
	return addrTCP, addrUDP, outFile
}

// StartSyslogNGTLS starts syslog-ng listening for syslog over TLS (RFC
// 5425) on loopback with the server certificate of certs, neither asking
// for nor checking a client certificate (peer-verify(optional-untrusted):
// checking one would need the CA in a ca-dir under its hash name). TLS is
// part of syslog-ng-core.
func StartSyslogNGTLS(t testing.TB, certs *Certs) (addrTLS, outFile string) {
	t.Helper()
	port := FreePort(t, "tcp")
	addrTLS = hostPort(port)
	sources := fmt.Sprintf(`	syslog(ip("127.0.0.1") port(%d) transport("tls") flags(store-raw-message)
		tls(key-file(%q) cert-file(%q) peer-verify(optional-untrusted)));`,
		port, certs.ServerKey, certs.ServerCert)
	roots := certPool(t, certs.CAFile)
	outFile = startSyslogNG(t, sources, map[string]func(msg string) error{
		"tls": func(msg string) error { return sendProbe("tcp", addrTLS, tlsClient(roots), msg) },
	})
	return addrTLS, outFile
}

// startSyslogNG runs syslog-ng with the given sources and waits until a
// probe sent by each of probes has arrived.
func startSyslogNG(t testing.TB, sources string, probes map[string]func(msg string) error) (outFile string) {
	t.Helper()
	ng := findSyslogNG(t)
	dir := t.TempDir()
	outFile = filepath.Join(dir, "received.log")
	probeFile := filepath.Join(dir, "probes.log")
	conf := strings.NewReplacer("{{version}}", ng.configVersion, "{{sources}}", sources,
		"{{probes}}", probeFile, "{{out}}", outFile).Replace(syslogNGConf)
	confPath := filepath.Join(dir, "syslog-ng.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// -F: stay in the foreground, so that the process we started is the
	// daemon; -e: its messages to stderr, the log. Its state goes to the
	// temp dir, not /var/lib/syslog-ng, so that a system syslog-ng (or
	// another test's) is not in the way and no root is needed; --no-caps:
	// do not try to keep or drop capabilities.
	args := append(ng.args, "-F", "-e", "--no-caps", "-f", confPath,
		"-R", filepath.Join(dir, "syslog-ng.persist"),
		"-p", filepath.Join(dir, "syslog-ng.pid"),
		"-c", filepath.Join(dir, "syslog-ng.ctl"))
	p := startProcessEnv(t, "syslog-ng", ng.bin, filepath.Join(dir, "syslog-ng.log"), ng.env, args...)
	t.Cleanup(func() { p.stop(t) })
	waitForProbes(t, p, probeFile, probes)
	return outFile
}

// syslogNG is how to run the syslog-ng found on this machine.
type syslogNG struct {
	bin           string
	args          []string // --module-path
	env           []string // LD_LIBRARY_PATH for an unpacked package
	configVersion string   // for @version
}

// findSyslogNG finds syslog-ng: on PATH, in /usr/sbin, or unpacked in
// syslogNGUnpacked; its modules beside it, in <root>/usr/lib/syslog-ng/<version>.
// It skips the test when there is none (fails under CI=true).
func findSyslogNG(t testing.TB) *syslogNG {
	t.Helper()
	var ng syslogNG
	if path, err := exec.LookPath("syslog-ng"); err == nil {
		ng.bin = path
	} else {
		for _, p := range []string{"/usr/sbin/syslog-ng", syslogNGUnpacked + "/usr/sbin/syslog-ng"} {
			if isExecutable(p) {
				ng.bin = p
				break
			}
		}
	}
	if ng.bin == "" {
		missing(t, "syslog-ng not found: apt-get install syslog-ng-core, or, since that package removes rsyslog, "+
			"unpack it into "+syslogNGUnpacked+" as .ci/run does")
	}
	// The module path and private libraries are compiled in as
	// /usr/lib/syslog-ng; an unpacked package has them under its root.
	if root, ok := strings.CutSuffix(ng.bin, "/usr/sbin/syslog-ng"); ok {
		if root != "" {
			ng.env = []string{"LD_LIBRARY_PATH=" + filepath.Join(root, "usr/lib/syslog-ng")}
		}
		if m, _ := filepath.Glob(filepath.Join("/", root, "usr/lib/syslog-ng/*/libafsocket.so")); len(m) > 0 {
			ng.args = []string{"--module-path=" + filepath.Dir(m[0])}
		}
	}
	cmd := exec.Command(ng.bin, append(ng.args, "--version")...)
	cmd.Env = append(os.Environ(), ng.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", ng.bin, err, out)
	}
	v := regexp.MustCompile(`(?m)^Config version: (\S+)`).FindSubmatch(out)
	if v == nil {
		t.Fatalf("%s --version: no config version in\n%s", ng.bin, out)
	}
	ng.configVersion = string(v[1])
	return &ng
}
