package api

import (
	"net"
	"net/http"

	"github.com/auditproxy/auditproxy/event"
)

// Actions of the events that record reads of the trail.
const (
	ActionViewed   = "auditlog.viewed"
	ActionExported = "auditlog.exported"
)

// recordRule names the "rule" of recorded reads: they come from the API,
// not from a rule matching a proxied request.
const recordRule = "auditproxy.api"

// recordRead hands an event saying c read the trail to Config.Record.
// Only the read itself is recorded, once per request: the recorded events
// are listed, counted and streamed like any others, and reading them is
// one more read, never a chain of records.
func (a *API) recordRead(r *http.Request, c caller, action, description, eventID string) {
	a.recordAs(r, c.actor(), action, description, eventID, r.URL.RawQuery, event.OutcomeSuccess)
}

func (a *API) recordAs(r *http.Request, actor event.Actor, action, description, eventID, rawQuery string, outcome event.Outcome) {
	if a.record == nil {
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	a.record(event.Event{
		ID:          event.NewID(),
		Time:        a.now().UTC(),
		Action:      action,
		Description: description,
		Area:        "auditlog",
		Severity:    event.SeverityInfo,
		Outcome:     outcome,
		Actor:       actor,
		Target:      event.Target{Type: "auditlog", ID: eventID},
		Source:      event.Source{IP: ip, UserAgent: r.UserAgent()},
		HTTP: event.HTTP{
			Method:    r.Method,
			Host:      r.Host,
			Path:      r.URL.Path,
			Query:     rawQuery,
			Status:    http.StatusOK,
			RequestID: r.Header.Get("X-Request-Id"),
		},
		Rule: recordRule,
	})
}
