package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// hub fans live events out to subscribers, as the pipeline would.
type hub struct {
	mu   sync.Mutex
	subs map[chan event.Event]bool
	left chan struct{} // one value per subscriber gone
}

func newHub() *hub { return &hub{subs: map[chan event.Event]bool{}, left: make(chan struct{}, 16)} }

func (h *hub) subscribe(ctx context.Context) <-chan event.Event {
	ch := make(chan event.Event, 64)
	h.mu.Lock()
	h.subs[ch] = true
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		h.mu.Unlock()
		h.left <- struct{}{}
	}()
	return ch
}

func (h *hub) publish(evs ...event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		for _, ev := range evs {
			ch <- ev
		}
	}
}

// sseFrame is one Server-Sent Events block.
type sseFrame struct {
	id, event, data, comment string
}

// sseClient reads frames from a stream in the background.
type sseClient struct {
	resp   *http.Response
	frames chan sseFrame
	cancel context.CancelFunc
}

func connect(t *testing.T, srvURL, query, token string) *sseClient {
	t.Helper()
	return connectWith(t, srvURL, query, token, nil)
}

// connectWith is connect with more request headers (Last-Event-ID).
func connectWith(t *testing.T, srvURL, query, token string, hdr http.Header) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", srvURL+"/api/v1/events/stream"+query, nil)
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{resp: resp, frames: make(chan sseFrame, 64), cancel: cancel}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	go func() {
		defer close(c.frames)
		br := bufio.NewReader(resp.Body)
		var f sseFrame
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				select {
				case c.frames <- f:
				case <-ctx.Done():
					return
				}
				f = sseFrame{}
			case strings.HasPrefix(line, ":"):
				f.comment += strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				f.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				f.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				f.data += line[6:]
			}
		}
	}()
	c.next(t, func(f sseFrame) bool { return f.comment == "audit events" }) // the stream is open
	return c
}

// next returns the next frame that passes keep, failing after a while.
func (c *sseClient) next(t *testing.T, keep func(sseFrame) bool) sseFrame {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatal("stream ended")
			}
			if keep(f) {
				return f
			}
		case <-timeout:
			t.Fatal("no frame within 5s")
		}
	}
}

func isAudit(f sseFrame) bool { return f.event == "audit" }

func auditEvent(t *testing.T, f sseFrame) event.Event {
	t.Helper()
	var ev event.Event
	if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
		t.Fatalf("data %q: %v", f.data, err)
	}
	if f.id != ev.ID {
		t.Errorf("SSE id %q, event id %q", f.id, ev.ID)
	}
	return ev
}

func TestStream(t *testing.T) {
	hb := newHub()
	h := newHarness(t, func(c *Config) { c.Subscribe = hb.subscribe })
	h.api.heartbeat = 50 * time.Millisecond
	srv := httptest.NewServer(h.mux)
	t.Cleanup(srv.Close) // after the clients' cleanups: Close waits for their streams to end
	evs := fixture()

	c := connect(t, srv.URL, "?action=user.deleted,invoice.paid", adminToken)
	if c.resp.StatusCode != 200 || c.resp.Header.Get("Content-Type") != "text/event-stream" || c.resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, headers %v", c.resp.StatusCode, c.resp.Header)
	}
	// Unmatched events are skipped; matched ones arrive in order, as the
	// native JSON.
	hb.publish(evs[0], evs[1], evs[3], evs[2])
	for _, want := range []event.Event{evs[1], evs[2]} {
		got := auditEvent(t, c.next(t, isAudit))
		if got.ID != want.ID {
			t.Errorf("got %s, want %s", got.ID, want.ID)
		}
	}
	hb.publish(evs[1])
	f := c.next(t, isAudit)
	if want := string(h.api.native.Append(nil, &evs[1])); f.data != want {
		t.Errorf("data %s\nwant the native JSON %s", f.data, want)
	}
	c.next(t, func(f sseFrame) bool { return f.comment == "heartbeat" })

	// A user's stream is their own, whatever the filters say.
	u := connect(t, srv.URL, "?actor=bob", aliceToken)
	a := connect(t, srv.URL, "", aliceToken)
	hb.publish(evs[1], evs[4], evs[0], evs[5])
	for _, want := range []string{"ev-1", "ev-6"} {
		if got := auditEvent(t, a.next(t, isAudit)); got.ID != want {
			t.Errorf("alice's stream: got %s, want %s", got.ID, want)
		}
	}
	hb.publish(evs[0])
	for quiet := time.After(300 * time.Millisecond); quiet != nil; {
		select {
		case f := <-u.frames:
			if f.event == "audit" {
				t.Errorf("alice asking for bob's events got %s", f.data)
			}
		case <-quiet:
			quiet = nil
		}
	}

	// The subscription ends when the client goes.
	for _, cl := range []*sseClient{c, u, a} {
		cl.cancel()
		select {
		case <-hb.left:
		case <-time.After(5 * time.Second):
			t.Fatal("the subscription outlived its client")
		}
	}

	var starts []string
	for _, r := range h.records() {
		starts = append(starts, r.Actor.ID+": "+r.Description)
	}
	want := []string{"admin: admin started a live view (action=user.deleted,invoice.paid)", "alice: alice started a live view (actor=bob)", "alice: alice started a live view"}
	if strings.Join(starts, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(starts, "\n"), strings.Join(want, "\n"))
	}
}

