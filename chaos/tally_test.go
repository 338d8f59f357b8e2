//go:build linux

package chaos

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// What the tests send and what they count: requests through the proxy,
// each with its own X-Request-ID and item id, and what became of their
// events.

// requestID and itemID are those of request n. Item ids are plain numbers so
// that a suffix picks a known share of them (see collector.rejectSuffix).
func requestID(n int64) string { return fmt.Sprintf("chaos-%07d", n) }
func itemID(n int64) string    { return strconv.FormatInt(n, 10) }

// post sends request n and returns the status, or the transport error
// (the proxy was killed, or is not up yet).
func (e *env) post(client *http.Client, n int64) (int, error) {
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/items/%d", e.proxy, n), strings.NewReader(`{"name":"chaos"}`))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Request-ID", requestID(n))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// The request is complete only when the whole answer arrived.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, err
}

// newClient bounds every request: a critical request waits at most
// CommitTimeout (5 s) for its event to be durable.
func newClient() *http.Client {
	return &http.Client{Timeout: 15 * time.Second}
}

// load is a few goroutines sending requests until stopped.
type load struct {
	client  *http.Client
	stop    chan struct{}
	wg      sync.WaitGroup
	started time.Time

	mu        sync.Mutex
	next      int64             // the last request number taken
	completed map[string]string // request id -> item id, for every 201 received whole
	refused   int               // other statuses (503: the event could not be made durable)
	failed    int               // transport errors: the proxy was down or killed mid-request
}

// maxRequests bounds a load in count, should the proxy be faster than any
// machine the tests ran on so far (they send 1,000-10,000 a second).
const maxRequests = 1_000_000

// startLoad starts workers sending requests, rate a second in all, or as
// fast as the proxy answers for a rate of 0.
func (e *env) startLoad(workers, rate int) *load {
	l := &load{client: newClient(), stop: make(chan struct{}), completed: map[string]string{}, started: time.Now()}
	var every time.Duration
	if rate > 0 {
		every = time.Duration(workers) * time.Second / time.Duration(rate)
	}
	for range workers {
		l.wg.Go(func() {
			next := time.Now()
			for {
				pause := time.Until(next)
				select {
				case <-l.stop:
					return
				case <-time.After(pause):
				}
				next = next.Add(every)
				l.mu.Lock()
				l.next++
				n := l.next
				l.mu.Unlock()
				if n > maxRequests {
					return
				}
				status, err := e.post(l.client, n)
				l.mu.Lock()
				switch {
				case err != nil:
					l.failed++
				case status == http.StatusCreated:
					l.completed[requestID(n)] = itemID(n)
				default:
					l.refused++
				}
				l.mu.Unlock()
				if err != nil {
					// The proxy is down: do not spin, nor catch up later.
					time.Sleep(20 * time.Millisecond)
					next = time.Now()
				}
			}
		})
	}
	e.t.Cleanup(l.finish)
	return l
}

// count is the number of completed requests so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.completed)
}

// finish stops the workers and waits for them (each request is bounded by
// the client's timeout).
func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
	l.client.CloseIdleConnections()
}

// deadLetters reads the dead-letter file: request id -> reason, and how
// many lines held no whole entry.
func (e *env) deadLetters() (map[string]string, int, error) {
	out := map[string]string{}
	f, err := os.Open(e.dead)
	if errors.Is(err, os.ErrNotExist) {
		return out, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	torn := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var d struct {
			Reason string      `json:"reason"`
			Event  event.Event `json:"event"`
		}
		if err := json.Unmarshal(line, &d); err != nil {
			// A SIGKILL can cut a write short, leaving part of a line;
			// the batch is rejected again after the restart and its
			// entries continue that line. Read its last whole entry.
			torn++
			i := bytes.LastIndex(line, []byte(`{"reason":`))
			if i <= 0 || json.Unmarshal(line[i:], &d) != nil {
				continue
			}
		}
		out[d.Event.HTTP.RequestID] = d.Reason
	}
	return out, torn, sc.Err()
}

