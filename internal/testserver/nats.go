package testserver

import (
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// StartNATS starts nats-server (Debian package nats-server) with JetStream
// on a free loopback port, its store in t.TempDir(), and returns its
// client URL. args are added to the command line, e.g. "--auth", "token"
// or "--tls", "--tlscert", file, "--tlskey", file. stop ends the server (SIGTERM; JetStream data stays on
// disk); restart starts it again on the same port with the same store,
// stopping it first if it runs. Both return once the server is down or
// ready; both may be called any number of times. The server is stopped
// when the test ends.
func StartNATS(t testing.TB, args ...string) (url string, stop, restart func()) {
	t.Helper()
	bin := need(t, "nats-server", "nats-server")
	dir := t.TempDir()
	port, monitor := FreePort(t, "tcp"), FreePort(t, "tcp")
	url = "nats://" + hostPort(port)
	args = append([]string{
		"-a", "127.0.0.1", "-p", fmt.Sprint(port),
		"-m", fmt.Sprint(monitor), // for /healthz
		"-js", "-sd", filepath.Join(dir, "store"),
		"--server_name", "testserver",
	}, args...)
	health := "http://" + hostPort(monitor) + "/healthz"
	client := &http.Client{Timeout: time.Second}

	var (
		mu  sync.Mutex
		cur *process // nil while stopped
	)
	stop = func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			cur.stop(t)
			cur = nil
		}
	}
	restart = func() {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if cur != nil {
			cur.stop(t)
		}
		cur = startProcess(t, "nats-server", bin, filepath.Join(dir, "nats-server.log"), args...)
		// /healthz answers 200 only once JetStream is up, not merely the
		// client port.
		cur.waitReady(t, func() error {
			resp, err := client.Get(health)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", health, resp.Status)
			}
			return nil
		})
	}
	t.Cleanup(stop)
	restart()
	return url, stop, restart
}
