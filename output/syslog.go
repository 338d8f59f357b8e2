package output

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("syslog", Kind{FlagArg: "address", Open: openWithConfig(OpenSyslog,
		func(c *SyslogConfig) *format.Format { return &c.Format })})
}

var _ Sink = (*Syslog)(nil)

// SyslogConfig configures a syslog output: the options of type: syslog.
//
//	outputs:
//	  - type: syslog
//	    address: tls://logs.example:6514
//	    facility: local3
//	    tls: {ca_file: /etc/ssl/logs-ca.pem}
type SyslogConfig struct {
	// Address is udp://host[:514], tcp://host[:514] or tls://host[:6514].
	// udp sends one message per datagram (RFC 5426) and knows nothing of
	// its fate; tcp and tls frame messages by octet counting (RFC 6587
	// 3.4.1, RFC 5425 4.3.1) over one persistent connection.
	Address string `yaml:"address"`
	// AppName is the APP-NAME header field; "" = "auditproxy".
	AppName string `yaml:"app_name"`
	// Hostname is the HOSTNAME header field; "" = os.Hostname().
	Hostname string `yaml:"hostname"`
	// Facility names the facility (RFC 5424 6.2.1): kern, user, mail,
	// daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp,
	// audit, alert, clock, local0 ... local7. "" = authpriv: audit events
	// are security messages, and the stock rsyslog and syslog-ng configs
	// route authpriv to a file readable by root only (auth.log, secure)
	// instead of the world-readable general log; audit events name users
	// and addresses.
	Facility string `yaml:"facility"`
	// SDID is the SD-ID of the structured data element; "" = audit@32473.
	// 32473 is the private enterprise number reserved for documentation
	// (RFC 5612); use your organisation's. It must have the form
	// name@number (RFC 5424 6.3.2: names without @ are IANA's).
	SDID string `yaml:"sd_id"`
	// BOM starts the MSG part with a UTF-8 byte order mark when the record
	// is valid UTF-8, as RFC 5424 6.4 asks. nil = true; set false for
	// receivers that show the mark as garbage.
	BOM *bool `yaml:"bom"`
	// MaxMessage bounds one UDP datagram; 0 = 8 KiB, at most 65507 (the
	// largest UDP payload over IPv4). A longer message is sent with its
	// MSG cut at the bound, and the event is reported as permanently
	// failed so that delivery dead-letters it whole: the loss is loud.
	// 8 KiB is rsyslog's default maxMessageSize; beyond the receiver's
	// limit it would cut the message silently. RFC 5426 3.2 promises
	// only 480 (IPv4) or 1180 (IPv6) octets; lower it for unknown paths.
	// Over tcp and tls messages are never cut, but receivers have limits
	// too (rsyslog: global(maxMessageSize=...)).
	MaxMessage ByteSize `yaml:"max_message"`
	// Timeout bounds connecting and each Write's sending when the
	// context sets no earlier deadline; 0 = 30s.
	Timeout time.Duration `yaml:"timeout"`
	// TLS configures tls:// addresses (and is refused for the others).
	TLS *TLSConfig `yaml:"tls"`

	// Format encodes each event's record, the MSG part; nil = json.
	Format format.Format `yaml:"-"`
}

// Syslog sends events as RFC 5424 messages, one per event:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [audit@32473 id="…" …] BOM record
//
// PRI is the facility and the event's severity; TIMESTAMP the event's time
// in UTC with microseconds; PROCID the proxy's pid; MSGID the event's
// action (cut to 32 characters, see appendMsgID). The structured data element
// carries id, actor, actor_id, target, target_id, outcome, ip and rule,
// each only when not empty, so that a receiver can filter without parsing
// the record. MSG is the record in the configured format.
//
// Delivery: over tcp and tls, nil from Write means the kernel took the
// bytes on a connection the receiver had not closed; plain syslog has no
// acknowledgements, so a receiver that dies right after can still lose
// them. Over udp it means the datagrams left.
type Syslog struct {
	network string // udp, tcp or tls
	addr    string // host:port
	tls     *tls.Config
	timeout time.Duration
	max     int // largest UDP datagram

	format   format.Format
	facility int
	sdID     string
	bom      bool
	header   string // " HOSTNAME APP-NAME PROCID ", the same for every message

	mu     sync.Mutex
	conn   *syslogConn // nil until dialled, and after a failure
	buf    []byte      // frames waiting to be written
	msg    []byte      // one message being encoded
	closed bool
}

