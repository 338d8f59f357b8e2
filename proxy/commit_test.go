package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// committer is a recorder that can also commit, failing when told to.
type committer struct {
	*recorder
	mu        sync.Mutex
	committed []*event.Exchange
	fail      bool
	// released is closed by the test to let Commit return, so a test can
	// check that nothing reached the client before it did.
	released chan struct{}
}

func (c *committer) Commit(x *event.Exchange) error {
	if c.released != nil {
		<-c.released
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.committed = append(c.committed, x)
	if c.fail {
		return errors.New("disk full")
	}
	return nil
}

func TestCriticalHoldsTheResponseUntilCommitted(t *testing.T) {
	body := strings.Repeat("z", 300) // over the 100-byte capture limit below
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "300")
		w.WriteHeader(201)
		io.WriteString(w, body)
	}))
	in := recordAll
	in.Critical = true
	obs := &committer{recorder: newRecorder(in), released: make(chan struct{})}
	front := newFront(t, up.URL, Config{Observer: obs, BodyCaptureLimit: 100})

	type result struct {
		resp *http.Response
		body []byte
	}
	got := make(chan result, 1)
	go func() {
		resp, b := do(t, newClient(t), newRequest(t, "POST", front.URL+"/users", strings.NewReader(`{"a":1}`)))
		got <- result{resp, b}
	}()
	select {
	case r := <-got:
		t.Fatalf("client got %d before the commit returned", r.resp.StatusCode)
	case <-waitShort():
	}
	close(obs.released)
	r := <-got
	if r.resp.StatusCode != 201 || string(r.body) != body || r.resp.ContentLength != 300 {
		t.Fatalf("client got %d, %d bytes, Content-Length %d; want 201, the whole body, 300", r.resp.StatusCode, len(r.body), r.resp.ContentLength)
	}
	x := obs.committed[0]
	if x.Status != 201 || !x.ResponseBody.Truncated || len(x.ResponseBody.Data) != 100 || string(x.RequestBody.Data) != `{"a":1}` {
		t.Errorf("committed exchange: status %d, body %d bytes truncated=%v, request %q", x.Status, len(x.ResponseBody.Data), x.ResponseBody.Truncated, x.RequestBody.Data)
	}
	if fin := obs.next(t); !fin.Committed || fin.Status != 201 {
		t.Errorf("observed exchange: Committed=%v status %d, want true 201", fin.Committed, fin.Status)
	}
}

func TestCriticalFailsClosed(t *testing.T) {
	up := newUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret answer")
	}))
	in := recordAll
	in.Critical = true
	obs := &committer{recorder: newRecorder(in), fail: true}
	front := newFront(t, up.URL, Config{Observer: obs})
	resp, b := do(t, newClient(t), newRequest(t, "DELETE", front.URL+"/users/1", nil))
	if resp.StatusCode != http.StatusServiceUnavailable || strings.Contains(string(b), "secret") {
		t.Fatalf("client got %d %q, want 503 without the app's answer", resp.StatusCode, b)
	}
	if fin := obs.next(t); fin.Committed {
		t.Error("observed exchange says committed after a failed commit")
	}

	// The upstream down: the failure is committed, the client gets 502.
	obs = &committer{recorder: newRecorder(in)}
	front = newFront(t, "http://127.0.0.1:1", Config{Observer: obs})
	resp, _ = do(t, newClient(t), newRequest(t, "DELETE", front.URL+"/users/1", nil))
	if resp.StatusCode != http.StatusBadGateway || len(obs.committed) != 1 || obs.committed[0].UpstreamError == "" {
		t.Fatalf("upstream down: client got %d, commits %d", resp.StatusCode, len(obs.committed))
	}
}

// waitShort is how long a test waits to see that something does NOT happen.
func waitShort() <-chan time.Time { return time.After(200 * time.Millisecond) }
