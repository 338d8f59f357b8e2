// Package storetest is the conformance suite every store engine runs: the
// same events, filters, pages, facets, exports and purges, with the same
// expected answers, computed by Match from the meaning of store.Filter.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output/format"
	"github.com/auditproxy/auditproxy/store"
)

// Run runs the suite. open returns a new, empty store for one subtest; Run
// closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"Dedup", testDedup},
		{"Filters", testFilters},
		{"Paging", testPaging},
		{"PagingWhileInserting", testPagingWhileInserting},
		{"InvalidCursor", testInvalidCursor},
		{"Facets", testFacets},
		{"Each", testEach},
		{"ManyEvents", testManyEvents},
		{"Purge", testPurge},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

func insert(t *testing.T, s store.Store, evs []event.Event) {
	t.Helper()
	if err := s.Insert(context.Background(), evs); err != nil {
		t.Fatalf("Insert(%d events): %v", len(evs), err)
	}
}

func count(t *testing.T, s store.Store, f store.Filter) int64 {
	t.Helper()
	n, err := s.Count(context.Background(), f)
	if err != nil {
		t.Fatalf("Count(%+v): %v", f, err)
	}
	return n
}

// all reads every page of f with the given page size.
func all(t *testing.T, s store.Store, f store.Filter, limit int) []string {
	t.Helper()
	var got []string
	p := store.Page{Limit: limit}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatalf("Query(%+v): more than 10000 pages, the cursor does not advance", f)
		}
		res, err := s.Query(context.Background(), f, p)
		if err != nil {
			t.Fatalf("Query(%+v, %+v): %v", f, p, err)
		}
		if len(res.Events) > p.Size() {
			t.Fatalf("Query(%+v, %+v): %d events, more than the page's %d", f, p, len(res.Events), p.Size())
		}
		got = append(got, ids(res.Events)...)
		if res.Next == "" {
			return got
		}
		if len(res.Events) == 0 {
			t.Fatalf("Query(%+v, %+v): an empty page with a next cursor", f, p)
		}
		p.Cursor = res.Next
	}
}

// encode is the native JSON of ev, to compare events by what is written.
// It is read back and written again first: a byte that is not UTF-8 is
// written as \ufffd, which reads back as U+FFFD, written as it is.
func encode(ev *event.Event) string {
	f, _ := format.Get("json")
	var again event.Event
	if err := json.Unmarshal(f.Append(nil, ev), &again); err != nil {
		return "not JSON: " + err.Error()
	}
	return string(f.Append(nil, &again))
}

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	full, minimal := eventtest.Full(), eventtest.Minimal()
	odd := eventtest.Minimal()
	odd.ID = "odd-\u00e9-\xff"
	odd.Description = "nul\x00 and \xff\xfe, line\nbreak, <html> & \"quotes\" \u2028"
	odd.Actor.Name = "x\x00y"
	odd.Seq, odd.PrevHash, odd.Hash = 42, "sha256:prev", "sha256:this"
	odd.Changes = event.Changes{{Field: "z", To: []byte(`"\u0000"`)}, {Field: "a", From: []byte(`1`)}}
	insert(t, s, []event.Event{full, minimal, odd})
	for _, want := range []event.Event{full, minimal, odd} {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("Get(%q): %v", want.ID, err)
		}
		if g, w := encode(&got), encode(&want); g != w {
			t.Errorf("Get(%q) =\n%s\nwant\n%s", want.ID, g, w)
		}
	}
	// Filters on values with a NUL byte or bytes that are not UTF-8 (which
	// PostgreSQL's text refuses) work.
	if n := count(t, s, store.Filter{Actors: []string{odd.Actor.Name}, Text: "nul\x00"}); n != 1 {
		t.Errorf("Count(actor %q) = %d, want 1", odd.Actor.Name, n)
	}
	if _, err := s.Get(ctx, "no-such-id"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(unknown) error = %v, want ErrNotFound", err)
	}
	res, err := s.Query(ctx, store.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	// The store keeps what the native JSON says: U+FFFD for bytes that
	// are not UTF-8, in the id too.
	want := []event.Event{full, minimal, odd}
	for i := range want {
		f, _ := format.Get("json")
		var ev event.Event
		if err := json.Unmarshal(f.Append(nil, &want[i]), &ev); err != nil {
			t.Fatal(err)
		}
		want[i] = ev
	}
	SortNewestFirst(want)
	if g, w := ids(res.Events), ids(want); !slices.Equal(g, w) {
		t.Errorf("Query ids = %v, want %v", g, w)
	}
	for i := range min(len(res.Events), len(want)) {
		if g, w := encode(&res.Events[i]), encode(&want[i]); g != w {
			t.Errorf("Query event %d =\n%s\nwant\n%s", i, g, w)
		}
	}
	if err := s.Insert(ctx, nil); err != nil {
		t.Errorf("Insert(nil) = %v", err)
	}
}

