// Package event is the vocabulary every other package shares: the audit Event
// (the native shape of shared/event.schema.json) and the Exchange the proxy
// records for one request. It depends on the standard library only.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// TimeFormat is how event times are written: RFC 3339 in UTC with
// microseconds, e.g. 2026-11-21T23:42:15.123456Z.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Filtered replaces every value that redaction hides.
const Filtered = "[FILTERED]"

// Severity of an event, from the rule; the zero value means info.
type Severity string

const (
	SeverityDebug    Severity = "debug"
	SeverityInfo     Severity = "info"
	SeverityNotice   Severity = "notice"
	SeverityWarning  Severity = "warning"
	SeverityError    Severity = "error"
	SeverityCritical Severity = "critical"
)

// Severities lists the valid severities, lowest first.
var Severities = []Severity{SeverityDebug, SeverityInfo, SeverityNotice, SeverityWarning, SeverityError, SeverityCritical}

// Outcome of the audited request.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeUnknown Outcome = "unknown"
)

// Event is one audit event. Field order here is the order of the JSON object.
type Event struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Action      string    `json:"action"`
	Description string    `json:"description,omitempty"`
	Area        string    `json:"area,omitempty"`
	Severity    Severity  `json:"severity,omitempty"`
	Outcome     Outcome   `json:"outcome"`
	Actor       Actor     `json:"actor"`
	Target      Target    `json:"target,omitzero"`
	Changes     Changes   `json:"changes,omitempty"`
	Source      Source    `json:"source"`
	HTTP        HTTP      `json:"http"`
	Rule        string    `json:"rule"`
	App         string    `json:"app,omitempty"`
	// Warnings say why part of the event could not be filled in, e.g. a body
	// over the capture limit. Empty for a complete event.
	Warnings []string `json:"warnings,omitempty"`

	// Seq, PrevHash and Hash chain the events of one instance (tamper
	// evidence): Seq counts up by one, PrevHash is the previous event's
	// Hash, Hash covers this event's canonical JSON with PrevHash in it and
	// Hash left out. Zero when chaining is off.
	Seq      int64  `json:"seq,omitempty"`
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`
	// Signature is set on signed checkpoints only (action audit.checkpoint,
	// package chain): an Ed25519 signature over Hash, base64. Like Hash it
	// is left out of the hashed form. Empty on every other event.
	Signature string `json:"signature,omitempty"`

	// Line is the event's native JSON line, when it was already encoded
	// (sealing the chain encodes it): encoders of the native format reuse
	// it instead of encoding again. Whoever changes a field after that must
	// set Line to nil. Never part of the JSON itself.
	Line []byte `json:"-"`
}

// Actor is who did it. All fields are empty when no extraction found an actor.
type Actor struct {
	ID    string   `json:"id,omitempty"`
	Name  string   `json:"name,omitempty"`
	Type  string   `json:"type,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

// Target is what was acted upon.
type Target struct {
	Type string `json:"type,omitempty"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// Source is where the request came from.
type Source struct {
	IP        string `json:"ip"`
	Country   string `json:"country,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// HTTP describes the request as the client sent it and the status it got.
type HTTP struct {
	Method     string  `json:"method"`
	Host       string  `json:"host,omitempty"`
	Path       string  `json:"path"`
	Query      string  `json:"query,omitempty"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	RequestID  string  `json:"request_id,omitempty"`
}

// Change is one changed field. From and To hold JSON values (a string, a
// number, an object ...); From is nil when the previous value is unknown.
type Change struct {
	Field string
	From  json.RawMessage
	To    json.RawMessage
}

// Changes keep the order the rule listed them in; in JSON they are one object
// keyed by field name: {"email":{"to":"bob@example.com"}}.
type Changes []Change

// Get returns the change for field, if any.
func (cs Changes) Get(field string) (Change, bool) {
	for _, c := range cs {
		if c.Field == field {
			return c, true
		}
	}
	return Change{}, false
}

// MarshalJSON writes the changes as one object, in order.
func (cs Changes) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(c.Field)
		b.Write(k)
		b.WriteString(`:{`)
		if c.From != nil {
			b.WriteString(`"from":`)
			b.Write(c.From)
			if c.To != nil {
				b.WriteByte(',')
			}
		}
		if c.To != nil {
			b.WriteString(`"to":`)
			b.Write(c.To)
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object form, keeping the order of its keys.
func (cs *Changes) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("changes: want an object, got %v", tok)
	}
	var out Changes
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		field, _ := tok.(string)
		var v struct {
			From json.RawMessage `json:"from"`
			To   json.RawMessage `json:"to"`
		}
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("changes.%s: %w", field, err)
		}
		out = append(out, Change{Field: field, From: v.From, To: v.To})
	}
	*cs = out
	return nil
}
