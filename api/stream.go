package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"
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
			if !q.filter.Match(&ev) {
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