func testDedup(t *testing.T, s store.Store) {
	evs := Fixture(20)
	first := evs[0]
	insert(t, s, append(slices.Clone(evs[:10]), evs[0], evs[3])) // repeats within a batch
	again := slices.Clone(evs[5:20])                             // and across batches
	changed := first
	changed.Description = "a second delivery that differs"
	again = append(again, changed)
	insert(t, s, again)
	if n := count(t, s, store.Filter{}); n != 20 {
		t.Errorf("Count after repeated deliveries = %d, want 20", n)
	}
	got, err := s.Get(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != first.Description {
		t.Errorf("a repeated id replaced the stored event: description %q, want %q", got.Description, first.Description)
	}
}

func prefix(s string) *netip.Prefix {
	p := netip.MustParsePrefix(s)
	return &p
}

func testFilters(t *testing.T, s store.Store) {
	evs := Fixture(60)
	insert(t, s, evs[:30])
	insert(t, s, evs[30:])
	ordered := slices.Clone(evs)
	SortNewestFirst(ordered)
	// Times of events to put bounds on: the 10th and 40th newest.
	t10, t40 := ordered[10].Time, ordered[40].Time
	cases := []struct {
		name string
		f    store.Filter
	}{
		{"everything", store.Filter{}},
		{"actor by name", store.Filter{Actors: []string{"bob"}}},
		{"actor by id", store.Filter{Actors: []string{"u2"}}},
		{"actor by id and by name of another", store.Filter{Actors: []string{"alice"}}},
		{"actor with a name only", store.Filter{Actors: []string{"carol"}}},
		{"actor with an id only", store.Filter{Actors: []string{"svc-9"}}},
		{"unknown actor", store.Filter{Actors: []string{"nobody"}}},
		{"actor is exact", store.Filter{Actors: []string{"ALICE"}}},
		{"actors OR", store.Filter{Actors: []string{"bob", "carol", "nobody"}}},
		{"actors by id and by name", store.Filter{Actors: []string{"u1", "bob", "svc-9"}}},
		{"actors, one id another's name", store.Filter{Actors: []string{"alice", "u2"}}},
		{"actors all unknown", store.Filter{Actors: []string{"nobody", "ALICE"}}},
		{"one action", store.Filter{Actions: []string{"invoice.paid"}}},
		{"actions OR", store.Filter{Actions: []string{"invoice.paid", "user.login", "no.such"}}},
		{"one area", store.Filter{Areas: []string{"billing"}}},
		{"areas OR", store.Filter{Areas: []string{"auth", "users"}}},
		{"target type", store.Filter{Target: store.Target{Type: "invoice"}}},
		{"target id", store.Filter{Target: store.Target{ID: "INV-1002"}}},
		{"target name", store.Filter{Target: store.Target{Name: "bob@example.com"}}},
		{"target type and id", store.Filter{Target: store.Target{Type: "user", ID: "43"}}},
		{"target type and other's id", store.Filter{Target: store.Target{Type: "user", ID: "INV-1001"}}},
		{"target id is exact", store.Filter{Target: store.Target{ID: "inv-1002"}}},
		{"target id, a part of one", store.Filter{Target: store.Target{ID: "INV-100"}}},
		{"target name, a word of one", store.Filter{Target: store.Target{Name: "Invoice"}}},
		{"target id and name", store.Filter{Target: store.Target{ID: "INV-1001", Name: "Invoice 1001"}}},
		{"target id and another's name", store.Filter{Target: store.Target{ID: "INV-1001", Name: "Invoice 1002"}}},
		{"target name and text", store.Filter{Target: store.Target{Name: "Invoice 1001"}, Text: "alice"}},
		{"outcome", store.Filter{Outcome: "failure"}},
		{"country", store.Filter{Countries: []string{"FR"}}},
		{"countries OR", store.Filter{Countries: []string{"FR", "US", "ZZ"}}},
		{"countries, lower case is another value", store.Filter{Countries: []string{"gb"}}},
		{"after seq", store.Filter{AfterSeq: 45}},
		{"after seq, none", store.Filter{AfterSeq: 60}},
		{"after seq and actions", store.Filter{AfterSeq: 20, Actions: []string{"invoice.paid", "user.login"}}},
		{"ip v4 exact", store.Filter{IP: prefix("81.2.69.142/32")}},
		{"ip v4 cidr", store.Filter{IP: prefix("81.2.69.0/24")}},
		{"ip v4 cidr with host bits", store.Filter{IP: prefix("81.2.69.99/24")}},
		{"ip v4 cidr holding a mapped address", store.Filter{IP: prefix("10.0.0.0/8")}},
		{"ip v4-mapped prefix", store.Filter{IP: prefix("::ffff:10.0.0.0/104")}},
		{"ip v4 everything", store.Filter{IP: prefix("0.0.0.0/0")}},
		{"ip v6 exact", store.Filter{IP: prefix("2001:db8::1/128")}},
		{"ip v6 cidr", store.Filter{IP: prefix("2001:db8::/32")}},
		{"ip v6 narrow cidr", store.Filter{IP: prefix("2001:db8:1::/48")}},
		{"ip v6 everything is no v4", store.Filter{IP: prefix("::/0")}},
		{"from", store.Filter{From: t40}},
		{"to", store.Filter{To: t40}},
		{"from and to", store.Filter{From: t40, To: t10}},
		{"from a nanosecond later", store.Filter{From: t40.Add(time.Nanosecond)}},
		{"to a nanosecond later", store.Filter{To: t40.Add(time.Nanosecond)}},
		{"from after to", store.Filter{From: t10, To: t40}},
		{"text", store.Filter{Text: "invoice"}},
		{"text case", store.Filter{Text: "ALICE"}},
		{"text substring", store.Filter{Text: "xampl"}},
		{"text in an id", store.Filter{Text: "inv-100"}},
		{"text words AND", store.Filter{Text: "alice  1001"}},
		{"text short word", store.Filter{Text: "bo"}},
		{"text short and long", store.Filter{Text: "b 1002"}},
		{"text percent", store.Filter{Text: "100%"}},
		{"text underscore", store.Filter{Text: "off_code"}},
		{"text quotes", store.Filter{Text: `o'brien "quoted"`}},
		{"text backslash", store.Filter{Text: `a\b`}},
		{"text short backslash", store.Filter{Text: `\t`}},
		{"text across fields", store.Filter{Text: "alice\nlogged"}},
		{"text no match", store.Filter{Text: "zzzzzz"}},
		{"actor, actions and time", store.Filter{Actors: []string{"bob"}, Actions: []string{"user.created", "invoice.refunded", "user.login"}, From: t40, To: t10}},
		{"areas, outcome and country", store.Filter{Areas: []string{"billing", "auth"}, Outcome: "success", Countries: []string{"GB"}}},
		{"text and actor", store.Filter{Text: "invoice", Actors: []string{"alice"}}},
		{"ip and text", store.Filter{IP: prefix("81.2.69.0/24"), Text: "invoice"}},
		{"own actor", store.Filter{OwnActor: "u2"}},
		{"own actor, other actor", store.Filter{OwnActor: "u2", Actors: []string{"alice"}}},
		{"own actor, same actor", store.Filter{OwnActor: "bob", Actors: []string{"u2"}}},
		{"own actor, text naming others", store.Filter{OwnActor: "u2", Text: "alice"}},
		{"own actor, text", store.Filter{OwnActor: "bob", Text: "invoice"}},
		{"own actor and actions", store.Filter{OwnActor: "alice", Actions: []string{"user.login", "invoice.paid"}}},
		{"own actor, actors naming others too", store.Filter{OwnActor: "u2", Actors: []string{"alice", "bob", "carol"}}},
		{"own actor, actors naming only others", store.Filter{OwnActor: "bob", Actors: []string{"alice", "carol"}}},
		{"actors, countries and text", store.Filter{Actors: []string{"alice", "bob"}, Countries: []string{"GB", "FR"}, Text: "invoice"}},
	}
	nonEmpty := 0
	for _, c := range cases {
		want := Expect(c.f, evs)
		if len(want) > 0 {
			nonEmpty++
		}
		got := all(t, s, c.f, 1000)
		if !slices.Equal(got, want) {
			t.Errorf("%s: Query(%+v) =\n%v\nwant\n%v", c.name, c.f, got, want)
		}
		if n := count(t, s, c.f); n != int64(len(want)) {
			t.Errorf("%s: Count(%+v) = %d, want %d", c.name, c.f, n, len(want))
		}
		// The live stream's statement of the filter says the same.
		for i := range evs {
			if got, want := c.f.Match(&evs[i]), Match(c.f, &evs[i]); got != want {
				t.Errorf("%s: Filter.Match(%s) = %v, want %v", c.name, evs[i].ID, got, want)
			}
		}
	}
	if nonEmpty < len(cases)*2/3 {
		t.Errorf("only %d of %d filter cases match anything: the fixture does not exercise them", nonEmpty, len(cases))
	}
	if _, err := s.Query(context.Background(), store.Filter{IP: &netip.Prefix{}}, store.Page{}); err == nil {
		t.Errorf("Query with an invalid IP prefix: no error")
	}
}

func testPaging(t *testing.T, s store.Store) {
	evs := Fixture(60)
	insert(t, s, evs)
	for _, f := range []store.Filter{{}, {Areas: []string{"billing", "auth"}}, {Text: "invoice"}, {Actors: []string{"alice"}}} {
		want := Expect(f, evs)
		for _, limit := range []int{1, 2, 7, 60, 61} {
			if got := all(t, s, f, limit); !slices.Equal(got, want) {
				t.Errorf("pages of %d of %+v =\n%v\nwant\n%v", limit, f, got, want)
			}
		}
		if n := count(t, s, f); n != int64(len(want)) {
			t.Errorf("Count(%+v) = %d, want %d (the length of all pages)", f, n, len(want))
		}
	}
	// Limit 0 is a page of 50.
	res, err := s.Query(context.Background(), store.Filter{}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != store.DefaultLimit || res.Next == "" {
		t.Errorf("Query with Limit 0: %d events, next %q; want %d and a cursor", len(res.Events), res.Next, store.DefaultLimit)
	}
	// The last page exactly full has no next cursor.
	res, err = s.Query(context.Background(), store.Filter{}, store.Page{Limit: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 60 || res.Next != "" {
		t.Errorf("Query for all 60 in one page: %d events, next %q; want 60 and no cursor", len(res.Events), res.Next)
	}
}

// testPagingWhileInserting inserts events newer, older and in between the
// pages while a reader pages through: every event that was there at the
// start is read exactly once, in order.
func testPagingWhileInserting(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := Fixture(60)
	insert(t, s, evs)
	want := Expect(store.Filter{}, evs)
	var got []string
	p := store.Page{Limit: 7}
	for i := 0; ; i++ {
		res, err := s.Query(ctx, store.Filter{}, p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(res.Events)...)
		if res.Next == "" {
			break
		}
		p.Cursor = res.Next
		// Newer than everything, older than everything, and at the time
		// of the last event read (same microsecond, ids either side).
		last := res.Events[len(res.Events)-1]
		newer, older, tieLo, tieHi := evs[0], evs[0], evs[0], evs[0]
		newer.ID, newer.Time = fmt.Sprintf("new-%02d", i), base.Add(1000*time.Hour)
		older.ID, older.Time = fmt.Sprintf("old-%02d", i), base.Add(-1000*time.Hour)
		// A proper prefix sorts below an id and an extension above; '-'
		// sorts below the digits and letters ids end in.
		tieLo.ID, tieLo.Time = fmt.Sprintf("%s-%02d", last.ID[:len(last.ID)-1], i), last.Time
		tieHi.ID, tieHi.Time = fmt.Sprintf("%s~%02d", last.ID, i), last.Time
		insert(t, s, []event.Event{newer, older, tieLo, tieHi})
	}
	// The read may include events inserted behind the cursor (older ones);
	// the events there at the start come once each, in order.
	seen := map[string]bool{}
	var original []string
	for _, id := range got {
		if seen[id] {
			t.Errorf("event %q read twice", id)
		}
		seen[id] = true
		if strings.HasPrefix(id, "new-") || strings.Contains(id, "~") {
			t.Errorf("event %q, inserted before the cursor after the read began, was read", id)
		}
		if slices.Contains(want, id) {
			original = append(original, id)
		}
	}
	if !slices.Equal(original, want) {
		t.Errorf("the events there at the start, as paged =\n%v\nwant\n%v", original, want)
	}
}

func testInvalidCursor(t *testing.T, s store.Store) {
	insert(t, s, Fixture(20))
	for _, c := range []string{"not a cursor!", "AAAA", "////"} {
		_, err := s.Query(context.Background(), store.Filter{}, store.Page{Cursor: c})
		if !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("Query with cursor %q: error %v, want ErrInvalidCursor", c, err)
		}
	}
}

func testFacets(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := Fixture(60)
	insert(t, s, evs)
	value := map[store.FacetField]func(*event.Event) (string, string){
		store.FacetAction:  func(e *event.Event) (string, string) { return e.Action, "" },
		store.FacetArea:    func(e *event.Event) (string, string) { return e.Area, "" },
		store.FacetCountry: func(e *event.Event) (string, string) { return e.Source.Country, "" },
		store.FacetOutcome: func(e *event.Event) (string, string) { return string(e.Outcome), "" },
		store.FacetActor: func(e *event.Event) (string, string) {
			if e.Actor.ID != "" {
				return e.Actor.ID, e.Actor.Name
			}
			return e.Actor.Name, ""
		},
	}
	for _, f := range []store.Filter{{}, {Areas: []string{"billing"}}, {OwnActor: "bob"}, {Text: "invoice"}} {
		for field, val := range value {
			counts := map[string]*store.Facet{}
			for i := range evs {
				if !Match(f, &evs[i]) {
					continue
				}
				v, label := val(&evs[i])
				if v == "" {
					continue
				}
				if counts[v] == nil {
					counts[v] = &store.Facet{Value: v, Label: label}
				}
				counts[v].Count++
			}
			var want []store.Facet
			for _, fc := range counts {
				want = append(want, *fc)
			}
			slices.SortFunc(want, func(a, b store.Facet) int {
				if a.Count != b.Count {
					return int(b.Count - a.Count)
				}
				return strings.Compare(a.Value, b.Value)
			})
			for _, limit := range []int{100, 2} {
				got, err := s.Facets(ctx, f, field, limit)
				if err != nil {
					t.Fatalf("Facets(%+v, %s, %d): %v", f, field, limit, err)
				}
				w := want[:min(limit, len(want))]
				if !slices.Equal(got, w) {
					t.Errorf("Facets(%+v, %s, %d) =\n%v\nwant\n%v", f, field, limit, got, w)
				}
			}
		}
	}
	if _, err := s.Facets(ctx, store.Filter{}, "no_such_field", 10); err == nil {
		t.Errorf("Facets of an unknown field: no error")
	}
}

func testEach(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := Fixture(60)
	insert(t, s, evs)
	for _, f := range []store.Filter{{}, {Actions: []string{"invoice.paid", "invoice.refunded"}}, {Text: "alice", OwnActor: "u1"}, {Actors: []string{"nobody"}}} {
		var got []string
		err := s.Each(ctx, f, func(ev *event.Event) error {
			got = append(got, ev.ID)
			return nil
		})
		if err != nil {
			t.Fatalf("Each(%+v): %v", f, err)
		}
		if want := Expect(f, evs); !slices.Equal(got, want) {
			t.Errorf("Each(%+v) =\n%v\nwant\n%v", f, got, want)
		}
	}
	// An event Each hands over is the stored event.
	full := eventtest.Full()
	insert(t, s, []event.Event{full})
	err := s.Each(ctx, store.Filter{Actors: []string{full.Actor.ID}, Actions: []string{full.Action}}, func(ev *event.Event) error {
		if g, w := encode(ev), encode(&full); g != w {
			t.Errorf("Each gave\n%s\nwant\n%s", g, w)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// It stops at fn's first error and returns it.
	stop := errors.New("stop here")
	calls := 0
	err = s.Each(ctx, store.Filter{}, func(*event.Event) error {
		calls++
		if calls == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 5 {
		t.Errorf("Each with fn failing at the 5th event: error %v after %d calls, want %v after 5", err, calls, stop)
	}
}

// testManyEvents has more events than one export chunk or page holds, many
// of them sharing a microsecond, so that chunk and page boundaries fall
// inside runs of equal times.
func testManyEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 2500
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{
			ID:      fmt.Sprintf("m-%05d", (i*7919)%n),
			Time:    base.Add(time.Duration(i/7) * time.Second),
			Action:  []string{"a.one", "a.two", "a.three"}[i%3],
			Outcome: event.OutcomeSuccess,
			Actor:   event.Actor{ID: fmt.Sprint("u", i%11)},
			Source:  event.Source{IP: "192.0.2.1"},
			HTTP:    event.HTTP{Method: "GET", Path: "/", Status: 200},
			Rule:    "r",
		}
	}
	for i := 0; i < n; i += 500 {
		insert(t, s, evs[i:i+500])
	}
	want := Expect(store.Filter{}, evs)
	var got []string
	if err := s.Each(ctx, store.Filter{}, func(ev *event.Event) error {
		got = append(got, ev.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Each over %d events: %d read, in order: %v", n, len(got), slices.Equal(got, want[:min(len(got), len(want))]))
	}
	res, err := s.Query(ctx, store.Filter{}, store.Page{Limit: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != store.MaxLimit || res.Next == "" {
		t.Errorf("Query with Limit 5000: %d events, next %q; want %d and a cursor", len(res.Events), res.Next, store.MaxLimit)
	}
	if got := all(t, s, store.Filter{}, 333); !slices.Equal(got, want) {
		t.Errorf("pages of 333 over %d events differ from the expected order", n)
	}
	f := store.Filter{Actions: []string{"a.two"}, Actors: []string{"u3"}}
	if got, want := all(t, s, f, 10), Expect(f, evs); !slices.Equal(got, want) {
		t.Errorf("pages of %+v =\n%v\nwant\n%v", f, got, want)
	}
	if n := count(t, s, store.Filter{}); n != int64(len(want)) {
		t.Errorf("Count = %d, want %d", n, len(want))
	}
}

func testPurge(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := Fixture(60)
	insert(t, s, evs)
	ordered := slices.Clone(evs)
	SortNewestFirst(ordered)
	cut := ordered[20].Time // the 40 older events go; ordered[20] itself stays
	var purged int64
	for i := range evs {
		if evs[i].Time.Before(cut) {
			purged++
		}
	}
	n, err := s.Purge(ctx, cut)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != purged {
		t.Errorf("Purge = %d, want %d", n, purged)
	}
	rest := Expect(store.Filter{From: cut}, evs)
	if got := all(t, s, store.Filter{}, 1000); !slices.Equal(got, rest) {
		t.Errorf("after Purge =\n%v\nwant\n%v", got, rest)
	}
	if _, err := s.Get(ctx, ordered[59].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(purged event) error = %v, want ErrNotFound", err)
	}
	// The text index forgets the purged events too.
	for _, text := range []string{"invoice", "bo", "alice"} {
		f := store.Filter{Text: text}
		if got, want := all(t, s, f, 1000), Expect(f, ordered[:21]); !slices.Equal(got, want) {
			t.Errorf("after Purge, text %q =\n%v\nwant\n%v", text, got, want)
		}
	}
	for _, target := range []store.Target{{ID: "INV-1001"}, {Name: "bob@example.com"}} {
		f := store.Filter{Target: target}
		if got, want := all(t, s, f, 1000), Expect(f, ordered[:21]); !slices.Equal(got, want) {
			t.Errorf("after Purge, target %+v =\n%v\nwant\n%v", target, got, want)
		}
	}
	if n, err := s.Purge(ctx, cut); err != nil || n != 0 {
		t.Errorf("Purge again = %d, %v; want 0, nil", n, err)
	}
	// A purged id may be stored again (it is a new delivery of an event
	// older than retention; the next purge removes it).
	insert(t, s, ordered[59:])
	if n := count(t, s, store.Filter{}); n != 22 {
		t.Errorf("Count after inserting a purged event again = %d, want 22", n)
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, batches, size = 4, 10, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				evs := Fixture(size * 2)[:size]
				for i := range evs {
					evs[i].ID = fmt.Sprintf("w%d-b%02d-%02d", w, b, i)
				}
				if err := s.Insert(ctx, evs); err != nil {
					errs <- fmt.Errorf("Insert: %w", err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	done := make(chan struct{})
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Query(ctx, store.Filter{Text: "invoice"}, store.Page{Limit: 20}); err != nil {
					errs <- fmt.Errorf("Query: %w", err)
					return
				}
				if _, err := s.Count(ctx, store.Filter{Actors: []string{"alice"}}); err != nil {
					errs <- fmt.Errorf("Count: %w", err)
					return
				}
				if err := s.Each(ctx, store.Filter{Areas: []string{"billing"}}, func(*event.Event) error { return nil }); err != nil {
					errs <- fmt.Errorf("Each: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, s, store.Filter{}); n != writers*batches*size {
		t.Errorf("Count after concurrent inserts = %d, want %d", n, writers*batches*size)
	}
}
