package api

import (
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/store"
)

func TestParseQuery(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	prefix := func(s string) *netip.Prefix { p := netip.MustParsePrefix(s); return &p }
	// testNow is Tuesday 2026-03-10 12:00 UTC; Berlin is UTC+1 until 29 March.
	for _, tc := range []struct {
		query  string
		admin  bool
		want   store.Filter
		page   store.Page
		errPfx string
	}{
		{query: "", admin: true, want: store.Filter{}},
		{query: "", want: store.Filter{OwnActor: "alice"}},
		{query: "actor=bob", want: store.Filter{OwnActor: "alice", Actors: []string{"bob"}}},
		{query: "actor=42", admin: true, want: store.Filter{Actors: []string{"42"}}},
		{query: "actor=a&actor=b&actor=a&actor=", admin: true, want: store.Filter{Actors: []string{"a", "b"}}},
		// A comma is part of a name: the old single actor= keeps its meaning.
		{query: "actor=Doe,+Jane", admin: true, want: store.Filter{Actors: []string{"Doe, Jane"}}},
		// Naming others never widens a user's view: OwnActor stays.
		{query: "actor=bob&actor=alice", want: store.Filter{OwnActor: "alice", Actors: []string{"bob", "alice"}}},
		{query: "action=a", admin: true, want: store.Filter{Actions: []string{"a"}}},
		{query: "action=a&action=b", admin: true, want: store.Filter{Actions: []string{"a", "b"}}},
		{query: "action=a,b,,c&action=a", admin: true, want: store.Filter{Actions: []string{"a", "b", "c"}}},
		{query: "action=", admin: true, want: store.Filter{}},
		{query: "area=users&area=billing", admin: true, want: store.Filter{Areas: []string{"users", "billing"}}},
		{query: "target_type=user&target_id=43&target_name=bob", admin: true, want: store.Filter{Target: store.Target{Type: "user", ID: "43", Name: "bob"}}},
		{query: "outcome=failure", admin: true, want: store.Filter{Outcome: "failure"}},
		{query: "outcome=failed", admin: true, errPfx: "outcome:"},
		{query: "country=gb", admin: true, want: store.Filter{Countries: []string{"GB"}}},
		{query: "country=gb&country=US,fr,,gb", admin: true, want: store.Filter{Countries: []string{"GB", "US", "FR"}}},
		{query: "ip=10.0.0.7", admin: true, want: store.Filter{IP: prefix("10.0.0.7/32")}},
		{query: "ip=10.1.2.3/8", admin: true, want: store.Filter{IP: prefix("10.0.0.0/8")}},
		{query: "ip=2001:db8::1", admin: true, want: store.Filter{IP: prefix("2001:db8::1/128")}},
		{query: "ip=::ffff:10.0.0.7", admin: true, want: store.Filter{IP: prefix("10.0.0.7/32")}},
		{query: "ip=2001:db8::/32", admin: true, want: store.Filter{IP: prefix("2001:db8::/32")}},
		{query: "ip=10.0.0.300", admin: true, errPfx: "ip:"},
		{query: "ip=10.0.0.0/33", admin: true, errPfx: "ip:"},
		{query: "from=2026-03-01T10:00:00Z&to=2026-03-02T10:00:00%2B02:00", admin: true, want: store.Filter{From: utc("2026-03-01T10:00:00Z"), To: utc("2026-03-02T08:00:00Z")}},
		{query: "from=2026-03-01&to=2026-03-01", admin: true, want: store.Filter{From: utc("2026-03-01T00:00:00Z"), To: utc("2026-03-02T00:00:00Z")}},
		{query: "from=2026-03-01&tz=Europe/Berlin", admin: true, want: store.Filter{From: time.Date(2026, 3, 1, 0, 0, 0, 0, berlin)}},
		{query: "from=yesterday", admin: true, errPfx: "from:"},
		{query: "to=2026-13-01", admin: true, errPfx: "to:"},
		{query: "from=2026-03-02&to=2026-03-01", admin: true, errPfx: "from:"},
		{query: "preset=today", admin: true, want: store.Filter{From: utc("2026-03-10T00:00:00Z"), To: utc("2026-03-11T00:00:00Z")}},
		{query: "preset=yesterday", admin: true, want: store.Filter{From: utc("2026-03-09T00:00:00Z"), To: utc("2026-03-10T00:00:00Z")}},
		{query: "preset=last7d", admin: true, want: store.Filter{From: utc("2026-03-04T00:00:00Z"), To: utc("2026-03-11T00:00:00Z")}},
		{query: "preset=last28d", admin: true, want: store.Filter{From: utc("2026-02-11T00:00:00Z"), To: utc("2026-03-11T00:00:00Z")}},
		{query: "preset=today&tz=Europe/Berlin", admin: true, want: store.Filter{From: utc("2026-03-09T23:00:00Z"), To: utc("2026-03-10T23:00:00Z")}},
		{query: "preset=yesterday&tz=America/Los_Angeles", admin: true, want: store.Filter{From: utc("2026-03-09T07:00:00Z"), To: utc("2026-03-10T07:00:00Z")}},
		// Los Angeles moved its clocks on Sunday 8 March: seven days back
		// crosses it, and the range still starts at local midnight.
		{query: "preset=last7d&tz=America/Los_Angeles", admin: true, want: store.Filter{From: utc("2026-03-04T08:00:00Z"), To: utc("2026-03-11T07:00:00Z")}},
		{query: "preset=last14d", admin: true, errPfx: "preset:"},
		{query: "preset=today&from=2026-03-01", admin: true, errPfx: "preset:"},
		{query: "preset=today&tz=Mars/Olympus", admin: true, errPfx: "tz:"},
		{query: "preset=today&tz=Local", admin: true, errPfx: "tz:"},
		{query: "q=+Bob%40Example+", admin: true, want: store.Filter{Text: "Bob@Example"}},
		{query: "q=" + strings.Repeat("x", maxText+1), admin: true, errPfx: "q:"},
		{query: "limit=25&cursor=abc", admin: true, page: store.Page{Limit: 25, Cursor: "abc"}},
		{query: "limit=0", admin: true, errPfx: "limit:"},
		{query: "limit=1001", admin: true, errPfx: "limit:"},
		{query: "limit=ten", admin: true, errPfx: "limit:"},
		{query: "outcome=success&outcome=failure", admin: true, errPfx: "outcome: given 2 times"},
		{query: "q=a&q=b", admin: true, errPfx: "q: given 2 times"},
		{query: "color=red", admin: true, errPfx: "color: unknown parameter"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			a := &API{now: func() time.Time { return testNow }}
			c := caller{name: "alice"}
			if tc.admin {
				c = caller{name: adminName, admin: true}
			}
			r := httptest.NewRequest("GET", "/api/v1/events?"+tc.query, nil)
			q, err := a.parseQuery(r, c, "limit", "cursor")
			if tc.errPfx != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.errPfx) {
					t.Fatalf("error %v, want one starting %q", err, tc.errPfx)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !filtersEqual(q.filter, tc.want) {
				t.Errorf("filter\n got %+v\nwant %+v", q.filter, tc.want)
			}
			if q.page != tc.page {
				t.Errorf("page %+v, want %+v", q.page, tc.page)
			}
		})
	}
}

// filtersEqual compares filters with times as instants (the zone of a
// time.Time is not part of what it selects).
func filtersEqual(a, b store.Filter) bool {
	if !a.From.Equal(b.From) || !a.To.Equal(b.To) {
		return false
	}
	a.From, a.To, b.From, b.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func TestDescribe(t *testing.T) {
	r := httptest.NewRequest("GET", "/?q="+strings.Repeat("é", 80)+"&cursor=x&limit=3&tz=UTC", nil)
	q, err := (&API{now: time.Now}).parseQuery(r, caller{admin: true}, "cursor", "limit")
	if err != nil {
		t.Fatal(err)
	}
	d := q.describe()
	// Only the filters, shortened on a character boundary; tz only when a
	// time range needs it.
	if want := " (q=" + strings.Repeat("é", 50) + "…)"; d != want {
		t.Errorf("describe() = %q, want %q", d, want)
	}
}
