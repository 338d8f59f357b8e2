package output

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	syslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/internal/testserver"
	"github.com/auditproxy/auditproxy/output/format"
)

// nastyEvent has every structured-data value that needs care: the three
// characters RFC 5424 6.3.3 escapes, in every position, a value that
// looks like another SD element, non-ASCII, invalid UTF-8, and an action
// that is too long and not PRINTUSASCII for MSGID.
func nastyEvent() event.Event {
	ev := eventtest.Full()
	ev.ID = "nasty-1"
	ev.Actor.Name = `al"ice\ ] [x@1 y="z"]`
	ev.Actor.ID = `\\"]]`
	ev.Target.Name = `bob "the" ]builder[ \ end\`
	ev.Target.ID = "ünïcødé ✓ 日本"
	ev.Rule = `rule = with "quotes"`
	ev.Source.IP = "::1"
	ev.Action = "user.with space.and.a.very.long.action.name"
	ev.Severity = event.SeverityCritical
	ev.Outcome = event.OutcomeFailure
	ev.Description = "line one\nline two \xef\xbb\xbf ] \""
	return ev
}

// syslogWant is what a receiver should read for ev.
func syslogWantSD(ev *event.Event) map[string]string {
	sd := map[string]string{}
	for k, v := range map[string]string{
		"id": ev.ID, "actor": ev.Actor.Name, "actor_id": ev.Actor.ID, "target": ev.Target.Name,
		"target_id": ev.Target.ID, "outcome": string(ev.Outcome), "ip": ev.Source.IP, "rule": ev.Rule,
	} {
		if v != "" {
			sd[k] = string([]rune(v)) // each invalid byte becomes U+FFFD
		}
	}
	return sd
}

// parseSyslog parses one RFC 5424 message strictly: no best effort, and
// MSG must be a BOM with UTF-8 or start without a BOM (6.4).
func parseSyslog(t *testing.T, msg []byte) *rfc5424.SyslogMessage {
	t.Helper()
	m, err := rfc5424.NewParser(rfc5424.WithCompliantMsg()).Parse(msg)
	if err != nil {
		t.Fatalf("parsing %q: %v", msg, err)
	}
	return m.(*rfc5424.SyslogMessage)
}

// checkSyslog compares every field of a parsed message with what s should
// have sent for ev.
func checkSyslog(t *testing.T, s *Syslog, m *rfc5424.SyslogMessage, ev *event.Event) {
	t.Helper()
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	if m.Version != 1 {
		t.Errorf("%s: version %d, want 1", ev.ID, m.Version)
	}
	if m.Facility == nil || int(*m.Facility) != s.facility {
		t.Errorf("%s: facility %v, want %d", ev.ID, m.Facility, s.facility)
	}
	if want := syslogSeverity(ev.Severity); m.Severity == nil || int(*m.Severity) != want {
		t.Errorf("%s: severity %v, want %d (%q)", ev.ID, m.Severity, want, ev.Severity)
	}
	if m.Timestamp == nil || !m.Timestamp.Equal(ev.Time.Truncate(time.Microsecond)) {
		t.Errorf("%s: timestamp %v, want %v", ev.ID, m.Timestamp, ev.Time.Truncate(time.Microsecond))
	}
	header := strings.Fields(s.header)
	if got := str(m.Hostname); got != header[0] {
		t.Errorf("%s: hostname %q, want %q", ev.ID, got, header[0])
	}
	if got := str(m.Appname); got != header[1] {
		t.Errorf("%s: app name %q, want %q", ev.ID, got, header[1])
	}
	if got, want := str(m.ProcID), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("%s: procid %q, want %q", ev.ID, got, want)
	}
	wantMsgID := string(appendMsgID(nil, ev.Action))
	if wantMsgID == "-" {
		wantMsgID = "<nil>" // the NILVALUE parses as no value
	}
	if got, want := str(m.MsgID), wantMsgID; got != want {
		t.Errorf("%s: msgid %q, want %q", ev.ID, got, want)
	}
	var sd map[string]map[string]string
	if m.StructuredData != nil {
		sd = *m.StructuredData
	}
	if len(sd) != 1 {
		t.Errorf("%s: structured data %v, want one element %s", ev.ID, sd, s.sdID)
	}
	if got, want := sd[s.sdID], syslogWantSD(ev); !mapsEqual(got, want) {
		t.Errorf("%s: [%s] params\n got %q\nwant %q", ev.ID, s.sdID, got, want)
	}
	record := string(s.format.Append(nil, ev))
	want := record
	if s.bom {
		want = "\uFEFF" + record
	}
	if got := str(m.Message); got != want {
		t.Errorf("%s: MSG\n got %q\nwant %q", ev.ID, got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func openTestSyslog(t *testing.T, c SyslogConfig) *Syslog {
	t.Helper()
	if c.Hostname == "" {
		c.Hostname = "test-host.example"
	}
	s, err := OpenSyslog(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSyslogMessageParses(t *testing.T) {
	minimal, full, nasty := eventtest.Minimal(), eventtest.Full(), nastyEvent()
	controls := eventtest.Full()
	controls.ID = "controls"
	controls.Actor.Name = "tab\there\nnewline\r\x00nul\x1b[31m"
	invalid := eventtest.Full()
	invalid.ID = "invalid-utf8"
	invalid.Actor.Name = "bad\xffbyte\xc3"
	invalid.Target.Name = "\xed\xa0\x80" // a UTF-16 surrogate, not UTF-8
	empty := eventtest.Minimal()
	empty.ID = "empty"
	empty.Action, empty.Outcome, empty.Source.IP, empty.Rule = "", "", "", ""
	oddTime := eventtest.Minimal()
	oddTime.ID = "odd-time"
	oddTime.Time = time.Date(2026, 3, 4, 5, 6, 7, 999999999, time.FixedZone("", -7*3600))
	var sevs []event.Event
	for _, sev := range append(slices.Clone(event.Severities), "", "bogus") {
		ev := eventtest.Minimal()
		ev.ID, ev.Severity = "sev-"+string(sev), sev
		sevs = append(sevs, ev)
	}

	no := false
	for _, c := range []SyslogConfig{
		{Address: "tcp://127.0.0.1:1"},
		{Address: "tcp://127.0.0.1:1", Facility: "local7", SDID: "x@1", AppName: "app", BOM: &no},
		{Address: "udp://127.0.0.1:1", Facility: "kern"}, // facility 0: PRI is the severity alone
	} {
		s := openTestSyslog(t, c)
		for _, ev := range append([]event.Event{minimal, full, nasty, controls, invalid, empty, oddTime}, sevs...) {
			t.Run(fmt.Sprintf("%s/%s/%s", c.Facility, c.SDID, ev.ID), func(t *testing.T) {
				msg, _ := s.appendMessage(nil, &ev)
				checkSyslog(t, s, parseSyslog(t, msg), &ev)
			})
		}
	}
}

func TestSyslogHeaderByHand(t *testing.T) {
	// The parser accepts what it accepts; the exact bytes are checked once.
	s := openTestSyslog(t, SyslogConfig{Address: "tcp://127.0.0.1:1", Facility: "local4"})
	ev := eventtest.Minimal()
	ev.Actor.Name = `a"b\c]d`
	msg, _ := s.appendMessage(nil, &ev)
	want := fmt.Sprintf(`<166>1 2026-01-02T03:04:05.000000Z test-host.example auditproxy %d user.login_failed `+
		`[audit@32473 id="0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e10" actor="a\"b\\c\]d" outcome="failure" ip="2001:db8::1" rule="login"] `+
		"\xef\xbb\xbf{", os.Getpid())
	if !bytes.HasPrefix(msg, []byte(want)) {
		t.Errorf("message\n got %q\nwant %q...", msg, want)
	}
}

