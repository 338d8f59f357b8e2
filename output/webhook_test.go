package output

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output/format"
)

// textFormat stands in for the text formats (cef, text) that sinks must
// treat as lines, not JSON.
type textFormat struct{}

func (textFormat) Name() string        { return "test-text" }
func (textFormat) ContentType() string { return "text/plain; charset=utf-8" }
func (textFormat) Append(dst []byte, ev *event.Event) []byte {
	return append(dst, "action="+ev.Action+" id="+ev.ID...)
}

func init() { format.Register(textFormat{}) }

// verifyStandardWebhook checks a request as a receiver following the
// Standard Webhooks spec ("Verifying webhook authenticity") does, written
// from the spec, not from the sink: the three headers must be there, the
// timestamp within five minutes of now, and one of the space-separated
// signatures must be "v1," and the base64 HMAC-SHA256, keyed with the
// secret (base64 after "whsec_"), of "{webhook-id}.{webhook-timestamp}.{body}".
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time) error {
	msgID, msgTS, msgSigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if msgID == "" || msgTS == "" || msgSigs == "" {
		return errors.New("missing webhook headers")
	}
	ts, err := strconv.ParseInt(msgTS, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %v", msgTS, err)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %v away from now", msgTS, d)
	}
	key := []byte(secret)
	if b64, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return err
		}
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", msgID, msgTS, body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Split(msgSigs, " ") {
		version, value, _ := strings.Cut(sig, ",")
		if version == "v1" && hmac.Equal([]byte(value), []byte(want)) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

func TestWebhookEncodings(t *testing.T) {
	for _, tt := range []struct {
		encoding, format, contentType string
		ids                           func(t *testing.T, body []byte) []string
	}{
		{"", "", "application/json", idsOfArray},
		{"array", "json", "application/json", idsOfArray},
		{"envelope", "", "application/json", func(t *testing.T, body []byte) []string {
			var env struct {
				Events json.RawMessage `json:"events"`
			}
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("envelope %s: %v", body, err)
			}
			return idsOfArray(t, env.Events)
		}},
		{"ndjson", "", "application/x-ndjson", readLines},
		{"ndjson", "test-text", "text/plain; charset=utf-8", func(t *testing.T, body []byte) []string {
			var ids []string
			sc := bufio.NewScanner(bytes.NewReader(body))
			for sc.Scan() {
				_, id, _ := strings.Cut(sc.Text(), " id=")
				ids = append(ids, id)
			}
			return ids
		}},
	} {
		fake := newFakeCollector(t, replyWith(http.StatusOK, "thanks"))
		s, err := OpenSpec(Spec{Name: "hook", Type: "http", Format: tt.format, Options: map[string]any{"url": fake.URL, "encoding": tt.encoding}})
		if err != nil {
			t.Fatal(err)
		}
		// Three batches, three requests, each with its events in order.
		for b := range 3 {
			if err := s.Write(context.Background(), batch(fmt.Sprint("b", b), 5)); err != nil {
				t.Fatalf("encoding %q: %v", tt.encoding, err)
			}
		}
		s.Close()
		reqs := fake.requests()
		if len(reqs) != 3 {
			t.Fatalf("encoding %q: %d requests, want 3", tt.encoding, len(reqs))
		}
		for b, r := range reqs {
			want := []string{}
			for i := range 5 {
				want = append(want, fmt.Sprintf("b%d-%d", b, i))
			}
			if got := tt.ids(t, r.body); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("encoding %q, batch %d: ids %v, want %v", tt.encoding, b, got, want)
			}
			if r.method != http.MethodPost || r.header.Get("Content-Type") != tt.contentType {
				t.Errorf("encoding %q: %s with Content-Type %q, want POST with %q", tt.encoding, r.method, r.header.Get("Content-Type"), tt.contentType)
			}
			if r.header.Get("Webhook-Signature") != "" {
				t.Errorf("encoding %q: signed without a secret", tt.encoding)
			}
		}
	}
}

func idsOfArray(t *testing.T, body []byte) []string {
	t.Helper()
	var evs []event.Event
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatalf("array %s: %v", body, err)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

func TestWebhookOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		format  string
		opts    map[string]any
		wantErr string
	}{
		{"test-text", map[string]any{"url": "http://x"}, "encoding: array puts records in a JSON array, but format test-text writes text"},
		{"test-text", map[string]any{"url": "http://x", "encoding": "envelope"}, "encoding: envelope puts records in a JSON array"},
		{"", map[string]any{"url": "http://x", "encoding": "xml"}, `encoding: "xml" is not one of array, ndjson, envelope`},
		{"nope", map[string]any{"url": "http://x"}, `unknown format "nope"`},
		{"", map[string]any{"url": "http://x", "secret": "whsec_!!"}, "secret: whsec_ must be followed by the key in base64"},
		{"", map[string]any{"url": "http://x", "secret": "k", "headers": map[string]any{"webhook-id": "x"}}, "headers: Webhook-Id is set by secret:"},
	} {
		_, err := OpenSpec(Spec{Name: "hook", Type: "http", Format: tt.format, Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("OpenSpec(http, format %q, %v) error = %v, want %q", tt.format, tt.opts, err, tt.wantErr)
		}
	}
}

