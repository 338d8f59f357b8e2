package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// stream answers GET /api/v1/events/stream: live events matching the
// filters as Server-Sent Events ("event: audit", "data: <native JSON>"),
// with a comment line as heartbeat, until the client goes.
func (a *API) stream(w http.ResponseWriter, r *http.Request, c caller) {
	if a.subscribe == nil {
		writeError(w, http.StatusNotImplemented, "live events are not available on this instance")
		return
	}
	q, err := a.parseQuery(r, c)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// Subscribe first: an event recorded while the answer starts is not lost.
	ctx := r.Context()
	events := a.subscribe(ctx)

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
	// Recorded before the first byte goes out: a client that has seen the
	// stream open has been recorded.
	a.recordRead(r, c, ActionViewed, fmt.Sprintf("%s started a live view%s", c.name, q.describe()), "")
	// retry: how long a browser's EventSource waits before reconnecting.
	if !send([]byte(": audit events\nretry: 3000\n\n")) {
		return
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
			if !matches(&q.filter, &ev) {
				continue
			}
			// The native JSON is one line (line breaks in change values are
			// compacted away), so one data: line carries it.
			buf = append(buf[:0], "id: "...)
			buf = append(buf, lineBreaks.Replace(ev.ID)...)
			buf = append(buf, "\nevent: audit\ndata: "...)
			buf = a.native.Append(buf, &ev)
			buf = append(buf, "\n\n"...)
			if !send(buf) {
				return
			}
		}
	}
}

// lineBreaks are removed from the SSE id: one would end the field early.
var lineBreaks = strings.NewReplacer("\n", "", "\r", "")

// matches says whether ev passes f, with the store's semantics (written
// out in store/storetest.Match): set fields combine with AND, list values
// with OR, times count in whole microseconds, and every word of Text must
// appear, case-insensitively, in the description or the actor's or
// target's id or name. Live events are checked here because they never
// pass through a query.
func matches(f *store.Filter, ev *event.Event) bool {
	isActor := func(who string) bool { return ev.Actor.ID == who || ev.Actor.Name == who }
	t := ev.Time.Truncate(time.Microsecond)
	switch {
	case f.OwnActor != "" && !isActor(f.OwnActor),
		f.Actor != "" && !isActor(f.Actor),
		len(f.Actions) > 0 && !slices.Contains(f.Actions, ev.Action),
		len(f.Areas) > 0 && !slices.Contains(f.Areas, ev.Area),
		f.Target.Type != "" && f.Target.Type != ev.Target.Type,
		f.Target.ID != "" && f.Target.ID != ev.Target.ID,
		f.Target.Name != "" && f.Target.Name != ev.Target.Name,
		f.Outcome != "" && f.Outcome != string(ev.Outcome),
		f.Country != "" && f.Country != ev.Source.Country,
		!f.From.IsZero() && t.Before(f.From),
		!f.To.IsZero() && !t.Before(f.To):
		return false
	}
	if f.IP != nil {
		addr, err := netip.ParseAddr(ev.Source.IP)
		if err != nil {
			return false
		}
		p := *f.IP
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !p.Masked().Contains(addr.Unmap()) { // false across families
			return false
		}
	}
	if words := store.Words(f.Text); len(words) > 0 {
		fields := strings.ToLower(ev.Description + "\n" + ev.Actor.ID + "\n" + ev.Actor.Name + "\n" + ev.Target.ID + "\n" + ev.Target.Name)
		for _, w := range words {
			if !strings.Contains(fields, strings.ToLower(w)) {
				return false
			}
		}
	}
	return true
}
