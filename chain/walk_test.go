package chain

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

var walkBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// sealed events of one new chain, named prefix-1..., at the given offsets
// from walkBase (one per event).
func chainAt(t *testing.T, prefix string, at ...time.Duration) []event.Event {
	t.Helper()
	c, _ := Open("")
	evs := make([]event.Event, len(at))
	for i, d := range at {
		evs[i] = eventtestFull(fmt.Sprintf("%s %d", prefix, i+1))
		evs[i].ID = fmt.Sprintf("%s-%d", prefix, i+1)
		evs[i].Time = walkBase.Add(d)
	}
	if err := c.Seal(evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func hours(from, to int) []time.Duration {
	var out []time.Duration
	for h := from; h <= to; h++ {
		out = append(out, time.Duration(h)*time.Hour)
	}
	return out
}

// without returns evs without the events whose ids are given.
func without(evs []event.Event, ids ...string) []event.Event {
	return slices.DeleteFunc(slices.Clone(evs), func(ev event.Event) bool { return slices.Contains(ids, ev.ID) })
}

// walk feeds the events of every chain to a Walk in store order (seq,
// then id).
func walk(w *Walk, chains ...[]event.Event) Report {
	var all []event.Event
	for _, c := range chains {
		all = append(all, c...)
	}
	slices.SortStableFunc(all, func(a, b event.Event) int {
		if a.Seq != b.Seq {
			return int(a.Seq - b.Seq)
		}
		return cmpString(a.ID, b.ID)
	})
	for i := range all {
		if !w.Add(all[i].Seq, &all[i]) {
			break
		}
	}
	return w.Report()
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestWalk(t *testing.T) {
	cut := walkBase.Add(3*time.Hour + 30*time.Minute) // events at 1h..3h purged
	a := chainAt(t, "a", hours(1, 10)...)
	aReset := chainAt(t, "r", hours(11, 13)...) // a's instance again, its state reset
	// b is idle from 2h to 8h: its first event after the purge (b-7) is
	// far from the cut-off.
	var bAt []time.Duration
	for i := range 6 {
		bAt = append(bAt, time.Hour+time.Duration(i)*10*time.Minute)
	}
	b := chainAt(t, "b", append(bAt, hours(8, 12)...)...)
	// c's 4th event arrived before its 3rd (a request of a few minutes):
	// the purge keeps the 3rd and deletes the 4th.
	c := chainAt(t, "c", time.Hour, 2*time.Hour, 3*time.Hour+31*time.Minute, 3*time.Hour+29*time.Minute, 5*time.Hour, 6*time.Hour)
	// d is an instance that stopped for good at 5h.
	d := chainAt(t, "d", hours(1, 5)...)
	purged := func(evs []event.Event) []event.Event {
		return slices.DeleteFunc(slices.Clone(evs), func(ev event.Event) bool { return ev.Time.Before(cut) })
	}
	unchained := eventtestFull("unchained")
	unchained.Time = walkBase.Add(9 * time.Hour)

	cases := []struct {
		name   string
		purged time.Time
		chains [][]event.Event
		kind   string // "" when it holds
		id     string
		nChain int
		nPurge int
	}{
		{name: "one chain", chains: [][]event.Event{a}, nChain: 1},
		{name: "a state reset starts a second chain", chains: [][]event.Event{a, aReset}, nChain: 2},
		{name: "interleaved chains", chains: [][]event.Event{a, b, c, d}, nChain: 4},
		{name: "purged", purged: cut, chains: [][]event.Event{purged(a), purged(c), purged(d)}, nChain: 4, nPurge: 4},
		{name: "purged, with a long request at the edge", purged: cut, chains: [][]event.Event{purged(c)}, nChain: 2, nPurge: 2},
		{name: "purged, an idle instance", purged: cut, chains: [][]event.Event{purged(a), purged(b)}, nChain: 2, nPurge: 2},
		{name: "purged, but not recorded", chains: [][]event.Event{purged(a)}, kind: "deleted", id: "a-4"},
		{name: "deleted after the purge", purged: cut, chains: [][]event.Event{without(purged(a), "a-7")}, kind: "deleted", id: "a-8"},
		{name: "deleted at the purge's edge", purged: cut, chains: [][]event.Event{without(purged(a), "a-4")}, nChain: 1, nPurge: 1},
		{name: "deleted, the chain before looks ended", chains: [][]event.Event{without(d, "d-3")}, kind: "deleted", id: "d-4"},
		// The rule's limit: an idle instance's first event after a purge,
		// when another chain ended after the purge's edge and before it,
		// could be that chain continued after a deletion.
		{name: "purged, an idle instance after one that stopped", purged: cut, chains: [][]event.Event{purged(b), purged(d)}, kind: "deleted", id: "b-7"},
		{name: "unchained", chains: [][]event.Event{a, {unchained}}, kind: "unchained"},
	}
	for _, tc := range cases {
		r := walk(&Walk{PurgedBefore: tc.purged}, tc.chains...)
		if tc.kind == "" {
			if r.Problem != nil || len(r.Chains) != tc.nChain || r.Purged != tc.nPurge {
				t.Errorf("%s: problem %v, %d chains, %d after purges; want none, %d, %d", tc.name, r.Problem, len(r.Chains), r.Purged, tc.nChain, tc.nPurge)
			}
			continue
		}
		if r.Problem == nil || r.Problem.Kind != tc.kind || (tc.id != "" && r.Problem.ID != tc.id) {
			t.Errorf("%s: problem %v, want %s at %s", tc.name, r.Problem, tc.kind, tc.id)
		}
	}
}

func TestPurgeCutoff(t *testing.T) {
	for _, tc := range []struct {
		action, desc string
		want         time.Time
		ok           bool
	}{
		{PurgeAction, "retention purged 12 events older than 2026-03-01T03:30:00.000000Z", walkBase.Add(3*time.Hour + 30*time.Minute), true},
		{PurgeAction, "retention purged 12 events older than yesterday", time.Time{}, false},
		{PurgeAction, "something else", time.Time{}, false},
		{"user.login", "retention purged 12 events older than 2026-03-01T03:30:00.000000Z", time.Time{}, false},
	} {
		got, ok := PurgeCutoff(&event.Event{Action: tc.action, Description: tc.desc})
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("PurgeCutoff(%s %q) = %v, %v; want %v, %v", tc.action, tc.desc, got, ok, tc.want, tc.ok)
		}
	}
}