func TestStreamErrors(t *testing.T) {
	h := newHarness(t, nil)
	if w := h.do(t, "GET", "/api/v1/events/stream", adminToken); w.Code != http.StatusNotImplemented {
		t.Errorf("without Subscribe: status %d, want 501", w.Code)
	}
	h = newHarness(t, func(c *Config) { c.Subscribe = newHub().subscribe })
	if w := h.do(t, "GET", "/api/v1/events/stream?preset=never", adminToken); w.Code != 400 {
		t.Errorf("bad filter: status %d, want 400", w.Code)
	}
	if w := h.do(t, "GET", "/api/v1/events/stream", ""); w.Code != 401 {
		t.Errorf("no token: status %d, want 401", w.Code)
	}
	if len(h.records()) != 0 {
		t.Errorf("refused streams were recorded")
	}
}

// TestStreamOutlivesServerTimeouts runs the stream behind read and write
// timeouts far shorter than its life, as the admin listener has: each write
// moves the write deadline.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	hb := newHub()
	h := newHarness(t, func(c *Config) { c.Subscribe = hb.subscribe })
	h.api.heartbeat = 100 * time.Millisecond
	srv := httptest.NewUnstartedServer(h.mux)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	c := connect(t, srv.URL, "", adminToken)
	time.Sleep(time.Second)
	hb.publish(fixture()[0])
	if got := auditEvent(t, c.next(t, isAudit)); got.ID != "ev-1" {
		t.Errorf("got %s", got.ID)
	}
}

// hookStore calls onQuery before each Query: something happening while a
// resuming stream reads the missed events.
type hookStore struct {
	*fakeStore
	onQuery func()
}

func (s hookStore) Query(ctx context.Context, f store.Filter, p store.Page) (store.Result, error) {
	if s.onQuery != nil {
		s.onQuery()
	}
	return s.fakeStore.Query(ctx, f, p)
}

