// Package api is the query API of the activity log: read-only HTTP
// endpoints over a store.Store, mounted on the admin listener.
//
// Routes (GET and HEAD only; there is no route that changes the trail):
//
//	GET /api/v1/events          one page of events, newest first, filtered
//	GET /api/v1/events/count    how many events match the filters
//	GET /api/v1/events/{id}     one event (404 when unknown or not the caller's)
//	GET /api/v1/events/stream   live events as Server-Sent Events
//	GET /api/v1/facets          distinct values of a field with counts
//	GET /api/v1/export          every matching event as json, ndjson, csv or xml
//
// Who may see what: credentials come only in "Authorization: Bearer ...".
// An admin token sees everything; a user token, or the app's own JWT, sees
// only events whose actor.id or actor.name is the user. Every read is itself
// recorded (auditlog.viewed, auditlog.exported) through Config.Record; a
// count, facets or new live view of the filter of a list just recorded is
// part of that view (see foldWindow).
package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/identity"
	"github.com/auditproxy/auditproxy/output/format"
	"github.com/auditproxy/auditproxy/store"
	"github.com/rs/zerolog"
)

// Config says how to build an API.
type Config struct {
	// Store is read, never written; required.
	Store store.Store
	// AdminTokens see every event. Compared in constant time. Empty: no
	// admin access.
	AdminTokens []string
	// UserTokens map a token to the actor (an id or a name) it belongs to;
	// that user sees only events whose actor.id or actor.name equals it.
	// Compared in constant time. Empty: no user tokens.
	UserTokens map[string]string
	// JWT, when set, also accepts the app's own JWTs as bearer tokens,
	// verified with the configured key. Nil: JWTs are not accepted.
	JWT *identity.Verifier
	// ActorClaim is the JWT claim (a gjson path) naming the user; "" means
	// "sub".
	ActorClaim string
	// WidgetKey signs widget links (HMAC-SHA256). Nil: the widget is off,
	// WidgetLink returns "" and every widget link is refused.
	WidgetKey []byte
	// WidgetFrameAncestors are the origins allowed to frame the widget
	// (CSP frame-ancestors), e.g. "https://app.example.com". Empty means
	// "'self'" only: set it to embed the widget in the app's pages.
	WidgetFrameAncestors []string
	// Record receives the events that say someone read or exported the
	// trail (auditlog.viewed, auditlog.exported); the caller enqueues them
	// like any other event. Nil: reads are not recorded.
	Record func(ev event.Event)
	// Subscribe returns live events until ctx ends, for the SSE stream;
	// the channel should be closed when ctx is done. Nil: the stream
	// answers 501.
	Subscribe func(ctx context.Context) <-chan event.Event
	// Now is the clock for presets, widget link expiry and recorded events;
	// nil means time.Now.
	Now func() time.Time
	// Logger receives store failures. The zero value logs nothing.
	Logger zerolog.Logger
}

// API serves the query API. Create it with New; it is safe for concurrent
// use.
type API struct {
	store     store.Store
	auth      authenticator
	widgetKey []byte
	ancestors []string
	record    func(event.Event)
	subscribe func(context.Context) <-chan event.Event
	now       func() time.Time
	log       zerolog.Logger
	native    format.Format
	views     views // recorded lists, to fold their counts and facets into

	// heartbeat is how often an idle SSE stream gets a comment line, so
	// proxies and browsers keep it open; tests shorten it.
	heartbeat time.Duration
}

// New checks cfg and builds the API.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("configuring the query api: no store")
	}
	auth, err := newAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	for _, src := range cfg.WidgetFrameAncestors {
		// Each goes into a Content-Security-Policy header as it is.
		if src == "" || strings.ContainsAny(src, " \t\r\n;,") {
			return nil, fmt.Errorf("configuring the query api: widget frame ancestor %q is not one CSP source such as https://app.example.com", src)
		}
	}
	native, err := format.Get("json")
	if err != nil {
		return nil, fmt.Errorf("configuring the query api: %w", err)
	}
	a := &API{
		store:     cfg.Store,
		auth:      auth,
		widgetKey: cfg.WidgetKey,
		ancestors: cfg.WidgetFrameAncestors,
		record:    cfg.Record,
		subscribe: cfg.Subscribe,
		now:       cfg.Now,
		log:       cfg.Logger.With().Str("component", "api").Logger(),
		native:    native,
		heartbeat: 15 * time.Second,
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// Routes returns the handlers by ServeMux pattern, e.g. "GET
// /api/v1/events"; the caller mounts each on the admin server. Only GET
// patterns exist, so the mux answers any other method with 405.
func (a *API) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"GET /api/v1/events":        a.authed(a.list),
		"GET /api/v1/events/count":  a.authed(a.count),
		"GET /api/v1/events/stream": a.authed(a.stream),
		"GET /api/v1/events/{id}":   a.authed(a.get),
		"GET /api/v1/facets":        a.authed(a.facets),
		"GET /api/v1/export":        a.authed(a.export),
	}
}

