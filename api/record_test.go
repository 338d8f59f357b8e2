package api

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestOneRecordPerView: the calls the viewer makes for one look (a page,
// its count, the facets of the same filter, the live view) record one
// auditlog.viewed; every other read is still recorded.
func TestOneRecordPerView(t *testing.T) {
	h := newHarness(t, nil)
	now := testNow
	h.api.now = func() time.Time { return now }
	// as calls path?query as token from addr, and returns how many
	// records it added.
	as := func(target, token, addr string) int {
		t.Helper()
		before := len(h.records())
		r := httptest.NewRequest("GET", target, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.mux.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("%s: status %d: %s", target, w.Code, w.Body)
		}
		return len(h.records()) - before
	}
	const here, there = "192.0.2.1:1234", "198.51.100.7:999"
	filter := "preset=last7d&tz=Europe/London&action=user.updated&action=user.deleted"
	view := func(token, addr string) int {
		n := as("/api/v1/events?limit=50&"+filter, token, addr)
		n += as("/api/v1/events/count?"+filter, token, addr)
		for _, field := range []string{"action", "area", "actor", "country"} {
			n += as("/api/v1/facets?limit=200&field="+field+"&"+filter, token, addr)
		}
		return n
	}

	for _, tc := range []struct {
		name   string
		calls  func() int
		want   int
		before func()
	}{
		{name: "a page, its count and facets", calls: func() int { return view(adminToken, here) }, want: 1},
		{name: "the count again, soon", calls: func() int { return as("/api/v1/events/count?"+filter, adminToken, here) }, want: 0},
		{name: "a count of another filter", calls: func() int { return as("/api/v1/events/count?preset=last7d&tz=Europe/London", adminToken, here) }, want: 1},
		{name: "a wider filter's facets", calls: func() int { return as("/api/v1/facets?field=actor&preset=last7d&tz=Europe/London", adminToken, here) }, want: 1},
		{name: "the same count from another address", calls: func() int { return as("/api/v1/events/count?"+filter, adminToken, there) }, want: 1},
		{name: "the same count by another user", calls: func() int { return as("/api/v1/events/count?"+filter, aliceToken, here) }, want: 1},
		{name: "the next page is a read of its own", calls: func() int {
			return as("/api/v1/events?limit=50&cursor=1&"+filter, adminToken, here)
		}, want: 1},
		{name: "an event is a read of its own", calls: func() int { return as("/api/v1/events/ev-1", adminToken, here) }, want: 1},
		{name: "an export is a read of its own", calls: func() int { return as("/api/v1/export?format=csv&"+filter, adminToken, here) }, want: 1},
		{name: "the count after the window", before: func() { now = now.Add(foldWindow) }, calls: func() int {
			return as("/api/v1/events/count?"+filter, adminToken, here)
		}, want: 1},
		{name: "a user's own view", calls: func() int { return view(bobToken, there) }, want: 1},
	} {
		if tc.before != nil {
			tc.before()
		}
		if got := tc.calls(); got != tc.want {
			t.Errorf("%s: %d records, want %d", tc.name, got, tc.want)
		}
	}
}

// TestStreamFoldsIntoItsView: a live view of a filter just listed is part
// of that view; one of any other filter is recorded.
func TestStreamFoldsIntoItsView(t *testing.T) {
	hb := newHub()
	h := newHarness(t, func(c *Config) { c.Subscribe = hb.subscribe })
	srv := httptest.NewServer(h.mux)
	t.Cleanup(srv.Close)
	filter := "action=user.updated&preset=today"
	r := httptest.NewRequest("GET", "/api/v1/events?"+filter, nil)
	r.Header.Set("Authorization", "Bearer "+adminToken)
	r.RemoteAddr = "127.0.0.1:1" // the address the test server's clients come from
	h.mux.ServeHTTP(httptest.NewRecorder(), r)
	if n := len(h.records()); n != 1 {
		t.Fatalf("the list: %d records, want 1", n)
	}
	connect(t, srv.URL, "?"+filter, adminToken)
	if n := len(h.records()); n != 1 {
		t.Errorf("the live view of the listed filter: %d records in all, want 1", n)
	}
	connect(t, srv.URL, "?"+url.Values{"action": {"user.deleted"}}.Encode(), adminToken)
	recs := h.records()
	if len(recs) != 2 || !strings.Contains(recs[1].Description, "started a live view (action=user.deleted)") {
		var got []string
		for _, r := range recs {
			got = append(got, r.Description)
		}
		t.Errorf("records %q, want the list and the live view of another filter", got)
	}
}
