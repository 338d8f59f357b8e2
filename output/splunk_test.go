package output

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeHEC answers like Splunk's HTTP Event Collector, with the statuses
// and codes of Splunk's "Troubleshoot HTTP Event Collector" table: 401
// code 2 without a token, 403 code 4 for an unknown one; 400 code 6 (with
// invalid-event-number) for a body that is not JSON objects, 12 for an
// object without "event", 13 for an empty one; 400 code 10 without a
// channel when the token has indexer acknowledgement on, 400 code 14 for an
// ack query when it is off. With ack on, each accepted request gets the
// next ackId, reported indexed from the ackAfter-th poll that asks for it.
type fakeHEC struct {
	token    string
	ack      bool
	ackAfter int

	mu      sync.Mutex
	events  []map[string]json.RawMessage
	nextAck int64
	polls   map[int64]int
	channel string // the channel of the last request
}

func hecReplyWith(w http.ResponseWriter, status int, text string, code int, extra ...any) {
	m := map[string]any{"text": text, "code": code}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(m)
}

func (f *fakeHEC) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		hecReplyWith(w, 401, "Token is required", 2)
		return
	case !strings.HasPrefix(auth, "Splunk "):
		hecReplyWith(w, 401, "Invalid authorization", 3)
		return
	case auth != "Splunk "+f.token:
		hecReplyWith(w, 403, "Invalid token", 4)
		return
	}
	channel := r.Header.Get("X-Splunk-Request-Channel")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channel = channel
	switch r.URL.Path {
	case "/services/collector/event":
	case "/services/collector/ack":
		if !f.ack {
			hecReplyWith(w, 400, "ACK is disabled", 14)
			return
		}
		var q struct {
			Acks []int64 `json:"acks"`
		}
		if json.Unmarshal(body, &q) != nil || channel == "" {
			hecReplyWith(w, 400, "Invalid data format", 6)
			return
		}
		acks := map[string]bool{}
		for _, id := range q.Acks {
			f.polls[id]++
			acks[strconv.FormatInt(id, 10)] = id < f.nextAck && f.polls[id] >= f.ackAfter
		}
		json.NewEncoder(w).Encode(map[string]any{"acks": acks})
		return
	default:
		http.NotFound(w, r)
		return
	}
	if f.ack && channel == "" {
		hecReplyWith(w, 400, "Data channel is missing", 10)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		hecReplyWith(w, 400, "No data", 5)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var batch []map[string]json.RawMessage
	for n := 0; ; n++ {
		var ev map[string]json.RawMessage
		err := dec.Decode(&ev)
		if err == io.EOF {
			break
		}
		switch {
		case err != nil:
			hecReplyWith(w, 400, "Invalid data format", 6, "invalid-event-number", n)
			return
		case ev["event"] == nil:
			hecReplyWith(w, 400, "Event field is required", 12, "invalid-event-number", n)
			return
		case string(ev["event"]) == `""`:
			hecReplyWith(w, 400, "Event field cannot be blank", 13, "invalid-event-number", n)
			return
		}
		batch = append(batch, ev)
	}
	f.events = append(f.events, batch...)
	if f.ack {
		id := f.nextAck
		f.nextAck++
		hecReplyWith(w, 200, "Success", 0, "ackId", id)
		return
	}
	hecReplyWith(w, 200, "Success", 0)
}

func newFakeHEC(token string, ack bool, ackAfter int) *fakeHEC {
	return &fakeHEC{token: token, ack: ack, ackAfter: ackAfter, polls: map[int64]int{}}
}

func TestSplunkEvents(t *testing.T) {
	hec := newFakeHEC("tok-1", false, 0)
	fake := newFakeCollector(t, hec.handle)
	s := openSink(t, "splunk", map[string]any{"url": fake.URL, "token": "tok-1", "index": "audit", "host": "proxy-1", "source": "billing-proxy"})
	evs := batch("sp", 3)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(hec.events) != 3 {
		t.Fatalf("HEC got %d events, want 3", len(hec.events))
	}
	for i, ev := range hec.events {
		want := map[string]string{"time": "1795304535.123", "host": `"proxy-1"`, "source": `"billing-proxy"`, "sourcetype": `"auditproxy:audit"`, "index": `"audit"`}
		for k, v := range want {
			if string(ev[k]) != v {
				t.Errorf("event %d: %s = %s, want %s", i, k, ev[k], v)
			}
		}
		var rec struct{ ID, Action string }
		if err := json.Unmarshal(ev["event"], &rec); err != nil || rec.ID != evs[i].ID || rec.Action != "user.created" {
			t.Errorf("event %d: event = %s (%v), want the record as an object", i, ev["event"], err)
		}
	}
	if r := fake.requests()[0]; r.path != "/services/collector/event" || r.header.Get("X-Splunk-Request-Channel") != "" {
		t.Errorf("posted to %s, channel %q", r.path, r.header.Get("X-Splunk-Request-Channel"))
	}
}