// authed wraps a handler with authentication and the headers every API
// answer carries.
func (a *API) authed(h func(w http.ResponseWriter, r *http.Request, c caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		// Audit data must not linger in shared or browser caches.
		hdr.Set("Cache-Control", "no-store")
		hdr.Set("X-Content-Type-Options", "nosniff")
		if err := credentialsInURL(r); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		c, err := a.auth.authenticate(r)
		if err != nil {
			hdr.Set("WWW-Authenticate", `Bearer realm="auditproxy"`)
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		h(w, r, c)
	})
}

// list answers GET /api/v1/events.
func (a *API) list(w http.ResponseWriter, r *http.Request, c caller) {
	q, err := a.parseQuery(r, c, "limit", "cursor")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := a.store.Query(r.Context(), q.filter, q.page)
	if errors.Is(err, store.ErrInvalidCursor) {
		writeError(w, http.StatusBadRequest, "cursor: not one this API made (pass the next value of the previous page as it is)")
		return
	}
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	buf := make([]byte, 0, 1024*(len(res.Events)+1))
	buf = append(buf, `{"events":[`...)
	for i := range res.Events {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = a.native.Append(buf, &res.Events[i])
	}
	buf = append(buf, `],"next":`...)
	next, _ := json.Marshal(res.Next)
	buf = append(buf, next...)
	buf = append(buf, "}\n"...)
	// Noted before the answer goes out: the viewer asks for the count and
	// facets of this view once it has the page (see folded).
	a.sawView(r, c, q.filter)
	writeJSONBytes(w, http.StatusOK, buf)
	a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s viewed %s%s", c.name, plural(len(res.Events), "event"), q.describe()), "")
}

// count answers GET /api/v1/events/count.
func (a *API) count(w http.ResponseWriter, r *http.Request, c caller) {
	q, err := a.parseQuery(r, c)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	n, err := a.store.Count(r.Context(), q.filter)
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"count": n})
	if a.folded(r, c, q.filter) {
		return
	}
	a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s counted %d events%s", c.name, n, q.describe()), "")
}

// get answers GET /api/v1/events/{id}. Someone else's event is a 404, not
// a 403, so that a user cannot learn which ids exist.
func (a *API) get(w http.ResponseWriter, r *http.Request, c caller) {
	if err := onlyParams(r.URL.Query()); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	ev, err := a.store.Get(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.maysee(&ev)) {
		writeError(w, http.StatusNotFound, "event not found")
		return
	}
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	buf := a.native.Append(make([]byte, 0, 1024), &ev)
	writeJSONBytes(w, http.StatusOK, append(buf, '\n'))
	a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s viewed event %s", c.name, id), id)
}

// facets answers GET /api/v1/facets?field=...
func (a *API) facets(w http.ResponseWriter, r *http.Request, c caller) {
	q, err := a.parseQuery(r, c, "field", "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	field := store.FacetField(r.URL.Query().Get("field"))
	switch {
	case field == "":
		writeError(w, http.StatusBadRequest, "field: missing (want action, area, actor, country or outcome)")
		return
	case !field.Valid():
		writeError(w, http.StatusBadRequest, fmt.Sprintf("field: %q is not one of action, area, actor, country, outcome", field))
		return
	}
	// limit 0 (not given) is the store's default, store.DefaultFacetLimit.
	values, err := a.store.Facets(r.Context(), q.filter, field, q.page.Limit)
	if err != nil {
		a.storeFailed(w, r, err)
		return
	}
	if values == nil {
		values = []store.Facet{}
	}
	writeJSON(w, http.StatusOK, struct {
		Field  store.FacetField `json:"field"`
		Values []store.Facet    `json:"values"`
	}{field, values})
	if a.folded(r, c, q.filter) {
		return
	}
	a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s viewed %s%s", c.name, plural(len(values), string(field)+" value"), q.describe()), "")
}

// storeFailed answers a store error. The client learns only that it
// failed; the reason goes to the log.
func (a *API) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client left; nobody to answer
	}
	a.log.Error().Err(err).Str("path", r.URL.Path).Msg("reading the audit store")
	writeError(w, http.StatusInternalServerError, "reading the audit store failed")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // not reached: only maps and structs of strings and numbers
		b = []byte(`{"error":"encoding the answer failed"}`)
		status = http.StatusInternalServerError
	}
	writeJSONBytes(w, status, append(b, '\n'))
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// widgetMAC is the signature of a widget link for actor until exp (Unix
// seconds). The purpose prefix keeps the key from signing anything else
// by accident.
func widgetMAC(key []byte, actor string, exp int64) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "auditproxy widget v1\x00%s\x00%d", actor, exp)
	return m.Sum(nil)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
