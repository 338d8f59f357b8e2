//go:build linux

package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// upstream is the app behind the proxy: POST /items/{id} answers 201 with
// a JSON body. It remembers every request id it answered.
type upstream struct {
	*httptest.Server
	mu       sync.Mutex
	answered map[string]bool
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{answered: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.answered[r.Header.Get("X-Request-Id")] = true
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.answered)
}

// collector is the webhook's destination, on a fixed address so that it
// can be stopped and started again while the proxy keeps its URL. It
// records what it accepted; it can be down, answer 503 for a while, and
// refuse with 400 (permanently) any batch holding a poison event.
type collector struct {
	addr string
	// rejectSuffix: a batch with an item.saved event whose target id ends
	// so is refused with 400; "" refuses none. The webhook sends a batch
	// in one request, so the whole batch goes to the dead-letter file.
	rejectSuffix string

	mu        sync.Mutex
	srv       *http.Server
	failUntil time.Time
	receipts  map[string]int    // event id -> times accepted
	byRequest map[string]string // http.request_id -> event id first accepted for it
	twice     []string          // request ids that came with two different event ids
	losses    []event.Event     // audit.events_lost events, in arrival order
	badBodies []string          // posts that were not a JSON array of events

	// Posts answered, and of them answered 503 and 400.
	posts, unavailable, rejected int
}

func newCollector(t *testing.T, rejectSuffix string) *collector {
	c := &collector{addr: freeAddr(t), rejectSuffix: rejectSuffix, receipts: map[string]int{}, byRequest: map[string]string{}}
	t.Cleanup(c.stop)
	return c
}

func (c *collector) url() string { return "http://" + c.addr + "/events" }

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // stop closed the connection: the proxy sends it again
	}
	var evs []event.Event
	err = json.Unmarshal(body, &evs)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts++
	if err != nil {
		// Not the chaos the test makes: a bug, reported at the end.
		c.badBodies = append(c.badBodies, fmt.Sprintf("%v: %.200s", err, body))
		http.Error(w, "not a JSON array of events", http.StatusBadRequest)
		return
	}
	if time.Now().Before(c.failUntil) {
		c.unavailable++
		http.Error(w, "collector busy (chaos test)", http.StatusServiceUnavailable)
		return
	}
	for _, ev := range evs {
		if c.poison(ev) {
			c.rejected++
			http.Error(w, "target id "+ev.Target.ID+" refused (chaos test)", http.StatusBadRequest)
			return
		}
	}
	for _, ev := range evs {
		c.receipts[ev.ID]++
		switch {
		case ev.Action == "audit.events_lost":
			if c.receipts[ev.ID] == 1 {
				c.losses = append(c.losses, ev)
			}
		case ev.HTTP.RequestID != "":
			first, ok := c.byRequest[ev.HTTP.RequestID]
			if !ok {
				c.byRequest[ev.HTTP.RequestID] = ev.ID
			} else if first != ev.ID && c.receipts[ev.ID] == 1 {
				c.twice = append(c.twice, ev.HTTP.RequestID)
			}
		}
	}
}

func (c *collector) poison(ev event.Event) bool {
	return c.rejectSuffix != "" && ev.Action == "item.saved" && strings.HasSuffix(ev.Target.ID, c.rejectSuffix)
}

// start listens on the collector's address again. The port was ours a
// moment ago; a brief retry covers a slow release.
func (c *collector) start() error {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", c.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	srv := &http.Server{Handler: c}
	c.mu.Lock()
	c.srv = srv
	c.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

// stop closes the listener and every connection at once, like a crash:
// a batch being posted fails and is sent again.
func (c *collector) stop() {
	c.mu.Lock()
	srv := c.srv
	c.srv = nil
	c.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (c *collector) failFor(d time.Duration) {
	c.mu.Lock()
	c.failUntil = time.Now().Add(d)
	c.mu.Unlock()
}

func (c *collector) has(requestID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byRequest[requestID]
	return ok
}

func (c *collector) lossEvents() []event.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event.Event(nil), c.losses...)
}

// misbehave makes the collector unreliable until the returned stop is
// called: after 1-3 s up, it is either down for 1-3 s or answers 503 for
// 1-2 s, then up again. Its schedule is independent of the proxy's kills,
// so that the proxy is also killed, and restarts, while the collector is
// down. stop leaves it up and healthy.
func (c *collector) misbehave(t *testing.T, rng *rand.Rand, logf func(string, ...any)) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	sleep := func(d time.Duration) bool {
		select {
		case <-quit:
			return false
		case <-time.After(d):
			return true
		}
	}
	go func() {
		defer close(done)
		for sleep(between(rng, time.Second, 3*time.Second)) {
			if rng.IntN(2) == 0 {
				d := between(rng, time.Second, 2*time.Second)
				logf("collector answers 503 for %v", d.Round(time.Millisecond))
				c.failFor(d)
				continue
			}
			d := between(rng, time.Second, 3*time.Second)
			logf("collector down for %v", d.Round(time.Millisecond))
			c.stop()
			quitting := !sleep(d)
			if err := c.start(); err != nil {
				t.Error(err)
				return
			}
			logf("collector up")
			if quitting {
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		c.failFor(0)
	}
}
