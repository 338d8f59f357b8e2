// Package testserver starts real collectors for the tests of output sinks:
// rsyslog, syslog-ng and nats-server from their Debian packages, each on free loopback
// ports with its configuration and data in t.TempDir(), stopped in
// t.Cleanup. Every wait is bounded.
//
// When a binary is missing the test is skipped with the package to install,
// except under CI=true, where it fails: CI installs the packages (.ci/run),
// so a skip there would hide tests that never ran.
package testserver

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to become ready.
const startTimeout = 15 * time.Second

// need returns the path of binary, or skips the test naming the Debian
// package that provides it (fails under CI=true).
func need(t testing.TB, binary, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(binary)
	if err == nil {
		return path
	}
	// Debian puts daemons in /usr/sbin, which is not on every PATH.
	if p := filepath.Join("/usr/sbin", binary); isExecutable(p) {
		return p
	}
	missing(t, fmt.Sprintf("%s not found: apt-get install %s", binary, pkg))
	return ""
}

// missing skips the test for want of something to install, or fails it
// under CI=true.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: .ci/run should have installed it)")
	}
	t.Skip(msg)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// FreePort returns a loopback port that was free a moment ago on network
// "tcp" or "udp". Another process may take it before the server binds it;
// on loopback in a test that is rare enough.
func FreePort(t testing.TB, network string) int {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free tcp port: %v", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free udp port: %v", err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	t.Fatalf("FreePort: network %q is not tcp or udp", network)
	return 0
}

// process is a started server binary whose output goes to a log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process has exited
}

// startProcess runs binary with args, stdout and stderr to logPath.
func startProcess(t testing.TB, name, binary, logPath string, args ...string) *process {
	t.Helper()
	return startProcessEnv(t, name, binary, logPath, nil, args...)
}

// startProcessEnv is startProcess with env added to the test's environment.
func startProcessEnv(t testing.TB, name, binary, logPath string, env []string, args ...string) *process {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	cmd := exec.Command(binary, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL after 10 s. It returns
// once the process is gone.
func (p *process) stop(t testing.TB) {
	t.Helper()
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(10 * time.Second):
	}
	t.Logf("%s did not stop on SIGTERM within 10s; killing it", p.name)
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Errorf("%s (pid %d) survived SIGKILL for 5s", p.name, p.cmd.Process.Pid)
	}
}

// logTail returns the end of the process's log, for failure messages.
func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitReady polls ready until it returns nil, the process exits, or
// startTimeout passes; the last two fail the test with the server's log.
func (p *process) waitReady(t testing.TB, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		if p.exited() {
			t.Fatalf("%s exited before it was ready (%v); its log:\n%s", p.name, err, p.logTail())
		}
		if time.Now().After(deadline) {
			p.stop(t)
			t.Fatalf("%s not ready after %v: %v; its log:\n%s", p.name, startTimeout, err, p.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitForLines waits until the file at path holds at least n complete
// lines and returns all its complete lines (without their newlines). It
// fails the test after timeout, showing what the file held.
func WaitForLines(t testing.TB, path string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lines := readLines(path)
		if len(lines) >= n {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines after %v, want %d; it holds:\n%s", path, len(lines), timeout, n, bytes.Join(toBytes(lines), []byte("\n")))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readLines returns the complete lines of a file; a missing file has none.
func readLines(path string) []string {
	b, _ := os.ReadFile(path)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		return nil
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func toBytes(ss []string) [][]byte {
	bs := make([][]byte, len(ss))
	for i, s := range ss {
		bs[i] = []byte(s)
	}
	return bs
}

// hostPort is "127.0.0.1:port".
func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
