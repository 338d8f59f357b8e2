package output

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/internal/testserver"
	"github.com/auditproxy/auditproxy/output/format"
)

func openTestNATS(t *testing.T, c NATSConfig) *NATS {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Second
	}
	n, err := OpenNATS(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// natsStream connects to url and returns the named stream, for reading
// what the sink stored.
func natsStream(t *testing.T, url, name string, opts ...nats.Option) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if name == "" {
		return js, nil
	}
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return js, s
}

// natsMessages returns every message of the stream, in order.
func natsMessages(t *testing.T, s jetstream.Stream) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func TestNATSPublishDedup(t *testing.T) {
	url, _, _ := testserver.StartNATS(t)
	n := openTestNATS(t, NATSConfig{URL: url, Subject: "audit.{action}", Stream: "AUDIT", CreateStream: true})
	weird := eventtest.Minimal()
	weird.ID, weird.Action = "weird", "a b.*.>..end."
	evs := append(batch("nats", 20), eventtest.Minimal(), nastyEvent(), weird)
	ctx := context.Background()
	if err := n.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	_, stream := natsStream(t, url, "AUDIT")
	msgs := natsMessages(t, stream)
	if len(msgs) != len(evs) {
		t.Fatalf("%d messages in the stream, want %d", len(msgs), len(evs))
	}
	json, _ := format.Get("json")
	for i, m := range msgs {
		ev := &evs[i]
		if got := m.Header.Get(jetstream.MsgIDHeader); got != ev.ID {
			t.Fatalf("message %d: Nats-Msg-Id %q, want %q (in order?)", i, got, ev.ID)
		}
		if got := m.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("message %d: Content-Type %q", i, got)
		}
		if got := m.Header.Get("Audit-Action"); got != ev.Action {
			t.Errorf("message %d: Audit-Action %q, want %q", i, got, ev.Action)
		}
		if want := json.Append(nil, ev); string(m.Data) != string(want) {
			t.Errorf("message %d: data\n got %s\nwant %s", i, m.Data, want)
		}
		if want := "audit." + ev.Action; !strings.ContainsAny(ev.Action, " *>") && m.Subject != want {
			t.Errorf("message %d: subject %q, want %q", i, m.Subject, want)
		}
	}
	if got, want := msgs[len(msgs)-1].Subject, "audit.a_b._._._.end._"; got != want {
		t.Errorf("subject for action %q: %q, want %q", weird.Action, got, want)
	}

	// The same events again (a retry after a lost answer): acknowledged,
	// and stored once.
	if err := n.Write(ctx, evs[:5]); err != nil {
		t.Fatalf("second Write: %v", err)
	}
	if msgs := natsMessages(t, stream); len(msgs) != len(evs) {
		t.Errorf("%d messages after writing 5 again, want %d (deduplicated)", len(msgs), len(evs))
	}
}

