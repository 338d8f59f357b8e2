package format

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/rs/zerolog"
)

// AppendJSON appends ev to dst as one line of native JSON (the shape of
// shared/event.schema.json, fields in the order of event.Event, empty
// optional fields left out) ending in a newline, and returns the extended
// buffer. Every sink writes the native format through it.
func AppendJSON(dst []byte, ev *event.Event) []byte {
	if ev.Line != nil {
		return append(dst, ev.Line...)
	}
	w := &lineWriter{buf: dst}
	logger := zerolog.New(w)
	line := logger.Log()
	if line == nil {
		// Only zerolog.SetGlobalLevel(zerolog.Disabled) gets here. It is
		// meant to silence logs, never to lose audit events: say the same
		// with encoding/json (the same fields; the time without trailing
		// zeros in its fraction).
		return appendStdJSON(dst, ev)
	}
	line.EmbedObject((*eventObject)(ev)).Send()
	return w.buf
}

// lineWriter collects the line zerolog writes. It never fails, so zerolog's
// ErrorHandler is never called.
type lineWriter struct{ buf []byte }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// WriteLevel makes lineWriter a zerolog.LevelWriter, which zerolog.New then
// uses as it is instead of wrapping it in a new adapter per line.
func (w *lineWriter) WriteLevel(_ zerolog.Level, p []byte) (int, error) { return w.Write(p) }

// appendStdJSON is AppendJSON through encoding/json and the struct tags of
// package event, for when zerolog will not write.
func appendStdJSON(dst []byte, ev *event.Event) []byte {
	e := *ev
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	if math.IsNaN(e.HTTP.DurationMS) || math.IsInf(e.HTTP.DurationMS, 0) {
		e.HTTP.DurationMS = 0
	}
	if len(e.Changes) > 0 {
		cs := make(event.Changes, len(e.Changes))
		for i, c := range e.Changes {
			c.From, c.To = lineSafe(c.From), lineSafe(c.To)
			cs[i] = c
		}
		e.Changes = cs
	}
	b, err := json.Marshal(&e)
	if err != nil {
		// Every value is checked above but the time, which encoding/json
		// refuses outside the years 0-9999. Keep the event and say why its
		// time is missing.
		e.Warnings = append(slices.Clip(e.Warnings), "time not representable: "+ev.Time.String())
		e.Time = time.Time{}
		b, _ = json.Marshal(&e)
	}
	return append(append(dst, b...), '\n')
}

// validJSON returns v, or v as a JSON string when it is not valid JSON, so
// that one bad value cannot break the line (and with it the whole event).
func validJSON(v json.RawMessage) json.RawMessage {
	if v == nil || json.Valid(v) {
		return v
	}
	s, _ := json.Marshal(string(v))
	return s
}

// The zerolog.LogObjectMarshaler adapters below write the parts of an
// event. They live here, not in package event, which has no dependencies.

type eventObject event.Event

func (ev *eventObject) MarshalZerologObject(e *zerolog.Event) {
	var ts [len(event.TimeFormat) + 8]byte
	e.Str("id", ev.ID)
	e.Bytes("time", event.AppendTime(ts[:0], ev.Time))
	e.Str("action", ev.Action)
	if ev.Description != "" {
		e.Str("description", ev.Description)
	}
	if ev.Area != "" {
		e.Str("area", ev.Area)
	}
	if ev.Severity != "" {
		e.Str("severity", string(ev.Severity))
	}
	e.Str("outcome", string(ev.Outcome))
	e.Object("actor", (*actorObject)(&ev.Actor))
	if !isZeroTarget(&ev.Target) {
		e.Object("target", (*targetObject)(&ev.Target))
	}
	if len(ev.Changes) > 0 {
		e.Object("changes", (*changesObject)(&ev.Changes))
	}
	e.Object("source", (*sourceObject)(&ev.Source))
	e.Object("http", (*httpObject)(&ev.HTTP))
	e.Str("rule", ev.Rule)
	if ev.App != "" {
		e.Str("app", ev.App)
	}
	if len(ev.Warnings) > 0 {
		e.Strs("warnings", ev.Warnings)
	}
	if ev.Seq != 0 {
		e.Int64("seq", ev.Seq)
	}
	if ev.PrevHash != "" {
		e.Str("prev_hash", ev.PrevHash)
	}
	if ev.Hash != "" {
		e.Str("hash", ev.Hash)
	}
	if ev.Signature != "" {
		e.Str("signature", ev.Signature)
	}
}

func isZeroTarget(t *event.Target) bool { return *t == event.Target{} }

type actorObject event.Actor

func (a *actorObject) MarshalZerologObject(e *zerolog.Event) {
	optStr(e, "id", a.ID)
	optStr(e, "name", a.Name)
	optStr(e, "type", a.Type)
	if len(a.Roles) > 0 {
		e.Strs("roles", a.Roles)
	}
}

type targetObject event.Target

func (t *targetObject) MarshalZerologObject(e *zerolog.Event) {
	optStr(e, "type", t.Type)
	optStr(e, "id", t.ID)
	optStr(e, "name", t.Name)
}

type changesObject event.Changes

func (cs *changesObject) MarshalZerologObject(e *zerolog.Event) {
	for i := range *cs {
		c := &(*cs)[i]
		e.Object(c.Field, (*changeObject)(c))
	}
}

type changeObject event.Change

// MarshalZerologObject writes From and To raw: they hold JSON already.
// From is left out when nil (the previous value is unknown), and so is To,
// as event.Changes.MarshalJSON does.
func (c *changeObject) MarshalZerologObject(e *zerolog.Event) {
	if c.From != nil {
		e.RawJSON("from", lineSafe(c.From))
	}
	if c.To != nil {
		e.RawJSON("to", lineSafe(c.To))
	}
}

type sourceObject event.Source

func (s *sourceObject) MarshalZerologObject(e *zerolog.Event) {
	e.Str("ip", s.IP)
	optStr(e, "country", s.Country)
	optStr(e, "user_agent", s.UserAgent)
}

type httpObject event.HTTP

func (h *httpObject) MarshalZerologObject(e *zerolog.Event) {
	e.Str("method", h.Method)
	optStr(e, "host", h.Host)
	e.Str("path", h.Path)
	optStr(e, "query", h.Query)
	e.Int("status", h.Status)
	// zerolog would write NaN and Inf as strings; the schema wants a number.
	if d := h.DurationMS; d != 0 && !math.IsNaN(d) && !math.IsInf(d, 0) {
		e.Float64("duration_ms", d)
	}
	optStr(e, "request_id", h.RequestID)
}

func optStr(e *zerolog.Event, key, val string) {
	if val != "" {
		e.Str(key, val)
	}
}
