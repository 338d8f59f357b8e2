package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// maxHeld bounds the live events a resuming stream holds while it sends
// the missed ones; past it the client is told to reload (event: reset)
// instead of losing some silently.
const maxHeld = 10000

// stream answers GET /api/v1/events/stream: live events matching the
// filters as Server-Sent Events ("id: <event id>", "event: audit",
// "data: <native JSON>"), with a comment line as heartbeat, until the
// client goes.
//
// A client that reconnects with the id of the last event it got (the
// Last-Event-ID header, which EventSource sends by itself, or the
// last_event_id parameter) first gets the stored events matching the
// filters that were sealed after that one, oldest first, then the live
// ones, none twice. When that cannot be done exactly (the id is unknown,
// not the caller's or has no seq; more than store.MaxLimit events were
// missed), the stream says so with "event: reset" and goes on live: the
// client reloads its list from the query API.
func (a *API) stream(w http.ResponseWriter, r *http.Request, c caller) {
	if a.subscribe == nil {
		writeError(w, http.StatusNotImplemented, "live events are not available on this instance")
		return
	}
	q, err := a.parseQuery(r, c, "last_event_id")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lastID := cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("last_event_id"))
	// Subscribe first: an event recorded while the answer starts is not lost.
	ctx := r.Context()
	events := a.subscribe(ctx)

	// While the missed events are read and sent, the live ones wait here
	// rather than in the subscription's channel, which drops what does
	// not fit.
	var held []event.Event
	overflow := false
	var stopHolding func()
	if lastID != "" {
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						return
					}
					if len(held) == maxHeld {
						overflow = true
						continue
					}
					held = append(held, ev)
				case <-stop:
					return
				}
			}
		}()
		stopHolding = func() { close(stop); <-done }
		defer func() {
			if stopHolding != nil {
				stopHolding()
			}
		}()
	}
	var missed []event.Event
	var reset string // why the client must reload, "" when it need not
	if lastID != "" {
		missed, reset, err = a.missed(ctx, q.filter, c, lastID)
		if err != nil {
			a.storeFailed(w, r, err)
			return
		}
	}

	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	var buf []byte
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeGrace))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	sendEvent := func(ev *event.Event) bool {
		// The native JSON is one line (line breaks in change values are
		// compacted away), so one data: line carries it.
		buf = append(buf[:0], "id: "...)
		buf = append(buf, lineBreaks.Replace(ev.ID)...)
		buf = append(buf, "\nevent: audit\ndata: "...)
		buf = a.native.Append(buf, ev)
		buf = append(buf, "\n\n"...)
		return send(buf)
	}
	// Recorded before the first byte goes out: a client that has seen the
	// stream open has been recorded. A resumed stream returns stored
	// events, so it is always recorded; a new one may be part of the view
	// of the same filter just recorded (see folded).
	switch {
	case lastID != "":
		a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s resumed a live view after event %s, %s%s",
			c.name, truncate(lastID, 100), plural(len(missed), "missed event"), q.describe()), "")
	case !a.folded(r, c, q.filter):
		a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s started a live view%s", c.name, q.describe()), "")
	}
	// retry: how long a browser's EventSource waits before reconnecting.
	if !send([]byte(": audit events\nretry: 3000\n\n")) {
		return
	}

	// replayed are the ids of the missed events sent: each may come again
	// among the live ones (published before the store was read, received
	// after), and is then skipped, once.
	var replayed map[string]bool
	if lastID != "" {
		replayed = make(map[string]bool, len(missed))
		for i := range missed {
			if !sendEvent(&missed[i]) {
				return
			}
			replayed[missed[i].ID] = true
		}
		stopHolding()
		stopHolding = nil
		if overflow && reset == "" {
			reset = "more live events arrived than could be held while the missed ones were sent"
		}
		if reset != "" && !send(fmt.Appendf(nil, "event: reset\ndata: %s\n\n", lineBreaks.Replace(reset))) {
			return
		}
		for i := range held {
			if replayed[held[i].ID] {
				delete(replayed, held[i].ID)
				continue
			}
			if !q.filter.Match(&held[i]) {
				continue
			}
			if !sendEvent(&held[i]) {
				return
			}
		}
		held = nil
	}

	heartbeat := time.NewTicker(a.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			if replayed[ev.ID] {
				delete(replayed, ev.ID)
				continue
			}
			if !q.filter.Match(&ev) {
				continue
			}
			if !sendEvent(&ev) {
				return
			}
		}
	}
}

// missed returns the stored events matching f that were sealed after the
// event lastID (a greater hash-chain seq), oldest first. reset says why
// that cannot be answered exactly, when it cannot.
func (a *API) missed(ctx context.Context, f store.Filter, c caller, lastID string) (missed []event.Event, reset string, err error) {
	last, err := a.store.Get(ctx, lastID)
	switch {
	// Someone else's event is unknown too: its seq is not the caller's to learn.
	case errors.Is(err, store.ErrNotFound) || err == nil && !c.maysee(&last):
		return nil, "the last event id is not a stored event", nil
	case err != nil:
		return nil, "", err
	case last.Seq == 0:
		return nil, "the last event has no seq to resume after", nil
	}
	f.AfterSeq = last.Seq
	res, err := a.store.Query(ctx, f, store.Page{Limit: store.MaxLimit})
	if err != nil {
		return nil, "", err
	}
	if res.Next != "" {
		return nil, fmt.Sprintf("more than %d events were missed", store.MaxLimit), nil
	}
	missed = res.Events
	slices.SortFunc(missed, func(a, b event.Event) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), a.Time.Compare(b.Time), strings.Compare(a.ID, b.ID))
	})
	return missed, "", nil
}

// lineBreaks are removed from the SSE id: one would end the field early.
var lineBreaks = strings.NewReplacer("\n", "", "\r", "")