func TestNATSServerRestart(t *testing.T) {
	url, stop, restart := testserver.StartNATS(t)
	n := openTestNATS(t, NATSConfig{URL: url, Stream: "AUDIT", CreateStream: true})
	ctx := context.Background()
	if err := n.Write(ctx, batch("before", 3)); err != nil {
		t.Fatal(err)
	}

	stop()
	start := time.Now()
	err := n.Write(ctx, batch("during", 3))
	checkRetryable(t, err, "not connected")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Write with the server down took %v", d)
	}

	// The sink reconnects by itself; delivery retries until it does.
	restart()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := n.Write(ctx, batch("during", 3))
		if err == nil {
			break
		}
		if IsPermanent(err) || time.Now().After(deadline) {
			t.Fatalf("Write after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, stream := natsStream(t, url, "AUDIT")
	var ids []string
	for _, m := range natsMessages(t, stream) {
		ids = append(ids, m.Header.Get(jetstream.MsgIDHeader))
	}
	if strings.Join(ids, " ") != "before-0 before-1 before-2 during-0 during-1 during-2" {
		t.Errorf("stream holds %v", ids)
	}
}

func TestNATSRefusals(t *testing.T) {
	url, _, _ := testserver.StartNATS(t)
	js, _ := natsStream(t, url, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SMALL", Subjects: []string{"small"}, MaxMsgSize: 2048}); err != nil {
		t.Fatal(err)
	}

	// Retryable: nobody stores the subject; the subject's stream is not
	// the configured one.
	for _, tt := range []struct {
		c       NATSConfig
		wantErr string
	}{
		{NATSConfig{URL: url, Subject: "nowhere", Timeout: time.Second}, "no response from stream"},
		{NATSConfig{URL: url, Subject: "small", Stream: "AUDIT", Timeout: time.Second}, "expected stream does not match"},
	} {
		n := openTestNATS(t, tt.c)
		err := n.Write(ctx, batch("refused", 2))
		var items *ItemErrors
		if !errors.As(err, &items) || len(items.Items) != 2 || IsPermanent(items.Items[0].Err) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Write: %v, want 2 retryable item errors with %q", tt.c.Subject, err, tt.wantErr)
		}
	}

	// Permanent: too big for the stream (the server says so) or for the
	// server (the client says so). The others in the batch are stored.
	n := openTestNATS(t, NATSConfig{URL: url, Subject: "small", Stream: "SMALL"})
	big, huge := eventtest.Full(), eventtest.Full()
	big.ID, big.Description = "big", strings.Repeat("x", 4096)
	huge.ID, huge.Description = "huge", strings.Repeat("x", 2<<20)
	evs := []event.Event{eventtest.Minimal(), big, huge, eventtest.Full()}
	err := n.Write(ctx, evs)
	var items *ItemErrors
	if !errors.As(err, &items) || len(items.Items) != 2 || items.Items[0].Index != 1 || items.Items[1].Index != 2 ||
		!IsPermanent(items.Items[0].Err) || !IsPermanent(items.Items[1].Err) {
		t.Fatalf("Write: %v, want permanent item errors for big and huge", err)
	}
	if !strings.Contains(items.Items[0].Err.Error(), "event big") || !errors.Is(items.Items[1].Err, nats.ErrMaxPayload) {
		t.Errorf("item errors: %v; %v", items.Items[0].Err, items.Items[1].Err)
	}
	s, _ := js.Stream(ctx, "SMALL")
	if msgs := natsMessages(t, s); len(msgs) != 2 {
		t.Errorf("%d messages stored, want 2", len(msgs))
	}
}