func TestSyslogMsgID(t *testing.T) {
	for _, tt := range []struct{ action, want string }{
		{"user.created", "user.created"},
		{"", "-"},
		{"a b\tc", "a_b_c"},
		{"ünï", "__n__"}, // each byte of a non-ASCII character becomes '_'
		{strings.Repeat("x", 40), strings.Repeat("x", 32)},
	} {
		if got := string(appendMsgID(nil, tt.action)); got != tt.want {
			t.Errorf("appendMsgID(%q) = %q, want %q", tt.action, got, tt.want)
		}
	}
}

func TestSyslogOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		opts    map[string]any
		wantErr string
	}{
		{map[string]any{}, `address ""`},
		{map[string]any{"address": "localhost:514"}, `address "localhost:514": want udp://host[:port]`},
		{map[string]any{"address": "http://x"}, `scheme "http"`},
		{map[string]any{"address": "tcp://x/path"}, `want udp://host[:port]`},
		{map[string]any{"address": "tcp://x", "facility": "local8"}, `facility "local8": want one of alert, audit, auth, authpriv`},
		{map[string]any{"address": "tcp://x", "sd_id": "audit"}, `sd_id "audit": want name@number`},
		{map[string]any{"address": "tcp://x", "sd_id": "au dit@1"}, `sd_id "au dit@1"`},
		{map[string]any{"address": "tcp://x", "sd_id": "audit@x1"}, `sd_id "audit@x1"`},
		{map[string]any{"address": "tcp://x", "sd_id": `a"b@1`}, `sd_id "a\"b@1"`},
		{map[string]any{"address": "tcp://x", "sd_id": strings.Repeat("a", 30) + "@12"}, `at most 32`},
		{map[string]any{"address": "tcp://x", "app_name": "two words"}, `app_name "two words"`},
		{map[string]any{"address": "tcp://x", "app_name": strings.Repeat("a", 49)}, `app_name`},
		{map[string]any{"address": "tcp://x", "hostname": "ho st"}, `hostname "ho st"`},
		{map[string]any{"address": "udp://x", "max_message": "100"}, `max_message 100: want 480 to 65507`},
		{map[string]any{"address": "udp://x", "max_message": "64KiB"}, `max_message 65536`},
		{map[string]any{"address": "tcp://x", "tls": map[string]any{}}, `tls: options given for a tcp:// address`},
		{map[string]any{"address": "tls://x", "tls": map[string]any{"ca_file": "/nonexistent"}}, `tls: ca_file: open /nonexistent`},
		{map[string]any{"address": "tls://x", "tls": map[string]any{"cert_file": "/x"}}, `cert_file and key_file go together`},
		{map[string]any{"address": "tcp://x", "colour": "red"}, `field colour not found`},
	} {
		_, err := OpenSpec(Spec{Name: "s", Type: "syslog", Options: tt.opts})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}