// TestStreamResume: a client that comes back with the id of the last event
// it got receives exactly the matching events sealed since, oldest first,
// then the live ones, none twice, even those arriving during the handover.
func TestStreamResume(t *testing.T) {
	hb := newHub()
	var hookMu sync.Mutex
	var hook func()
	setHook := func(fn func()) { hookMu.Lock(); hook = fn; hookMu.Unlock() }
	h := newHarness(t, func(c *Config) {
		c.Subscribe = hb.subscribe
		c.Store = hookStore{c.Store.(*fakeStore), func() {
			hookMu.Lock()
			fn := hook
			hook = nil
			hookMu.Unlock()
			if fn != nil {
				fn()
			}
		}}
	}, []event.Event{}...)
	srv := httptest.NewServer(h.mux)
	t.Cleanup(srv.Close)

	// The pipeline's side: each event is sealed (seq), stored, and
	// published; stored is false for one still on its way to the store.
	seq := int64(0)
	mk := func(id, action string, ago time.Duration) event.Event {
		seq++
		return event.Event{ID: id, Seq: seq, Time: testNow.Add(-ago), Action: action, Actor: event.Actor{ID: "43", Name: "bob"}}
	}
	write := func(ev event.Event, stored, live bool) {
		if stored {
			h.store.Insert(t.Context(), []event.Event{ev})
		}
		if live {
			hb.publish(ev)
		}
	}
	got := func(c *sseClient, n int) []string {
		t.Helper()
		var ids []string
		for range n {
			ids = append(ids, auditEvent(t, c.next(t, isAudit)).ID)
		}
		return ids
	}
	const filter = "?action=user.updated,user.deleted"

	c := connect(t, srv.URL, filter, adminToken)
	write(mk("a1", "user.updated", 9*time.Minute), true, true)
	write(mk("a2", "user.login", 8*time.Minute), true, true)
	write(mk("a3", "user.deleted", 7*time.Minute), true, true)
	if ids := got(c, 2); strings.Join(ids, " ") != "a1 a3" {
		t.Fatalf("before the break: %v, want a1 a3", ids)
	}
	c.cancel()
	<-hb.left

	// Missed: sealed in this order, though b2 started before a3 (a long
	// request); b3 does not match.
	write(mk("b1", "user.updated", 5*time.Minute), true, false)
	write(mk("b2", "user.deleted", 10*time.Minute), true, false)
	write(mk("b3", "user.login", 4*time.Minute), true, false)
	write(mk("b4", "user.updated", 3*time.Minute), true, false)
	// While the missed events are read: h1 is sealed, stored and
	// published (in both the store's answer and the live events), h2 only
	// published, not yet stored.
	h1, h2 := mk("h1", "user.deleted", 2*time.Minute), mk("h2", "user.updated", time.Minute)
	setHook(func() {
		write(h1, true, true)
		write(h2, false, true)
	})
	r := connectWith(t, srv.URL, filter, adminToken, http.Header{"Last-Event-Id": {"a3"}})
	want := "b1 b2 b4 h1 h2"
	if ids := got(r, 5); strings.Join(ids, " ") != want {
		t.Errorf("resumed after a3: %v, want %s", ids, want)
	}
	write(mk("l1", "user.updated", 0), true, true)
	write(mk("l2", "user.login", 0), true, true)
	write(mk("l3", "user.deleted", 0), true, true)
	if ids := got(r, 2); strings.Join(ids, " ") != "l1 l3" {
		t.Errorf("live after the handover: %v, want l1 l3 (and no h1 again)", ids)
	}
	r.cancel()
	<-hb.left
	write(h2, true, false) // h2 reaches the store

	// The parameter does what the header does; for a user, only their own.
	p := connect(t, srv.URL, filter+"&last_event_id=b4", bobToken)
	if ids := got(p, 4); strings.Join(ids, " ") != "h1 h2 l1 l3" {
		t.Errorf("resumed after b4 by parameter: %v, want h1 h2 l1 l3", ids)
	}
	if recs := h.records(); !strings.Contains(recs[len(recs)-1].Description, "43 resumed a live view after event b4, 4 missed events") {
		t.Errorf("recorded %q", recs[len(recs)-1].Description)
	}

	// Where resuming cannot be exact, the client is told to reload.
	for _, tc := range []struct{ name, id, token string }{
		{"unknown id", "nope", adminToken},
		{"someone else's event", "a3", aliceToken},
	} {
		c := connectWith(t, srv.URL, filter, tc.token, http.Header{"Last-Event-Id": {tc.id}})
		if f := c.next(t, func(f sseFrame) bool { return f.event != "" }); f.event != "reset" {
			t.Errorf("%s: first frame %+v, want event: reset", tc.name, f)
		}
		write(mk("x-"+tc.name, "user.updated", 0), true, true)
		if tc.token == adminToken {
			if ids := got(c, 1); ids[0] != "x-"+tc.name {
				t.Errorf("%s: live after the reset: %v", tc.name, ids)
			}
		}
	}
	many := make([]event.Event, store.MaxLimit+1)
	for i := range many {
		many[i] = mk(fmt.Sprintf("m%04d", i), "user.updated", 0)
	}
	h.store.Insert(t.Context(), many)
	m := connectWith(t, srv.URL, filter, adminToken, http.Header{"Last-Event-Id": {"l3"}})
	if f := m.next(t, func(f sseFrame) bool { return f.event != "" }); f.event != "reset" {
		t.Errorf("more than %d missed: first frame %+v, want event: reset", store.MaxLimit, f)
	}
}