// syslogConn is one connection to the receiver.
type syslogConn struct {
	net.Conn
	// gone is closed when the receiver closes or resets the connection.
	// Syslog receivers never send (the protocol is one-way), so a
	// goroutine that reads learns of it at once. Checking before a write
	// keeps the first batch after a receiver's restart from going into a
	// dead connection: the kernel accepts that write, and only the next
	// one fails.
	gone chan struct{}
}

func newSyslogConn(c net.Conn) *syslogConn {
	sc := &syslogConn{Conn: c, gone: make(chan struct{})}
	if _, udp := c.(*net.UDPConn); udp {
		return sc // nothing to learn from reading: no connection
	}
	go func() {
		defer close(sc.gone)
		// Reading a tls.Conn also handles what the server sends after the
		// handshake (TLS 1.3 session tickets), which is not app data.
		b := make([]byte, 256)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
		}
	}()
	return sc
}

func (c *syslogConn) isGone() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// Facilities by name, RFC 5424 6.2.1 table 1. audit is "log audit" (13),
// alert "log alert" (14), clock the second clock daemon (15).
var syslogFacilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// syslogSeverity maps the event's severity to RFC 5424 6.2.1 table 2;
// anything else (the zero value included) is informational.
func syslogSeverity(s event.Severity) int {
	switch s {
	case event.SeverityDebug:
		return 7
	case event.SeverityNotice:
		return 5
	case event.SeverityWarning:
		return 4
	case event.SeverityError:
		return 3
	case event.SeverityCritical:
		return 2
	}
	return 6
}

const (
	defaultSyslogSDID = "audit@32473"
	maxUDPPayload     = 65507 // 65535 - 8 (UDP header) - 20 (IPv4 header)
)

