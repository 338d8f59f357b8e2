//go:build linux

package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The real binary, built once for the whole run (see binary).
var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the binary afterwards and fails the run when goroutines
// outlive the tests: every server, load worker and process watcher must
// have been stopped.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	if code == 0 && !settled(before, 5*time.Second) {
		fmt.Fprintf(os.Stderr, "goroutines left after the tests: %d, at the start %d\n", runtime.NumGoroutine(), before)
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		code = 1
	}
	os.Exit(code)
}

// settled waits for the goroutine count to fall back to n.
func settled(n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// binary builds ./cmd/auditproxy once. Never with -race, even when the
// tests run with it: the subprocess is what is under test, and it must be
// fast enough to be killed in the middle of real work.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			build.err = err
			return
		}
		if build.dir, err = os.MkdirTemp("", "auditproxy-chaos-"); err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(build.dir, "auditproxy")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/auditproxy")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build ./cmd/auditproxy: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Skipf("cannot build the auditproxy binary: %v", build.err)
	}
	return build.bin
}

// moduleRoot walks up from the working directory to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freeAddr returns a loopback address nobody listens on. The proxy and the
// collector keep theirs across restarts, so it cannot be ":0" each time.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// seed is the random seed of the kill and outage schedule: CHAOS_SEED to
// replay a run, else the clock. It is logged either way.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (CHAOS_SEED=%d replays this schedule)", s, s)
	return s
}

// between is a random duration in [lo, hi).
func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// lockedBuffer collects a subprocess's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// options shape one test's proxy and collector.
type options struct {
	rules        string // file in testdata
	whenFull     string // the output's when_full; "" = the default
	maxBytes     string // the disk buffer's max_bytes; "" = the default
	bufferDir    string // the disk buffer's dir; "" = under the data dir
	admin        bool   // start the admin listener (metrics)
	rejectSuffix string // see collector.rejectSuffix
}

// env is one test's world: upstream, collector, the config the proxy runs
// with, and every proxy process started so far.
type env struct {
	t       *testing.T
	bin     string
	dir     string
	config  string
	proxy   string // the proxy's URL, the same across restarts
	admin   string // the admin listener's address; "" = off
	dead    string // the output's dead-letter file
	up      *upstream
	col     *collector
	client  *http.Client // for requests one at a time, and metrics
	started time.Time
	runs    []*process
}

// output is the name of the one output; it names the buffer and the
// dead-letter file too.
const output = "collector"

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{t: t, bin: binary(t), dir: t.TempDir(), up: newUpstream(t), col: newCollector(t, o.rejectSuffix),
		client: newClient(), started: time.Now()}
	t.Cleanup(e.client.CloseIdleConnections)
	e.proxy = "http://" + freeAddr(t)
	dataDir := filepath.Join(e.dir, "data")
	e.dead = filepath.Join(dataDir, "dead", output+".jsonl")
	rules, err := filepath.Abs(filepath.Join("testdata", o.rules))
	if err != nil {
		t.Fatal(err)
	}
	// fsync: always is the policy the tests prove. A SIGKILL does not
	// drop the page cache, so interval would survive it as well; a power
	// cut, which only always survives, is not simulated here.
	buffer := "{type: disk, fsync: always"
	if o.maxBytes != "" {
		buffer += ", max_bytes: " + o.maxBytes
	}
	if o.bufferDir != "" {
		buffer += ", dir: " + strconv.Quote(o.bufferDir)
	}
	buffer += "}"
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "listen: %s\n", strings.TrimPrefix(e.proxy, "http://"))
	fmt.Fprintf(&cfg, "upstream: %s\n", e.up.URL)
	fmt.Fprintf(&cfg, "rules: %q\n", rules)
	fmt.Fprintf(&cfg, "data_dir: %q\n", dataDir)
	fmt.Fprintf(&cfg, "shutdown_timeout: 10s\n")
	fmt.Fprintf(&cfg, "upstream_timeout: 5s\n")
	if o.admin {
		e.admin = freeAddr(t)
		fmt.Fprintf(&cfg, "admin: %s\n", e.admin)
	}
	fmt.Fprintf(&cfg, "outputs:\n")
	fmt.Fprintf(&cfg, "  - name: %s\n", output)
	fmt.Fprintf(&cfg, "    type: http\n")
	fmt.Fprintf(&cfg, "    url: %s\n", e.col.url())
	fmt.Fprintf(&cfg, "    timeout: 5s\n")
	fmt.Fprintf(&cfg, "    buffer: %s\n", buffer)
	fmt.Fprintf(&cfg, "    retry: {initial: 50ms, max: 500ms}\n")
	if o.whenFull != "" {
		fmt.Fprintf(&cfg, "    when_full: %s\n", o.whenFull)
	}
	e.config = filepath.Join(e.dir, "auditproxy.yaml")
	if err := os.WriteFile(e.config, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			e.dumpLogs()
		}
	})
	return e
}

// logf logs with the time since the test started, so that kills, outages
// and results line up.
func (e *env) logf(format string, args ...any) {
	e.t.Logf("%6.2fs "+format, append([]any{time.Since(e.started).Seconds()}, args...)...)
}

// process is one run of the proxy binary.
type process struct {
	cmd  *exec.Cmd
	logs *lockedBuffer // stdout and stderr: a pipe, which no file size limit applies to
	done chan struct{} // closed once the process has exited and was reaped
	err  error         // Wait's result, once done
}

// start runs the proxy and waits until it serves. It is killed at the end
// of the test if still running.
func (e *env) start() *process {
	e.t.Helper()
	p, err := e.spawn()
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.logs.String(), `"message":"auditproxy serving"`) {
		select {
		case <-p.done:
			e.t.Fatalf("auditproxy exited before serving (%v):\n%s", p.err, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("auditproxy not serving after 15s:\n%s", p.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

// spawn starts the process without waiting for it to serve.
func (e *env) spawn() (*process, error) {
	p := &process{cmd: exec.Command(e.bin, "run", "--config", e.config), logs: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	// Its own process group, so that a kill takes whatever it started.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting auditproxy: %w", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	e.runs = append(e.runs, p)
	e.t.Cleanup(func() { p.kill() })
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process group and waits for the process to be reaped.
func (p *process) kill() error {
	if p.exited() {
		return nil // its group id may belong to someone else by now
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("auditproxy still running 10s after SIGKILL")
	}
}

// terminate asks for a graceful shutdown (SIGTERM) and waits for the exit,
// killing the process when it takes longer than wait.
func (p *process) terminate(wait time.Duration) error {
	if p.exited() {
		return fmt.Errorf("auditproxy had already exited: %v", p.err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(wait):
		p.kill()
		return fmt.Errorf("auditproxy still running %v after SIGTERM", wait)
	}
}

// logLines returns the process's JSON log lines whose message contains msg.
func (p *process) logLines(msg string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if s, _ := m["message"].(string); strings.Contains(s, msg) {
			out = append(out, m)
		}
	}
	return out
}

// dumpLogs shows the end of every run's log, for a failed test.
func (e *env) dumpLogs() {
	for i, p := range e.runs {
		s := p.logs.String()
		if len(s) > 4000 {
			s = "...\n" + s[len(s)-4000:]
		}
		e.t.Logf("auditproxy run %d log:\n%s", i+1, s)
	}
}