func TestWebhookSignature(t *testing.T) {
	key := []byte("a key of thirty-two bytes, ok!!!")
	for _, tt := range []struct {
		name, secret, compression string
	}{
		{"whsec", "whsec_" + base64.StdEncoding.EncodeToString(key), ""},
		{"raw", "a raw secret, used as written", ""},
		{"whsec gzip", "whsec_" + base64.StdEncoding.EncodeToString(key), "gzip"},
	} {
		var verified []string
		fake := newFakeCollector(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			if err := verifyStandardWebhook(tt.secret, r.Header, body, time.Now()); err != nil {
				http.Error(w, "signature: "+err.Error(), http.StatusUnauthorized)
				return
			}
			verified = append(verified, r.Header.Get("webhook-id"))
			w.WriteHeader(http.StatusNoContent)
		})
		s := openSink(t, "http", map[string]any{"url": fake.URL, "secret": tt.secret, "compression": tt.compression})
		one := eventtest.Full()
		for _, evs := range [][]event.Event{{one}, batch("sig", 10), batch("sig", 10), batch("other", 10)} {
			if err := s.Write(context.Background(), evs); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
		}
		// One event: its id. A batch: the same id when sent again, another
		// for another batch.
		if len(verified) != 4 || verified[0] != one.ID || verified[1] != verified[2] || verified[2] == verified[3] || !strings.HasPrefix(verified[1], "batch_") {
			t.Errorf("%s: webhook-ids %q, want the event's id, then batch_x, batch_x, batch_y", tt.name, verified)
		}
		if tt.compression != "" && fake.requests()[1].header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not compressed", tt.name)
		}
	}

	// The verifier refuses what it should, so that the passes above mean
	// something.
	fake := newFakeCollector(t, replyWith(http.StatusNoContent, ""))
	s := openSink(t, "http", map[string]any{"url": fake.URL, "secret": "whsec_" + base64.StdEncoding.EncodeToString(key)})
	if err := s.Write(context.Background(), batch("v", 2)); err != nil {
		t.Fatal(err)
	}
	r := fake.requests()[0]
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	if err := verifyStandardWebhook(secret, r.header, r.body, time.Now()); err != nil {
		t.Fatalf("genuine request: %v", err)
	}
	tampered := bytes.Replace(r.body, []byte("v-1"), []byte("v-9"), 1)
	if err := verifyStandardWebhook(secret, r.header, tampered, time.Now()); err == nil {
		t.Error("verifier accepted a tampered body")
	}
	if err := verifyStandardWebhook("whsec_"+base64.StdEncoding.EncodeToString([]byte("another key")), r.header, r.body, time.Now()); err == nil {
		t.Error("verifier accepted another key")
	}
	if err := verifyStandardWebhook(secret, r.header, r.body, time.Now().Add(10*time.Minute)); err == nil {
		t.Error("verifier accepted a stale timestamp")
	}
	if ts, _ := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64); time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
		t.Errorf("webhook-timestamp %d is not now", ts)
	}
}

func TestWebhookErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		reply     func(http.ResponseWriter, *http.Request, []byte)
		permanent bool
		after     time.Duration // -1: no Retry-After
		wantErr   string
	}{
		{"400", replyWith(400, `{"error":"unknown field actor"}`), true, -1, `400 Bad Request: {"error":"unknown field actor"}`},
		{"410", replyWith(410, "endpoint deleted"), true, -1, "410 Gone: endpoint deleted"},
		{"404 html", replyWith(404, "<html>"+strings.Repeat("x", 2000)+"</html>"), true, -1, "404 Not Found: <html>xxx"},
		{"429 seconds", replyWith(429, "slow down", "Retry-After", "3"), false, 3 * time.Second, "429 Too Many Requests: slow down"},
		{"503 date", replyWith(503, "maintenance", "Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat)), false, 90 * time.Second, "503 Service Unavailable"},
		{"500", replyWith(500, "oops"), false, -1, "500 Internal Server Error: oops"},
		{"408", replyWith(408, ""), false, -1, "408 Request Timeout"},
	} {
		fake := newFakeCollector(t, tt.reply)
		s := openSink(t, "http", map[string]any{"url": fake.URL})
		err := s.Write(context.Background(), batch("e", 3))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "sending 3 events to webhook at "+fake.URL) {
			t.Errorf("%s: error %q (permanent %v), want %q (permanent %v)", tt.name, err, IsPermanent(err), tt.wantErr, tt.permanent)
		}
		if len(err.Error()) > 800 {
			t.Errorf("%s: error of %d bytes; the reply should be cut", tt.name, len(err.Error()))
		}
		after, ok := RetryAfterOf(err)
		switch {
		case tt.after < 0 && ok:
			t.Errorf("%s: retry after %v, want none", tt.name, after)
		case tt.after >= 0 && (!ok || after > tt.after || after < tt.after-2*time.Second):
			t.Errorf("%s: retry after %v %v, want %v", tt.name, after, ok, tt.after)
		}
	}
}

func BenchmarkWebhookSink(b *testing.B) {
	for _, enc := range []string{"array", "ndjson"} {
		b.Run(enc, func(b *testing.B) {
			benchSink(b, "http", map[string]any{"encoding": enc, "secret": "whsec_c2VjcmV0"}, replyWith(http.StatusNoContent, ""))
		})
	}
}

// benchSink writes batches of 500 full events to a fake collector that
// reads and drops them, reporting events/s: the cost of encoding a batch
// and one local round trip.
func benchSink(b *testing.B, typ string, opts map[string]any, reply func(http.ResponseWriter, *http.Request, []byte)) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reply(w, r, body)
	}))
	b.Cleanup(srv.Close)
	opts["url"] = srv.URL
	s := openSink(b, typ, opts)
	evs := batch("bench", 500)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportRate(b, n)
}