func TestNATSTokenAndTLS(t *testing.T) {
	certs := testserver.NewCerts(t)
	url, _, _ := testserver.StartNATS(t, "--auth", "s3cret", "--tls", "--tlscert", certs.ServerCert, "--tlskey", certs.ServerKey)
	sink, err := OpenSpec(Spec{Name: "n", Type: "nats", Options: map[string]any{
		"url": url, "token": "s3cret", "tls": map[string]any{"ca_file": certs.CAFile},
		"stream": "AUDIT", "create_stream": true, "timeout": "2s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if err := sink.Write(context.Background(), batch("tls", 3)); err != nil {
		t.Fatal(err)
	}

	// A wrong token fails every Write, retryably: it can be fixed.
	n := openTestNATS(t, NATSConfig{URL: url, Token: "wrong", TLS: &TLSConfig{CAFile: certs.CAFile}, Timeout: time.Second})
	checkRetryable(t, n.Write(context.Background(), batch("denied", 1)), "not connected") // and, once known, "authorization violation"
}

// checkRetryable fails the test unless err is an error, mentions want,
// and neither it nor any of its items is permanent.
func checkRetryable(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want a retryable one with %q", err, want)
	}
	var items *ItemErrors
	if errors.As(err, &items) {
		for _, it := range items.Items {
			if IsPermanent(it.Err) {
				t.Errorf("item %d permanent: %v", it.Index, it.Err)
			}
		}
	}
}

func TestNATSSubjects(t *testing.T) {
	n := &NATS{subject: "audit.{action}.v1"}
	for action, want := range map[string]string{
		"user.created":   "audit.user.created.v1",
		"":               "audit._.v1",
		"a b\tc":         "audit.a_b_c.v1",
		"*.>":            "audit._._.v1",
		".x..y.":         "audit._.x._.y._.v1",
		"ünïcode.ok":     "audit.ünïcode.ok.v1",
		"tab\x7f\x00end": "audit.tab__end.v1",
	} {
		if got := n.subjectFor(&event.Event{Action: action}); got != want {
			t.Errorf("subject for %q: %q, want %q", action, got, want)
		}
	}
}

func TestNATSOptions(t *testing.T) {
	// The flag form gives the URL; nothing needs to listen there to open.
	sink, err := Open("nats:nats://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	n := sink.(*NATS)
	if n.subject != "audit.events" || n.timeout != 10*time.Second || n.stream != "" || n.create {
		t.Errorf("defaults: %+v", n)
	}
	checkRetryable(t, n.Write(context.Background(), batch("x", 1)), "not connected")
	n.Close()

	for _, tt := range []struct {
		opts map[string]any
		want []string // stream subjects
	}{
		{map[string]any{"stream": "S", "create_stream": true}, []string{"audit.events"}},
		{map[string]any{"stream": "S", "create_stream": true, "subject": "audit.{action}"}, []string{"audit.>"}},
		{map[string]any{"stream": "S", "create_stream": true, "subject": "a.{action}.b", "stream_subjects": []any{"a.>"}}, []string{"a.>"}},
	} {
		tt.opts["url"] = "nats://127.0.0.1:1"
		sink, err := OpenSpec(Spec{Name: "n", Type: "nats", Options: tt.opts})
		if err != nil {
			t.Errorf("%v: %v", tt.opts, err)
			continue
		}
		if got := sink.(*NATS).streamSubjects; strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%v: stream subjects %v, want %v", tt.opts, got, tt.want)
		}
		sink.Close()
	}

	for _, tt := range []struct {
		opts    map[string]any
		wantErr string
	}{
		{map[string]any{"subject": "a b"}, `subject "a b": whitespace`},
		{map[string]any{"subject": "a..b"}, `subject "a..b": an empty token`},
		{map[string]any{"subject": "audit.*"}, `subject "audit.*": a wildcard`},
		{map[string]any{"create_stream": true}, `create_stream needs stream:`},
		{map[string]any{"create_stream": true, "stream": "S", "subject": "a.{action}.b"}, `create_stream needs stream_subjects`},
		{map[string]any{"create_stream": true, "stream": "S", "stream_subjects": []any{"a.>.b"}}, `'>' not at the end`},
		{map[string]any{"stream_subjects": []any{"a"}}, `stream_subjects without create_stream`},
		{map[string]any{"stream": "A.B"}, `stream "A.B"`},
		{map[string]any{"tls": map[string]any{"ca_file": "/nonexistent"}}, `nats: tls: ca_file`},
		{map[string]any{"queue": "x"}, `field queue not found`},
	} {
		tt.opts["url"] = "nats://127.0.0.1:1"
		_, err := OpenSpec(Spec{Name: "n", Type: "nats", Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}

func TestNATSClosed(t *testing.T) {
	n := openTestNATS(t, NATSConfig{URL: "nats://127.0.0.1:1"})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := n.Write(context.Background(), batch("x", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func BenchmarkNATS(b *testing.B) {
	url, _, _ := testserver.StartNATS(b)
	n, err := OpenNATS(NATSConfig{URL: url, Stream: "AUDIT", CreateStream: true})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	evs := batch("bench", 100)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range evs { // new ids: JetStream would drop repeats as duplicates
			evs[j].ID = "bench-" + strconv.Itoa(i*len(evs)+j)
		}
		if err := n.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportRate(b, i*len(evs))
}
