package output

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("nats", Kind{FlagArg: "url", Open: openWithConfig(OpenNATS,
		func(c *NATSConfig) *format.Format { return &c.Format })})
}

var _ Sink = (*NATS)(nil)

// NATSConfig configures a nats output: the options of type: nats.
//
//	outputs:
//	  - type: nats
//	    url: nats://nats-1:4222,nats://nats-2:4222
//	    subject: audit.{action}
//	    stream: AUDIT
//	    create_stream: true
//	    credentials_file: /etc/auditproxy/nats.creds
type NATSConfig struct {
	// URL of the server; several, separated by commas, for a cluster. ""
	// = nats://127.0.0.1:4222.
	URL string `yaml:"url"`
	// Subject to publish to; "" = "audit.events". "{action}" in it is
	// replaced by the event's action, whose dots make more tokens:
	// audit.{action} gives audit.user.created, and a consumer can take
	// audit.user.> . In the action, whitespace, '*' and '>' become '_'
	// and empty tokens "_", so that every event has a valid subject.
	Subject string `yaml:"subject"`
	// Stream is the JetStream stream the subject belongs to. When set,
	// every publish asks the server to check that the message landed in
	// it. "" = whichever stream takes the subject.
	Stream string `yaml:"stream"`
	// CreateStream creates Stream (file storage, JetStream's defaults:
	// a 2-minute duplicate window, no limits) when it does not exist yet,
	// with StreamSubjects. An existing stream is left as it is.
	CreateStream bool `yaml:"create_stream"`
	// StreamSubjects for a stream to create; "" = the subject, with a
	// trailing .{action} as .> (audit.{action}: audit.>). Required when
	// {action} is elsewhere in the subject.
	StreamSubjects []string `yaml:"stream_subjects"`
	// CredentialsFile is a .creds file (user JWT and seed) for
	// decentralised authentication.
	CredentialsFile string `yaml:"credentials_file"`
	// Token authenticates with a token.
	Token string `yaml:"token"`
	// TLS connects over TLS; nil = as the URL and the server ask.
	TLS *TLSConfig `yaml:"tls"`
	// Timeout bounds the wait for each publish's acknowledgement, and for
	// creating the stream; 0 = 10s.
	Timeout time.Duration `yaml:"timeout"`

	// Format encodes each message's data; nil = json.
	Format format.Format `yaml:"-"`
}

// NATS publishes one JetStream message per event and waits for the
// stream to acknowledge it. Each message carries the headers Nats-Msg-Id
// (the event id: JetStream drops a message whose id it has seen within
// the stream's duplicate window, 2 minutes by default, so a retried batch
// is stored once; beyond the window, consumers deduplicate by id),
// Content-Type (the format's) and Audit-Action.
//
// While the connection is down, publishing fails at once instead of
// queueing in memory (the buffer in front of the sink is the queue); the
// client reconnects in the background, every second, for ever.
type NATS struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	subject string // with {action} to replace
	stream  string
	timeout time.Duration
	format  format.Format

	create         bool // the stream is to be created if missing
	streamSubjects []string

	streamMu sync.Mutex
	streamOK bool // the stream exists (created or found)

	// mu lets Close wait for Writes in flight, so that their messages are
	// answered rather than failed by the closing connection.
	mu     sync.RWMutex
	closed bool
}

const (
	defaultNATSSubject = "audit.events"
	actionPlaceholder  = "{action}"
)

// OpenNATS checks c and connects. A server that is down does not fail
// Open: the connection keeps trying, and Writes fail until it succeeds.
func OpenNATS(c NATSConfig) (*NATS, error) {
	n := &NATS{subject: c.Subject, stream: c.Stream, timeout: c.Timeout, format: c.Format, create: c.CreateStream, streamSubjects: c.StreamSubjects}
	if n.subject == "" {
		n.subject = defaultNATSSubject
	}
	if n.timeout <= 0 {
		n.timeout = 10 * time.Second
	}
	if n.format == nil {
		n.format, _ = format.Get("json")
	}
	url := c.URL
	if url == "" {
		url = nats.DefaultURL
	}
	if err := checkNATSSubject(strings.ReplaceAll(n.subject, actionPlaceholder, "x"), false); err != nil {
		return nil, fmt.Errorf("nats: subject %q: %w", n.subject, err)
	}
	if n.create {
		if n.stream == "" {
			return nil, errors.New("nats: create_stream needs stream: (the stream's name)")
		}
		if len(n.streamSubjects) == 0 {
			prefix, found := strings.CutSuffix(n.subject, "."+actionPlaceholder)
			switch {
			case !strings.Contains(n.subject, actionPlaceholder):
				n.streamSubjects = []string{n.subject}
			case found && !strings.Contains(prefix, actionPlaceholder):
				n.streamSubjects = []string{prefix + ".>"}
			default:
				return nil, fmt.Errorf("nats: subject %q: with {action} not at the end, create_stream needs stream_subjects", n.subject)
			}
		}
		for _, s := range n.streamSubjects {
			if err := checkNATSSubject(s, true); err != nil {
				return nil, fmt.Errorf("nats: stream_subjects: %q: %w", s, err)
			}
		}
	} else if len(c.StreamSubjects) > 0 {
		return nil, errors.New("nats: stream_subjects without create_stream: true")
	}
	if strings.ContainsAny(n.stream, " \t\r\n.*>/\\") {
		return nil, fmt.Errorf("nats: stream %q: a stream name has no spaces, '.', '*', '>', '/' or '\\'", n.stream)
	}

	opts := []nats.Option{
		nats.Name("auditproxy"),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		// Fail publishes while disconnected rather than hold them in an
		// 8 MB memory buffer that a crash would lose.
		nats.ReconnectBufSize(-1),
		// Keep the client library quiet: errors reach the caller of Write.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.CredentialsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredentialsFile))
	}
	if c.TLS != nil {
		tc, err := c.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("nats: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connecting to %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(n.timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats: %w", err)
	}
	n.nc, n.js = nc, js
	return n, nil
}