// waitAccounted waits until the event of each of these requests arrived
// at the collector or is in the dead-letter file, or until the deadline;
// the tally then says what is missing.
func (e *env) waitAccounted(requests map[string]string, within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		dead, _, err := e.deadLetters()
		if err != nil {
			e.t.Fatal(err)
		}
		left := 0
		for id := range requests {
			if _, ok := dead[id]; !ok && !e.col.has(id) {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.logf("still waiting for %d events after %v", left, within)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitDrained waits until the output's buffer is empty (admin listener
// needed). With no traffic coming in, every event that will ever arrive
// has then arrived or been dead-lettered.
func (e *env) waitDrained(within time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		depth, err := e.metric("auditproxy_output_queue_depth")
		if err == nil && depth == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("the buffer still holds %v events (err %v) after %v", depth, err, within)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tally is what became of the completed requests' events.
type tally struct {
	completed    int
	delivered    int // events of completed requests the collector accepted
	deadLettered int // ... or that are in the dead-letter file instead
	missing      []string
	poison       []string          // completed requests whose event the collector always refuses
	deadReasons  map[string]string // request id -> dead-letter reason
	tornDead     int               // dead-letter lines cut short (by a SIGKILL)
	unasked      int               // accepted events of requests whose client got no 201
	receipts     int               // events accepted, counting repeats
	unique       int               // distinct events accepted
	twice        []string          // request ids with two different events
	losses       []event.Event
	badBodies    []string
	posts        int // posts the collector answered
	posts503     int // ... with 503
	posts400     int // ... with 400
}

func (e *env) tally(completed map[string]string) tally {
	e.t.Helper()
	dead, torn, err := e.deadLetters()
	if err != nil {
		e.t.Fatal(err)
	}
	c := e.col
	c.mu.Lock()
	defer c.mu.Unlock()
	tl := tally{completed: len(completed), deadReasons: dead, tornDead: torn, twice: c.twice, losses: c.losses, badBodies: c.badBodies,
		posts: c.posts, posts503: c.unavailable, posts400: c.rejected}
	for id, item := range completed {
		if c.rejectSuffix != "" && strings.HasSuffix(item, c.rejectSuffix) {
			tl.poison = append(tl.poison, id)
		}
		_, delivered := c.byRequest[id]
		_, deadLettered := dead[id]
		switch {
		case delivered:
			tl.delivered++
		case deadLettered:
			tl.deadLettered++
		default:
			tl.missing = append(tl.missing, id)
		}
	}
	for id := range c.byRequest {
		if _, ok := completed[id]; !ok {
			tl.unasked++
		}
	}
	for _, n := range c.receipts {
		tl.receipts += n
	}
	tl.unique = len(c.receipts)
	// Request ids are fixed width: byte order is numeric order.
	slices.Sort(tl.missing)
	slices.Sort(tl.poison)
	return tl
}

func (tl tally) duplicates() int { return tl.receipts - tl.unique }

func (tl tally) String() string {
	ratio := 0.0
	if tl.unique > 0 {
		ratio = 100 * float64(tl.duplicates()) / float64(tl.unique)
	}
	return fmt.Sprintf("completed %d: delivered %d, dead-lettered %d (%d poison), missing %d\n"+
		"collector: %d posts (%d answered 503, %d answered 400); accepted %d events, %d duplicates (%.2f%%), "+
		"%d of them of requests whose client got no 201\n"+
		"%d audit.events_lost; %d torn dead-letter lines",
		tl.completed, tl.delivered, tl.deadLettered, len(tl.poison), len(tl.missing),
		tl.posts, tl.posts503, tl.posts400, tl.unique, tl.duplicates(), ratio, tl.unasked,
		len(tl.losses), tl.tornDead)
}

// checkPoison: every poison request whose event is accounted for is in
// the dead-letter file with the collector's 400 as the reason (the
// collector never accepts it).
func (tl tally) checkPoison(t *testing.T) {
	t.Helper()
	for _, id := range tl.poison {
		reason, ok := tl.deadReasons[id]
		switch {
		case !ok && slices.Contains(tl.missing, id):
			// Lost, which checkMissing judges.
		case !ok:
			t.Errorf("request %s: its event was refused with 400 but is not in the dead-letter file", id)
		case !strings.Contains(reason, "400") || !strings.Contains(reason, "refused (chaos test)"):
			t.Errorf("request %s: dead-letter reason %q does not give the collector's 400 and its text", id, reason)
		}
	}
}

// checkMissing fails on completed requests whose event is nowhere.
func (tl tally) checkMissing(t *testing.T) {
	t.Helper()
	if len(tl.missing) > 0 {
		t.Errorf("%d completed requests have no event at the collector or in the dead-letter file; first: %v",
			len(tl.missing), tl.missing[:min(len(tl.missing), 10)])
	}
}

// checkSane fails on a request with two different events and on posts the
// collector could not read: neither is chaos, both are bugs.
func (tl tally) checkSane(t *testing.T) {
	t.Helper()
	if len(tl.twice) > 0 {
		t.Errorf("%d requests produced two different events; first: %v", len(tl.twice), tl.twice[:min(len(tl.twice), 10)])
	}
	if len(tl.badBodies) > 0 {
		t.Errorf("%d posts to the collector were not a JSON array of events; first: %s", len(tl.badBodies), tl.badBodies[0])
	}
}

// lossRE reads pipeline's description of an audit.events_lost event.
var lossRE = regexp.MustCompile(`^(\d+) audit events lost by (\S+) (?:between \S+ and \S+|\(times unknown\)): (.*)$`)

// loss is an audit.events_lost event, read.
type loss struct {
	count          int
	output, reason string
}

func parseLoss(ev event.Event) (loss, error) {
	m := lossRE.FindStringSubmatch(ev.Description)
	if m == nil {
		return loss{}, fmt.Errorf("audit.events_lost description %q: no count, output and reason", ev.Description)
	}
	n, _ := strconv.Atoi(m[1])
	return loss{n, m[2], m[3]}, nil
}

// metrics reads the output's numbers from the admin listener's /metrics,
// all from one scrape: name -> value.
func (e *env) metrics() (map[string]float64, error) {
	resp, err := e.client.Get("http://" + e.admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	label := `{output="` + output + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), label)
		if !ok {
			continue
		}
		if out[name], err = strconv.ParseFloat(v, 64); err != nil {
			return nil, fmt.Errorf("metric %s: %w", name, err)
		}
	}
	return out, sc.Err()
}

// metric is one of them.
func (e *env) metric(name string) (float64, error) {
	m, err := e.metrics()
	if err != nil {
		return 0, err
	}
	v, ok := m[name]
	if !ok {
		return 0, fmt.Errorf("metric %s for output %q not in /metrics", name, output)
	}
	return v, nil
}

// waitMetrics waits until cond holds for the output's metrics, or fails
// the test, saying what for.
func (e *env) waitMetrics(what string, within time.Duration, cond func(m map[string]float64) bool) map[string]float64 {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		m, err := e.metrics()
		if err == nil && cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waiting %v for %s: metrics %v (err %v)", within, what, m, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