func TestSyslogOpen(t *testing.T) {
	// The flag form: the argument is the address.
	sink, err := Open("syslog:udp://127.0.0.1:5514")
	if err != nil {
		t.Fatal(err)
	}
	s := sink.(*Syslog)
	defer s.Close()
	host, _ := os.Hostname()
	if s.network != "udp" || s.addr != "127.0.0.1:5514" || s.facility != 10 || s.sdID != "audit@32473" || !s.bom ||
		s.max != 8192 || s.format.Name() != "json" || s.header != fmt.Sprintf(" %s auditproxy %d ", headerField(host, 255), os.Getpid()) {
		t.Errorf("defaults: %+v", s)
	}
	for addr, want := range map[string]string{"udp://h": "h:514", "tcp://h": "h:514", "tls://h": "h:6514", "tcp://[::1]": "[::1]:514"} {
		s, err := OpenSyslog(SyslogConfig{Address: addr})
		if err != nil {
			t.Fatal(err)
		}
		if s.addr != want {
			t.Errorf("%s: address %s, want %s", addr, s.addr, want)
		}
	}
}

// syslogListener is a TCP (or TLS) receiver that parses what arrives with
// go-syslog's octet-counting parser.
type syslogListener struct {
	l net.Listener

	mu    sync.Mutex
	msgs  []*rfc5424.SyslogMessage
	errs  []error
	conns []net.Conn
	arr   chan struct{} // a message arrived
}