// OpenSyslog checks c and returns the sink. It does not connect: the
// first Write does, so that a receiver down at start costs retries, not
// the start.
func OpenSyslog(c SyslogConfig) (*Syslog, error) {
	s := &Syslog{format: c.Format, bom: c.BOM == nil || *c.BOM, timeout: c.Timeout, max: int(c.MaxMessage)}
	if s.format == nil {
		s.format, _ = format.Get("json")
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}

	u, err := url.Parse(c.Address)
	if c.Address == "" || err != nil || u.Host == "" || u.Path != "" || u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("syslog: address %q: want udp://host[:port], tcp://host[:port] or tls://host[:port]", c.Address)
	}
	defaultPort := map[string]string{
		"udp": "514",  // RFC 5426 3.3
		"tcp": "514",  // no assigned port (RFC 6587 is informational); what rsyslog and syslog-ng use
		"tls": "6514", // RFC 5425 4.1
	}[u.Scheme]
	if defaultPort == "" {
		return nil, fmt.Errorf("syslog: address %q: scheme %q is not udp, tcp or tls", c.Address, u.Scheme)
	}
	s.network, s.addr = u.Scheme, u.Host
	if u.Port() == "" {
		s.addr = net.JoinHostPort(u.Hostname(), defaultPort)
	}
	switch {
	case s.network == "tls":
		tc := c.TLS
		if tc == nil {
			tc = &TLSConfig{}
		}
		if s.tls, err = tc.Config(); err != nil {
			return nil, fmt.Errorf("syslog: %w", err)
		}
	case c.TLS != nil:
		return nil, fmt.Errorf("syslog: tls: options given for a %s:// address; use tls://", s.network)
	}

	switch {
	case s.max == 0:
		s.max = 8 << 10
	case s.max < 480 || s.max > maxUDPPayload:
		return nil, fmt.Errorf("syslog: max_message %d: want 480 to %d bytes (RFC 5426 3.2; the largest UDP payload)", s.max, maxUDPPayload)
	}

	facility := c.Facility
	if facility == "" {
		facility = "authpriv"
	}
	var ok bool
	if s.facility, ok = syslogFacilities[facility]; !ok {
		names := make([]string, 0, len(syslogFacilities))
		for n := range syslogFacilities {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("syslog: facility %q: want one of %s", facility, strings.Join(names, ", "))
	}

	s.sdID = c.SDID
	if s.sdID == "" {
		s.sdID = defaultSyslogSDID
	}
	name, pen, at := strings.Cut(s.sdID, "@")
	if !at || !isSDName(s.sdID) || name == "" || !isDigits(pen) {
		return nil, fmt.Errorf("syslog: sd_id %q: want name@number, at most 32 printable ASCII characters without '=', ']', '\"' or spaces (RFC 5424 6.3.2)", s.sdID)
	}

	appName := c.AppName
	if appName == "" {
		appName = "auditproxy"
	}
	if !isPrintASCII(appName) || len(appName) > 48 {
		return nil, fmt.Errorf("syslog: app_name %q: want 1 to 48 printable ASCII characters, no spaces (RFC 5424 6.2.5)", appName)
	}
	hostname := c.Hostname
	if hostname == "" {
		// Not the configuration's mistake when the system's name does not
		// fit: keep what fits and mark the rest.
		h, _ := os.Hostname()
		hostname = headerField(h, 255)
	} else if !isPrintASCII(hostname) || len(hostname) > 255 {
		return nil, fmt.Errorf("syslog: hostname %q: want 1 to 255 printable ASCII characters, no spaces (RFC 5424 6.2.4)", hostname)
	}
	s.header = " " + hostname + " " + appName + " " + strconv.Itoa(os.Getpid()) + " "
	return s, nil
}

// isPrintASCII reports whether s is PRINTUSASCII (33-126) and not empty,
// the alphabet of RFC 5424 header fields (6).
func isPrintASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return s != ""
}

// isSDName reports whether s is an SD-NAME: 1-32 PRINTUSASCII except '=',
// SP, ']' and '"' (RFC 5424 6).
func isSDName(s string) bool {
	return isPrintASCII(s) && len(s) <= 32 && !strings.ContainsAny(s, `="]`)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// headerField makes v a header field of at most max PRINTUSASCII
// characters (RFC 5424 6): others become '_', the rest is cut, and an
// empty value is the NILVALUE "-".
func headerField(v string, max int) string {
	if v == "" {
		return "-"
	}
	if len(v) > max {
		v = v[:max]
	}
	if isPrintASCII(v) {
		return v
	}
	b := []byte(v)
	for i, c := range b {
		if c < 33 || c > 126 {
			b[i] = '_'
		}
	}
	return string(b)
}

// appendMessage appends the RFC 5424 message for ev to dst, unframed. It
// returns where MSG starts (after the BOM), for truncation.
func (s *Syslog) appendMessage(dst []byte, ev *event.Event) ([]byte, int) {
	// PRI, 6.2.1: facility * 8 + severity. VERSION, 6.2.2: 1.
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(s.facility*8+syslogSeverity(ev.Severity)), 10)
	dst = append(dst, ">1 "...)
	dst = appendTimestamp(dst, ev.Time)
	dst = append(dst, s.header...)
	dst = appendMsgID(dst, ev.Action)
	dst = append(dst, ' ')
	dst = s.appendSD(dst, ev)

	// MSG, 6.4: after a space; BOM then UTF-8, or any octets without BOM.
	dst = append(dst, ' ')
	start := len(dst)
	if s.bom {
		dst = append(dst, "\xEF\xBB\xBF"...)
	}
	at := len(dst)
	dst = s.format.Append(dst, ev)
	if s.bom && !utf8.Valid(dst[at:]) {
		// Not UTF-8 (a format passing bytes through): the BOM would claim
		// it is. Take it out again.
		dst = append(dst[:start], dst[at:]...)
		at = start
	}
	return dst, at
}

