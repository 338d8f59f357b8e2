package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store/sqlite"
	"github.com/auditproxy/auditproxy/store/storetest"
)

// apiQueries are filters as clients send them, for the tests that hold
// the API to the store's reference semantics (storetest.Match).
var apiQueries = []string{
	"",
	"actor=alice",
	"actor=u2",
	"action=invoice.paid,user.login&action=no.such",
	"area=billing&outcome=success",
	"target_type=invoice&target_id=INV-1002",
	"target_name=bob@example.com",
	"country=fr",
	"country=fr,us&country=zz",
	"actor=alice&actor=bob&actor=nobody",
	"actor=u1&actor=carol&country=GB&action=invoice.paid,user.login",
	"ip=81.2.69.0/24",
	"ip=10.0.0.0/8",
	"ip=::ffff:10.0.0.0/104",
	"ip=2001:db8::/32",
	"ip=2001:db8::1",
	"from=2026-03-02&to=2026-03-03",
	"from=2026-03-02T10:00:00Z",
	"preset=last7d",
	"preset=last28d&tz=Pacific/Auckland",
	"q=invoice",
	"q=ALICE+1001",
	"q=100%25",
	"q=off_code",
	"q=o'brien",
	"q=bo",
	"actor=bob&action=user.created,invoice.refunded,user.login&from=2026-03-02",
}

// TestMatchesIsTheStoreFilter checks the live stream's filter against the
// reference every store engine is tested with.
func TestMatchesIsTheStoreFilter(t *testing.T) {
	evs := append(storetest.Fixture(120), fixture()...)
	for _, query := range apiQueries {
		for _, c := range []caller{{name: adminName, admin: true}, {name: "bob"}, {name: "u1"}} {
			q, err := (&API{now: testClock}).parseQuery(httptest.NewRequest("GET", "/?"+query, nil), c)
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			for i := range evs {
				if got, want := q.filter.Match(&evs[i]), storetest.Match(q.filter, &evs[i]); got != want {
					t.Errorf("%s as %s: event %s matches %v, want %v", query, c.name, evs[i].ID, got, want)
				}
			}
		}
	}
}

// TestSQLite runs the API over the real SQLite engine.
func TestSQLite(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "trail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := append(storetest.Fixture(120), fixture()...)
	if err := s.Insert(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) {
		c.Store = s
		c.UserTokens = map[string]string{aliceToken: "alice", bobToken: "u2"}
	})

	nonEmpty := 0
	for _, query := range apiQueries {
		for _, tc := range []struct {
			token string
			c     caller
		}{{adminToken, caller{name: adminName, admin: true}}, {aliceToken, caller{name: "alice"}}, {bobToken, caller{name: "u2"}}} {
			q, err := h.api.parseQuery(httptest.NewRequest("GET", "/?"+query, nil), tc.c)
			if err != nil {
				t.Fatal(err)
			}
			want := storetest.Expect(q.filter, evs)
			if len(want) > 0 {
				nonEmpty++
			}
			sep := "?"
			if query != "" {
				sep = "?" + query + "&"
			}

			// Page through with the store's cursor.
			var got []string
			next := ""
			for range 100 {
				w := h.do(t, "GET", "/api/v1/events"+sep+"limit=7&cursor="+url.QueryEscape(next), tc.token)
				got = append(got, ids(t, w)...)
				var page struct{ Next string }
				json.Unmarshal(w.Body.Bytes(), &page)
				if next = page.Next; next == "" {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s as %s: listed\n%v\nwant\n%v", query, tc.c.name, got, want)
			}

			w := h.do(t, "GET", "/api/v1/events/count"+sep, tc.token)
			if wantBody := fmt.Sprintf(`{"count":%d}`+"\n", len(want)); w.Body.String() != wantBody {
				t.Errorf("%s as %s: count %s, want %s", query, tc.c.name, w.Body, wantBody)
			}

			w = h.do(t, "GET", "/api/v1/export"+sep+"format=ndjson", tc.token)
			var exported []string
			sc := bufio.NewScanner(w.Body)
			for sc.Scan() {
				var ev event.Event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("%s: export line %q: %v", query, sc.Text(), err)
				}
				exported = append(exported, ev.ID)
			}
			if !slices.Equal(exported, want) {
				t.Errorf("%s as %s: exported\n%v\nwant\n%v", query, tc.c.name, exported, want)
			}

			w = h.do(t, "GET", "/api/v1/facets"+sep+"field=outcome", tc.token)
			var facets struct{ Values []struct{ Count int } }
			json.Unmarshal(w.Body.Bytes(), &facets)
			sum := 0
			for _, v := range facets.Values {
				sum += v.Count
			}
			if sum != len(want) {
				t.Errorf("%s as %s: outcome facets add up to %d, want %d", query, tc.c.name, sum, len(want))
			}
		}
	}
	if nonEmpty < len(apiQueries) {
		t.Errorf("only %d of %d queries match anything", nonEmpty, 3*len(apiQueries))
	}

	// Someone else's event is not found; a cursor the store did not make is
	// the client's mistake.
	if w := h.do(t, "GET", "/api/v1/events/ev-1", bobToken); w.Code != 404 {
		t.Errorf("bob getting alice's event: %d", w.Code)
	}
	if w := h.do(t, "GET", "/api/v1/events/ev-1", aliceToken); w.Code != 200 {
		t.Errorf("alice getting her event: %d", w.Code)
	}
	if w := h.do(t, "GET", "/api/v1/events?cursor=bogus", adminToken); w.Code != 400 || !strings.HasPrefix(errorOf(t, w), "cursor:") {
		t.Errorf("bogus cursor: %d %s", w.Code, w.Body)
	}
}