func newSyslogListener(t *testing.T, tlsConfig *tls.Config) *syslogListener {
	t.Helper()
	var l net.Listener
	var err error
	if tlsConfig != nil {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	return serveSyslog(t, l)
}

// serveSyslog accepts connections on l and parses them.
func serveSyslog(t *testing.T, l net.Listener) *syslogListener {
	sl := &syslogListener{l: l, arr: make(chan struct{}, 1)}
	t.Cleanup(sl.close)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			sl.mu.Lock()
			sl.conns = append(sl.conns, c)
			sl.mu.Unlock()
			go octetcounting.NewParser(
				syslog.WithMaxMessageLength(1<<20),
				syslog.WithMachineOptions(rfc5424.WithCompliantMsg()),
				syslog.WithListener(func(r *syslog.Result) {
					sl.mu.Lock()
					if r.Error != nil {
						sl.errs = append(sl.errs, r.Error)
					} else {
						sl.msgs = append(sl.msgs, r.Message.(*rfc5424.SyslogMessage))
					}
					sl.mu.Unlock()
					select {
					case sl.arr <- struct{}{}:
					default:
					}
				})).Parse(c)
		}
	}()
	return sl
}

func (sl *syslogListener) addr() string { return sl.l.Addr().String() }

// dropConns closes the connections accepted so far, as a restarting
// receiver does.
func (sl *syslogListener) dropConns() {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	for _, c := range sl.conns {
		c.Close()
	}
	sl.conns = nil
}

func (sl *syslogListener) close() {
	sl.l.Close()
	sl.dropConns()
}

// wait returns the first n messages once they have arrived, failing the
// test after 10 s or on a parse error.
func (sl *syslogListener) wait(t *testing.T, n int) []*rfc5424.SyslogMessage {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		sl.mu.Lock()
		msgs, errs := slices.Clone(sl.msgs), slices.Clone(sl.errs)
		sl.mu.Unlock()
		if len(errs) > 0 {
			t.Fatalf("receiver could not parse: %v", errs)
		}
		if len(msgs) >= n {
			return msgs
		}
		select {
		case <-sl.arr:
		case <-time.After(50 * time.Millisecond):
		case <-timeout:
			t.Fatalf("%d messages after 10s, want %d", len(msgs), n)
		}
	}
}

func ids(msgs []*rfc5424.SyslogMessage, sdID string) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, (*m.StructuredData)[sdID]["id"])
	}
	return out
}

func eventIDs(evs []event.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func TestSyslogTCPFramingAndOrder(t *testing.T) {
	l := newSyslogListener(t, nil)
	s := openTestSyslog(t, SyslogConfig{Address: "tcp://" + l.addr()})
	// Enough events for several chunks, with a large one among them.
	evs := append(batch("tcp", 300), nastyEvent())
	big := eventtest.Full()
	big.ID, big.Description = "big", strings.Repeat("ä]\"\n", 40000)
	evs = append(evs, big)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	msgs := l.wait(t, len(evs))
	if got, want := ids(msgs, s.sdID), eventIDs(evs); !slices.Equal(got, want) {
		t.Fatalf("ids in order\n got %v\nwant %v", got, want)
	}
	for i := range evs {
		checkSyslog(t, s, msgs[i], &evs[i])
	}
}

func TestSyslogTCPReconnects(t *testing.T) {
	l := newSyslogListener(t, nil)
	s := openTestSyslog(t, SyslogConfig{Address: "tcp://" + l.addr()})
	ctx := context.Background()
	if err := s.Write(ctx, batch("first", 2)); err != nil {
		t.Fatal(err)
	}
	l.wait(t, 2)
	// The receiver restarts: it closes the connection. The next batch
	// must not vanish into the old connection (the kernel would take the
	// bytes and only the batch after would fail).
	l.dropConns()
	waitGone(t, s)
	if err := s.Write(ctx, batch("second", 2)); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(l.wait(t, 4), s.sdID), []string{"first-0", "first-1", "second-0", "second-1"}; !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
}

// waitGone waits until the sink's connection has noticed the receiver
// closed it (it learns that from a FIN, asynchronously).
func waitGone(t *testing.T, s *Syslog) {
	t.Helper()
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	select {
	case <-c.gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the sink did not notice the closed connection in 5s")
	}
}

func TestSyslogTCPReceiverDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nobody listens there now
	s := openTestSyslog(t, SyslogConfig{Address: "tcp://" + addr})
	err = s.Write(context.Background(), batch("down", 1))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "writing to syslog tcp://"+addr) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Write with the receiver down: %v, want a retryable connection refused", err)
	}
	// The receiver comes back on the same port: the same sink delivers.
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	sl := serveSyslog(t, l)
	if err := s.Write(context.Background(), batch("up", 1)); err != nil {
		t.Fatal(err)
	}
	if got := ids(sl.wait(t, 1), s.sdID); !slices.Equal(got, []string{"up-0"}) {
		t.Errorf("ids %v", got)
	}
}