// appendTimestamp writes TIMESTAMP (6.2.3): RFC 3339 in UTC with
// microseconds, the most TIME-SECFRAC allows. A time outside the years
// 0000-9999 has no such form and becomes the NILVALUE.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return append(dst, '-')
	}
	return t.AppendFormat(dst, event.TimeFormat)
}

// appendMsgID writes MSGID (6.2.7): the action, in at most 32 PRINTUSASCII
// characters; others become '_'. Actions are dotted ASCII words in
// practice; the record always holds the action whole.
func appendMsgID(dst []byte, action string) []byte {
	if action == "" {
		return append(dst, '-')
	}
	if len(action) > 32 {
		action = action[:32]
	}
	for i := 0; i < len(action); i++ {
		c := action[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendSD writes the STRUCTURED-DATA element (6.3), leaving out empty
// values.
func (s *Syslog) appendSD(dst []byte, ev *event.Event) []byte {
	dst = append(dst, '[')
	dst = append(dst, s.sdID...)
	for _, p := range [...]struct{ name, value string }{
		{"id", ev.ID},
		{"actor", ev.Actor.Name},
		{"actor_id", ev.Actor.ID},
		{"target", ev.Target.Name},
		{"target_id", ev.Target.ID},
		{"outcome", string(ev.Outcome)},
		{"ip", ev.Source.IP},
		{"rule", ev.Rule},
	} {
		if p.value == "" {
			continue
		}
		dst = append(dst, ' ')
		dst = append(dst, p.name...)
		dst = append(dst, `="`...)
		dst = appendParamValue(dst, p.value)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// appendParamValue writes a PARAM-VALUE: UTF-8 with '"', '\' and ']'
// escaped by a backslash, as RFC 5424 6.3.3 requires. Invalid UTF-8
// becomes U+FFFD, since the value must be UTF-8. Other characters,
// control characters included, go as they are: octet counting and
// datagrams do not care, and the standard asks nothing more.
func appendParamValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c == '"' || c == '\\' || c == ']' {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, v[i:i+size]...)
		}
		i += size
	}
	return dst
}

// Write sends the events in order. Over tcp and tls an error means the
// batch must be sent again (part of it may have arrived; the ids tell the
// copies apart) and the next Write reconnects. Over udp the error is an
// *ItemErrors: events cut to max_message are permanent failures (they
// were sent cut), events after a failed send are retryable.
func (s *Syslog) Write(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing to syslog %s://%s: %w", s.network, s.addr, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("writing to syslog %s://%s: %w", s.network, s.addr, ErrClosed)
	}
	if len(events) == 0 {
		return nil // nothing to connect for
	}
	var err error
	if s.network == "udp" {
		err = s.writeUDP(ctx, events)
	} else {
		err = s.writeStream(ctx, events)
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep one huge batch's buffer for ever
	}
	if cap(s.msg) > 1<<20 {
		s.msg = nil
	}
	if err != nil {
		return fmt.Errorf("writing to syslog %s://%s: %w", s.network, s.addr, err)
	}
	return nil
}

// writeStream sends the events over tcp or tls, each framed by octet
// counting: "MSG-LEN SP SYSLOG-MSG" (RFC 6587 3.4.1; RFC 5425 4.3.1 for
// TLS). Unlike newline framing it lets any byte appear in a message.
func (s *Syslog) writeStream(ctx context.Context, events []event.Event) error {
	if s.conn != nil && s.conn.isGone() {
		s.conn.Close()
		s.conn = nil
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(s.timeout)
	ctxDeadline := false // the write deadline is the context's
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxDeadline = d, true
	}
	conn := s.conn
	conn.SetWriteDeadline(deadline)
	// A cancelled ctx interrupts a write blocked on a full connection.
	stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Now()) })
	defer stop()

	s.buf = s.buf[:0]
	for i := range events {
		s.msg, _ = s.appendMessage(s.msg[:0], &events[i])
		s.buf = strconv.AppendInt(s.buf, int64(len(s.msg)), 10)
		s.buf = append(s.buf, ' ')
		s.buf = append(s.buf, s.msg...)
		if len(s.buf) >= chunkSize || i == len(events)-1 {
			if _, err := conn.Write(s.buf); err != nil {
				// A frame may be cut: the stream is lost, start a new one.
				conn.Close()
				s.conn = nil
				switch {
				case ctx.Err() != nil:
					err = ctx.Err()
				case ctxDeadline && errors.Is(err, os.ErrDeadlineExceeded):
					// The socket's timer can fire a moment before the
					// context's: it is the same deadline.
					err = context.DeadlineExceeded
				}
				return err
			}
			s.buf = s.buf[:0]
		}
	}
	return nil
}