// checkNATSSubject reports what makes s no valid subject to publish to
// (or, with wildcards, to capture in a stream): whitespace, empty tokens,
// or wildcards.
func checkNATSSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return errors.New("whitespace in a subject")
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return errors.New("an empty token (two dots, or a dot at an end)")
		case !wildcards && (tok == "*" || tok == ">"):
			return errors.New("a wildcard in a subject to publish to")
		case wildcards && tok == ">" && i != len(tokens)-1:
			return errors.New("'>' not at the end")
		}
	}
	return nil
}

// subjectFor returns the subject for ev, with {action} replaced.
func (n *NATS) subjectFor(ev *event.Event) string {
	if !strings.Contains(n.subject, actionPlaceholder) {
		return n.subject
	}
	tokens := strings.Split(ev.Action, ".")
	for i, tok := range tokens {
		tok = strings.Map(func(r rune) rune {
			if r <= ' ' || r == 0x7f || r == '*' || r == '>' {
				return '_'
			}
			return r
		}, tok)
		if tok == "" {
			tok = "_"
		}
		tokens[i] = tok
	}
	return strings.ReplaceAll(n.subject, actionPlaceholder, strings.Join(tokens, "."))
}

// Write publishes the events and waits for their acknowledgements, within
// ctx and the timeout. Messages that were not stored come back as
// *ItemErrors; see natsItemError for which are permanent.
func (n *NATS) Write(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing to nats %s: %w", n.subject, err)
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return fmt.Errorf("writing to nats %s: %w", n.subject, ErrClosed)
	}
	if len(events) == 0 {
		return nil
	}

	// Publishing now would fail with "outbound buffer limit exceeded" (see
	// ReconnectBufSize): say what is wrong instead.
	if st := n.nc.Status(); st != nats.CONNECTED {
		err := fmt.Errorf("not connected (%v)", st)
		if last := n.nc.LastError(); last != nil {
			err = fmt.Errorf("not connected (%v; last error: %w)", st, last)
		}
		return fmt.Errorf("writing to nats %s: %w", n.subject, err)
	}
	if err := n.ensureStream(ctx); err != nil {
		return fmt.Errorf("writing to nats %s: %w", n.subject, err)
	}

	pubOpts := []jetstream.PublishOpt{jetstream.WithStallWait(n.timeout)}
	if n.stream != "" {
		pubOpts = append(pubOpts, jetstream.WithExpectStream(n.stream))
	}
	contentType := n.format.ContentType()
	failed := &ItemErrors{}
	fail := func(i int, err error) {
		failed.Items = append(failed.Items, ItemError{Index: i, Err: natsItemError(&events[i], err)})
	}
	futures := make([]jetstream.PubAckFuture, len(events))
	for i := range events {
		ev := &events[i]
		msg := &nats.Msg{
			Subject: n.subjectFor(ev),
			// Its own buffer: the client publishes it again after a "no
			// responders" until the ack, so it must stay as it is.
			Data:   n.format.Append(nil, ev),
			Header: nats.Header{"Content-Type": {contentType}, "Audit-Action": {ev.Action}},
		}
		f, err := n.js.PublishMsgAsync(msg, append(pubOpts, jetstream.WithMsgID(ev.ID))...)
		if err != nil {
			fail(i, err)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok(): // stored, or a duplicate of a stored one
		case err := <-f.Err():
			fail(i, err)
		case <-ctx.Done():
			fail(i, ctx.Err())
		}
	}
	if len(failed.Items) > 0 {
		// Publishing fails some at once, the acknowledgements others later.
		slices.SortFunc(failed.Items, func(a, b ItemError) int { return cmp.Compare(a.Index, b.Index) })
		return fmt.Errorf("writing to nats %s: %w", n.subject, failed)
	}
	return nil
}

// ensureStream creates the stream once, when asked to. It runs before the
// first publish rather than in Open, so that a server down at start only
// delays it.
func (n *NATS) ensureStream(ctx context.Context) error {
	if !n.create {
		return nil
	}
	n.streamMu.Lock()
	defer n.streamMu.Unlock()
	if n.streamOK {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	_, err := n.js.Stream(ctx, n.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = n.js.CreateStream(ctx, jetstream.StreamConfig{Name: n.stream, Subjects: n.streamSubjects, Storage: jetstream.FileStorage})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another proxy was quicker
		}
	}
	if err != nil {
		return fmt.Errorf("creating stream %s: %w", n.stream, err)
	}
	n.streamOK = true
	return nil
}

// natsItemError classifies the error for one message. Permanent are
// answers about the message itself: larger than the server's max_payload
// (the client checks before sending) or than the stream's max_msg_size.
// Everything else is retryable: no connection, no acknowledgement in
// time, no stream for the subject, the wrong stream, a full stream.
// Those are outages or configuration mistakes that an operator fixes; the
// events wait in the buffer instead of going to the dead-letter file.
func natsItemError(ev *event.Event, err error) error {
	err = fmt.Errorf("event %s: %w", ev.ID, err)
	var api *jetstream.APIError
	if errors.Is(err, nats.ErrMaxPayload) || errors.As(err, &api) && api.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum {
		return Permanent(err)
	}
	return err
}

// Close waits for Writes in flight and closes the connection. Later
// Writes fail with ErrClosed; closing again does nothing.
func (n *NATS) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.closed {
		n.closed = true
		n.nc.Close()
	}
	return nil
}