func TestSyslogWriteHonoursContext(t *testing.T) {
	// A receiver that accepts and never reads: the socket buffers fill and
	// the write blocks, until the context ends it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		c, err := l.Accept()
		if err == nil {
			<-done
			c.Close()
		}
	}()
	s := openTestSyslog(t, SyslogConfig{Address: "tcp://" + l.Addr().String()})
	evs := batch("blocked", 20000) // ~20 MB: more than the socket buffers hold

	for _, tt := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		ctx, cancel := tt.ctx()
		start := time.Now()
		err := s.Write(ctx, evs)
		cancel()
		// Compared with the expected error, not ctx.Err(): the socket's
		// timer can end the write a moment before the context's own.
		if err == nil || IsPermanent(err) || !errors.Is(err, tt.want) {
			t.Errorf("%s: Write: %v, want the context's error", tt.name, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: Write returned after %v", tt.name, d)
		}
	}
}

func TestSyslogTLS(t *testing.T) {
	certs := testserver.NewCerts(t)
	server := certs.Server.Clone()
	server.ClientAuth = tls.RequireAndVerifyClientCert
	l := newSyslogListener(t, server)
	opts := map[string]any{
		"address":  "tls://" + l.addr(),
		"hostname": "h",
		"tls":      map[string]any{"ca_file": certs.CAFile, "cert_file": certs.ClientCert, "key_file": certs.ClientKey},
	}
	sink, err := OpenSpec(Spec{Name: "tls", Type: "syslog", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	s := sink.(*Syslog)
	defer s.Close()
	evs := append(batch("tls", 50), nastyEvent())
	ctx := context.Background()
	if err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	msgs := l.wait(t, len(evs))
	if got, want := ids(msgs, s.sdID), eventIDs(evs); !slices.Equal(got, want) {
		t.Fatalf("ids\n got %v\nwant %v", got, want)
	}
	for i := range evs {
		checkSyslog(t, s, msgs[i], &evs[i])
	}

	// TLS 1.3 servers send session tickets after the handshake: that is
	// not the receiver going away, the connection stays.
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	if err := s.Write(ctx, batch("again", 1)); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	same := s.conn == conn
	s.mu.Unlock()
	if !same {
		t.Error("a second Write reconnected")
	}
	l.wait(t, len(evs)+1)

	// A server the CA did not sign is refused, and retryable: the
	// certificate may be fixed, the events wait.
	opts["tls"] = map[string]any{}
	sink2, err := OpenSpec(Spec{Name: "tls", Type: "syslog", Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer sink2.Close()
	err = sink2.Write(ctx, batch("untrusted", 1))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Write to an untrusted server: %v", err)
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s := openTestSyslog(t, SyslogConfig{Address: "udp://" + pc.LocalAddr().String(), MaxMessage: 2048})

	big := eventtest.Full()
	big.ID, big.Description = "big", strings.Repeat("é", 3000) // 6000 bytes: cut
	huge := eventtest.Full()
	huge.ID, huge.Actor.Name = "huge", strings.Repeat("x", 3000) // does not fit even without MSG
	evs := []event.Event{eventtest.Full(), nastyEvent(), big, huge, eventtest.Minimal()}
	err = s.Write(context.Background(), evs)
	var items *ItemErrors
	if !errors.As(err, &items) || len(items.Items) != 2 ||
		items.Items[0].Index != 2 || !IsPermanent(items.Items[0].Err) || !strings.Contains(items.Items[0].Err.Error(), "event big: message of") ||
		items.Items[1].Index != 3 || !IsPermanent(items.Items[1].Err) || !strings.Contains(items.Items[1].Err.Error(), "event huge") {
		t.Fatalf("Write: %v, want permanent item errors for big (cut) and huge (not sent)", err)
	}

	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	for _, i := range []int{0, 1, 2, 4} {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram for %s: %v", evs[i].ID, err)
		}
		m := parseSyslog(t, buf[:n])
		if i == 2 { // cut: at the bound, still valid UTF-8
			if n > 2048 || n < 2045 || !utf8.ValidString(*m.Message) {
				t.Errorf("cut datagram: %d bytes, valid UTF-8 %v", n, utf8.ValidString(*m.Message))
			}
			if got := (*m.StructuredData)[s.sdID]["id"]; got != "big" {
				t.Errorf("cut datagram: id %q", got)
			}
			continue
		}
		checkSyslog(t, s, m, &evs[i])
	}
}

func TestSyslogUDPNoReceiver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	s := openTestSyslog(t, SyslogConfig{Address: "udp://" + addr})
	// The first datagram leaves; the ICMP port unreachable it draws makes
	// a later send fail with "connection refused", retryable.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := s.Write(context.Background(), batch("lost", 3))
		var items *ItemErrors
		if errors.As(err, &items) {
			if IsPermanent(items.Items[0].Err) || !strings.Contains(err.Error(), "refused") {
				t.Fatalf("Write: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no error after 5s of sending to a closed UDP port")
		}
	}
}

func TestSyslogClosed(t *testing.T) {
	s := openTestSyslog(t, SyslogConfig{Address: "tcp://127.0.0.1:1"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Write(context.Background(), batch("x", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
}

func TestSyslogOtherFormat(t *testing.T) {
	// MSG is whatever format the spec names; the header does not change.
	names := format.Names()
	for _, name := range names {
		f, _ := format.Get(name)
		s := openTestSyslog(t, SyslogConfig{Address: "tcp://127.0.0.1:1", Format: f})
		ev := nastyEvent()
		msg, _ := s.appendMessage(nil, &ev)
		checkSyslog(t, s, parseSyslog(t, msg), &ev)
	}
}

// syslogDaemons are the real receivers the sink must work with (issue 4),
// with their ways of writing down what they parsed.
var syslogDaemons = []struct {
	name     string
	start    func(testing.TB) (addrTCP, addrUDP, outFile string)
	startTLS func(testing.TB, *testserver.Certs) (addrTLS, outFile string)
	// nilValue is what the daemon writes for a NILVALUE field.
	nilValue string
	// keepsBOM: the daemon's MSG starts with the BOM that was sent
	// (rsyslog); syslog-ng takes it as the mark of UTF-8 and drops it.
	keepsBOM bool
}{
	{"rsyslog", testserver.StartRsyslog, testserver.StartRsyslogTLS, "-", true},
	{"syslog-ng", testserver.StartSyslogNG, testserver.StartSyslogNGTLS, "", false},
}

// TestSyslogDaemons sends to real rsyslogd and syslog-ng over TCP, UDP
// and TLS and checks what each daemon parsed out of every message.
func TestSyslogDaemons(t *testing.T) {
	for _, d := range syslogDaemons {
		t.Run(d.name, func(t *testing.T) {
			addrTCP, addrUDP, out := d.start(t)
			certs := testserver.NewCerts(t)
			addrTLS, outTLS := d.startTLS(t, certs)
			ctx := context.Background()
			var all []event.Event
			byID := map[string]*Syslog{}
			for _, addr := range []string{"tcp://" + addrTCP, "udp://" + addrUDP, "tls://" + addrTLS} {
				c := SyslogConfig{Address: addr, Facility: "local3"}
				if strings.HasPrefix(addr, "tls:") {
					c.TLS = &TLSConfig{CAFile: certs.CAFile}
				}
				s := openTestSyslog(t, c)
				empty := eventtest.Minimal()
				empty.ID = "empty" // NILVALUE for MSGID
				empty.Action, empty.Outcome, empty.Source.IP, empty.Rule = "", "", "", ""
				// No control characters in SD values here: rsyslog rewrites
				// them (NUL as "#000", CR and ESC dropped) and syslog-ng
				// writes NUL back as "\x00" in $SDATA. That is the daemons'
				// doing; TestSyslogMessageParses covers what the sink sends.
				evs := []event.Event{eventtest.Full(), eventtest.Minimal(), nastyEvent(), empty}
				for i := range evs {
					evs[i].ID = addr[:3] + "-" + evs[i].ID
					byID[evs[i].ID] = s
				}
				if err := s.Write(ctx, evs); err != nil {
					t.Fatalf("%s: %v", addr, err)
				}
				all = append(all, evs...)
			}
			recs := append(testserver.WaitForSyslogRecords(t, out, 8, 10*time.Second),
				testserver.WaitForSyslogRecords(t, outTLS, 4, 10*time.Second)...)
			got := map[string]testserver.SyslogRecord{}
			for _, r := range recs {
				got[parseSD(t, r.SData)["audit@32473"]["id"]] = r
			}
			for i := range all {
				ev := &all[i]
				r, ok := got[ev.ID]
				if !ok {
					t.Errorf("%s not written by %s; it wrote %+v", ev.ID, d.name, recs)
					continue
				}
				checkSyslogRecord(t, byID[ev.ID], r, ev, d.nilValue, d.keepsBOM)
			}
		})
	}
}

// parseSD parses a STRUCTURED-DATA field (or the NILVALUE, or nothing).
func parseSD(t *testing.T, sd string) map[string]map[string]string {
	t.Helper()
	if sd == "" || sd == "-" {
		return nil
	}
	m := parseSyslog(t, []byte("<14>1 - - - - - "+sd))
	return *m.StructuredData
}

// checkSyslogRecord compares what a daemon parsed with what s should have
// sent for ev.
func checkSyslogRecord(t *testing.T, s *Syslog, r testserver.SyslogRecord, ev *event.Event, nilValue string, keepsBOM bool) {
	t.Helper()
	if got, want := r.PRI, strconv.Itoa(s.facility*8+syslogSeverity(ev.Severity)); got != want {
		t.Errorf("%s: PRI %s, want %s", ev.ID, got, want)
	}
	if tm, err := time.Parse(time.RFC3339Nano, r.Time); err != nil || !tm.Equal(ev.Time.Truncate(time.Microsecond)) {
		t.Errorf("%s: time %q, want %v", ev.ID, r.Time, ev.Time.Truncate(time.Microsecond))
	}
	header := strings.Fields(s.header)
	wantMsgID := string(appendMsgID(nil, ev.Action))
	if wantMsgID == "-" {
		wantMsgID = nilValue
	}
	for _, f := range []struct{ name, got, want string }{
		{"host", r.Host, header[0]},
		{"program", r.Program, header[1]},
		{"pid", r.PID, strconv.Itoa(os.Getpid())},
		{"msgid", r.MsgID, wantMsgID},
	} {
		if f.got != f.want {
			t.Errorf("%s: %s %q, want %q", ev.ID, f.name, f.got, f.want)
		}
	}
	sd := parseSD(t, r.SData)
	if len(sd) != 1 {
		t.Errorf("%s: structured data %q, want one element %s", ev.ID, r.SData, s.sdID)
	}
	wantSD := syslogWantSD(ev)
	if got := sd[s.sdID]; !mapsEqual(got, wantSD) {
		t.Errorf("%s: [%s] params\n got %q\nwant %q", ev.ID, s.sdID, got, wantSD)
	}
	if r.Params != nil { // the daemon's own parse of the structured data
		if got := r.Params[s.sdID]; len(r.Params) != 1 || !mapsEqual(got, wantSD) {
			t.Errorf("%s: parsed params\n got %q\nwant %q", ev.ID, r.Params, wantSD)
		}
	}
	want := string(s.format.Append(nil, ev))
	if s.bom && keepsBOM {
		want = "\uFEFF" + want
	}
	if r.Msg != want {
		t.Errorf("%s: MSG\n got %q\nwant %q", ev.ID, r.Msg, want)
	}
}

func BenchmarkSyslogTCP(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	s, err := OpenSyslog(SyslogConfig{Address: "tcp://" + l.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	evs := batch("bench", 100)
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

func BenchmarkSyslogEncode(b *testing.B) {
	s, err := OpenSyslog(SyslogConfig{Address: "tcp://127.0.0.1:1"})
	if err != nil {
		b.Fatal(err)
	}
	ev := eventtest.Full()
	var buf []byte
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf, _ = s.appendMessage(buf[:0], &ev)
		n++
	}
	reportRate(b, n)
}