// writeUDP sends one datagram per event (RFC 5426 3.1).
func (s *Syslog) writeUDP(ctx context.Context, events []event.Event) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	var failed ItemErrors
	for i := range events {
		if err := ctx.Err(); err != nil {
			for j := i; j < len(events); j++ {
				failed.Items = append(failed.Items, ItemError{Index: j, Err: err})
			}
			break
		}
		var at int
		s.msg, at = s.appendMessage(s.msg[:0], &events[i])
		var cut error
		if len(s.msg) > s.max {
			if at > s.max {
				failed.Items = append(failed.Items, ItemError{Index: i, Err: Permanent(fmt.Errorf(
					"event %s: its message is %d bytes before the record; max_message is %d", events[i].ID, at, s.max))})
				continue
			}
			cut = Permanent(fmt.Errorf("event %s: message of %d bytes sent cut to max_message %d", events[i].ID, len(s.msg), s.max))
			s.msg = truncateUTF8(s.msg, at, s.max)
		}
		if _, err := s.conn.Write(s.msg); err != nil {
			// Mostly ECONNREFUSED: an ICMP port unreachable for an earlier
			// datagram. This one and the rest wait for the next Write.
			s.conn.Close()
			s.conn = nil
			for j := i; j < len(events); j++ {
				failed.Items = append(failed.Items, ItemError{Index: j, Err: err})
			}
			break
		}
		if cut != nil {
			failed.Items = append(failed.Items, ItemError{Index: i, Err: cut})
		}
	}
	if len(failed.Items) > 0 {
		return &failed
	}
	return nil
}

// truncateUTF8 cuts msg to at most max bytes, never inside the UTF-8
// character of the MSG part (which starts at msgAt), so that a BOM's
// promise holds.
func truncateUTF8(msg []byte, msgAt, max int) []byte {
	cut := max
	for cut > msgAt && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut]
}

// dial connects, within the timeout and ctx.
func (s *Syslog) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	if s.network == "tls" {
		c, err = (&tls.Dialer{NetDialer: d, Config: s.tls}).DialContext(ctx, "tcp", s.addr)
	} else {
		c, err = d.DialContext(ctx, s.network, s.addr)
	}
	if err != nil {
		return err
	}
	s.conn = newSyslogConn(c)
	return nil
}

// Close closes the connection. Later Writes fail with ErrClosed; closing
// again does nothing.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	if err != nil {
		return fmt.Errorf("closing syslog %s://%s: %w", s.network, s.addr, err)
	}
	return nil
}
