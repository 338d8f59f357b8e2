package api

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
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

// foldWindow is how long after a recorded list of events the counts,
// facets and a new live view of the same filter, asked by the same caller
// from the same address, belong to that view and are not recorded again:
// one look at the viewer is one auditlog.viewed. Anything that returns
// events (a list page, one event, an export, a resumed stream) is always
// recorded, and so is a count or facets of any other filter: nobody can
// hide a read behind a recorded one.
const foldWindow = time.Minute

// maxViews bounds the views remembered for folding; when more are live at
// once, the oldest are forgotten and their follow-up calls recorded.
const maxViews = 4096

// views remembers recent recorded lists of events, for folded.
type views struct {
	mu   sync.Mutex
	seen map[string]time.Time // viewKey -> when recorded
}

// viewKey says who looked at what: the caller, their address, the filter.
func viewKey(r *http.Request, c caller, f store.Filter) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	fb, err := json.Marshal(f)
	if err != nil { // not reached: strings, times and a prefix
		return ""
	}
	who := "user"
	if c.admin {
		who = "admin"
	}
	return who + "\x00" + c.name + "\x00" + ip + "\x00" + string(fb)
}

// sawView notes a recorded list of events matching f.
func (a *API) sawView(r *http.Request, c caller, f store.Filter) {
	key := viewKey(r, c, f)
	if key == "" {
		return
	}
	now := a.now()
	v := &a.views
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]time.Time{}
	}
	if len(v.seen) >= maxViews {
		for k, t := range v.seen {
			if now.Sub(t) >= foldWindow {
				delete(v.seen, k)
			}
		}
	}
	for len(v.seen) >= maxViews {
		oldest, when := "", now
		for k, t := range v.seen {
			if !t.After(when) {
				oldest, when = k, t
			}
		}
		delete(v.seen, oldest)
	}
	v.seen[key] = now
}

// folded says whether a call that returns no events (a count, facets, a
// new live view) with filter f is part of a list of f that c recorded
// within foldWindow, and so need not be recorded itself.
func (a *API) folded(r *http.Request, c caller, f store.Filter) bool {
	key := viewKey(r, c, f)
	if key == "" {
		return false
	}
	v := &a.views
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.seen[key]
	if !ok {
		return false
	}
	age := a.now().Sub(t)
	return age >= 0 && age < foldWindow
}
