package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoCommand runs the README's first command as a user would (minus
// the fixed ports) and sees a failed login become an event on stdout.
func TestDemoCommand(t *testing.T) {
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- runMain([]string{"demo", "--listen", "127.0.0.1:0", "--admin", "", "--rules", "../../rules.yaml"}, outW, errW)
		outW.Close()
		errW.Close()
	}()
	proxyURL := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`through the proxy \(audited\): +(http://\S+)`)
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				proxyURL <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-proxyURL:
	case <-time.After(20 * time.Second):
		t.Fatal("the demo never printed its URL")
	}
	resp, err := http.Post(url+"/login", "application/json", strings.NewReader(`{"username":"alice@example.com","password":"nope"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		if sc.Scan() {
			line <- sc.Text()
		}
		io.Copy(io.Discard, outR)
	}()
	select {
	case l := <-line:
		if !strings.Contains(l, `"action":"user.login_failed"`) || !strings.Contains(l, `"actor":{"name":"alice@example.com"}`) {
			t.Errorf("first event: %s", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no event on stdout")
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM) // the demo's own signal handler takes it
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop on SIGTERM")
	}
}