func TestSplunkTextFormatIsAString(t *testing.T) {
	hec := newFakeHEC("tok-1", false, 0)
	fake := newFakeCollector(t, hec.handle)
	s, err := OpenSpec(Spec{Name: "sp", Type: "splunk", Format: "test-text", Options: map[string]any{"url": fake.URL, "token": "tok-1", "sourcetype": "cef"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), batch("txt", 1)); err != nil {
		t.Fatal(err)
	}
	var line string
	if err := json.Unmarshal(hec.events[0]["event"], &line); err != nil || line != "action=user.created id=txt-0" {
		t.Errorf("event = %s, want the text record as a string", hec.events[0]["event"])
	}
	if string(hec.events[0]["sourcetype"]) != `"cef"` || hec.events[0]["index"] != nil {
		t.Errorf("sourcetype %s, index %s", hec.events[0]["sourcetype"], hec.events[0]["index"])
	}
}

func TestSplunkErrors(t *testing.T) {
	hecErr := func(status int, text string, code int, extra ...any) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, _ *http.Request, _ []byte) { hecReplyWith(w, status, text, code, extra...) }
	}
	for _, tt := range []struct {
		name      string
		reply     func(http.ResponseWriter, *http.Request, []byte)
		permanent bool
		after     time.Duration
		wantErr   string
	}{
		{"busy", func(w http.ResponseWriter, r *http.Request, b []byte) {
			w.Header().Set("Retry-After", "4")
			hecReplyWith(w, 503, "Server is busy", 9)
		}, false, 4 * time.Second, "503 Service Unavailable: Server is busy (code 9)"},
		{"busy, no Retry-After", hecErr(503, "Server is busy", 9), false, 0, "Server is busy (code 9)"},
		{"unhealthy", hecErr(503, "HEC is unhealthy, queues are full", 18), false, 0, "queues are full (code 18)"},
		{"internal", hecErr(500, "Internal server error", 8), false, 0, "500 Internal Server Error: Internal server error (code 8)"},
		{"invalid data", hecErr(400, "Invalid data format", 6, "invalid-event-number", 1), true, 0, "400 Bad Request: Invalid data format (code 6); first invalid event: number 1, id e-1"},
		{"event required", hecErr(400, "Event field is required", 12, "invalid-event-number", 2), true, 0, "(code 12); first invalid event: number 2, id e-2"},
		{"token disabled", hecErr(403, "Token disabled", 1), true, 0, "403 Forbidden: Token disabled (code 1); check token: it is disabled"},
		{"token required", hecErr(401, "Token is required", 2), true, 0, "Token is required (code 2); check token"},
		{"invalid authorization", hecErr(401, "Invalid authorization", 3), true, 0, "(code 3); check token"},
		{"invalid token", hecErr(403, "Invalid token", 4), true, 0, "Invalid token (code 4); check token: HEC does not know it"},
		{"index", hecErr(400, "Incorrect index", 7, "invalid-event-number", 0), true, 0, "Incorrect index (code 7); check index: the token may not write to it; first invalid event: number 0, id e-0"},
		{"channel", hecErr(400, "Data channel is missing", 10), true, 0, "set ack: true"},
		{"proxy", replyWith(502, "upstream connect error"), false, 0, "502 Bad Gateway: upstream connect error"},
	} {
		fake := newFakeCollector(t, tt.reply)
		s := openSink(t, "splunk", map[string]any{"url": fake.URL, "token": "tok"})
		err := s.Write(context.Background(), batch("e", 3))
		if err == nil || IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v (permanent %v), want %q (permanent %v)", tt.name, err, IsPermanent(err), tt.wantErr, tt.permanent)
		}
		if after, _ := RetryAfterOf(err); after != tt.after {
			t.Errorf("%s: retry after %v, want %v", tt.name, after, tt.after)
		}
	}

	// The fake's own checks, end to end: a wrong token.
	hec := newFakeHEC("right", false, 0)
	fake := newFakeCollector(t, hec.handle)
	err := openSink(t, "splunk", map[string]any{"url": fake.URL, "token": "wrong"}).Write(context.Background(), batch("w", 1))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "check token") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestSplunkAck(t *testing.T) {
	hec := newFakeHEC("tok", true, 3)
	fake := newFakeCollector(t, hec.handle)
	opts := map[string]any{"url": fake.URL + "/services/collector", "token": "tok", "ack": true, "ack_interval": "5ms", "ack_timeout": "5s"}
	s := openSink(t, "splunk", opts)
	for b := range 2 {
		if err := s.Write(context.Background(), batch("ack", 4)); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
	}
	hec.mu.Lock()
	polls := hec.polls
	hec.mu.Unlock()
	if polls[0] != 3 || polls[1] != 3 {
		t.Errorf("polls per ackId %v, want 3 each (Write waits for the ack)", polls)
	}
	var channels []string
	for _, r := range fake.requests() {
		channels = append(channels, r.header.Get("X-Splunk-Request-Channel"))
	}
	if channels[0] == "" || strings.Count(strings.Join(channels, " "), channels[0]) != len(channels) {
		t.Errorf("channels %q, want one for every request", channels)
	}

	// Never acknowledged: a retryable error once ack_timeout passes.
	hec.mu.Lock()
	hec.ackAfter = 1 << 30
	hec.mu.Unlock()
	opts["ack_timeout"] = "30ms"
	err := openSink(t, "splunk", opts).Write(context.Background(), batch("slow", 1))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "not acknowledged by the indexers within 30ms (ackId 2)") {
		t.Errorf("no ack: %v, want a retryable timeout", err)
	}

	// ctx ends while waiting.
	opts["ack_timeout"] = "1m"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err = openSink(t, "splunk", opts).Write(ctx, batch("ctx", 1))
	if !errorsIsCanceled(err) || IsPermanent(err) {
		t.Errorf("ctx ended while waiting for the ack: %v", err)
	}

	// ack: true with a token whose acknowledgement is off: HEC accepts the
	// batch without an ackId; nothing to wait for.
	off := newFakeHEC("tok", false, 0)
	fakeOff := newFakeCollector(t, off.handle)
	opts["url"] = fakeOff.URL
	sp, err := OpenSplunk(Spec{Name: "sp", Type: "splunk", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var log bytes.Buffer
	sp.SetLogger(zerolog.New(&log))
	if err := sp.Write(context.Background(), batch("off", 1)); err != nil {
		t.Errorf("ack on, token without ack: %v", err)
	}
	if !strings.Contains(log.String(), "indexer acknowledgement is off for this token") {
		t.Errorf("ack on, token without ack: logged %q, want a warning", log.String())
	}
}

func TestSplunkAckPollRefused(t *testing.T) {
	// HEC takes the batch with an ackId but then refuses the ack query
	// (code 14): a setting to fix, reported as permanent.
	fake := newFakeCollector(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if r.URL.Path == "/services/collector/ack" {
			hecReplyWith(w, 400, "ACK is disabled", 14)
			return
		}
		hecReplyWith(w, 200, "Success", 0, "ackId", 7)
	})
	s := openSink(t, "splunk", map[string]any{"url": fake.URL, "token": "tok", "ack": true, "ack_interval": "1ms"})
	err := s.Write(context.Background(), batch("a", 1))
	if !IsPermanent(err) || !strings.Contains(err.Error(), "asking for indexer acknowledgement (ackId 7): 400 Bad Request: ACK is disabled (code 14); the token has indexer acknowledgement off: set ack: false") {
		t.Errorf("ack refused: %v", err)
	}
}

func TestSplunkOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		opts    map[string]any
		wantErr string
	}{
		{map[string]any{"url": "http://splunk:8088"}, "token: required"},
		{map[string]any{"url": "http://splunk:8088", "token": "t", "headers": map[string]any{"Authorization": "Splunk x"}}, "token: the Authorization header is already set"},
		{map[string]any{"url": "http://splunk:8088", "token": "t", "ack_timeout": "-1s"}, "must not be negative"},
	} {
		_, err := OpenSpec(Spec{Name: "sp", Type: "splunk", Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}

func BenchmarkSplunkSink(b *testing.B) {
	benchSink(b, "splunk", map[string]any{"token": "tok", "index": "audit"}, func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		hecReplyWith(w, 200, "Success", 0)
	})
}
