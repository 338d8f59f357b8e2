package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output/format"
	"github.com/auditproxy/auditproxy/store"
)

// Tamper changes stored events behind the store's back, as someone with
// write access to the database could. Each engine's test supplies it.
type Tamper struct {
	SetDoc func(t *testing.T, id string, doc []byte) // replace the stored document
	Delete func(t *testing.T, id string)
	SetSeq func(t *testing.T, id string, seq int64) // the seq column, which orders the chain
}

// chainBase is the time of the trails' first events; each chain has an
// event an hour, the second chain half an hour after the first.
var chainBase = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// chainTrail seals n events for each of chains instances (ids "a-01",
// "b-01", ...). With purge, the first chain's last event records a
// retention purge of the events before cutoff.
func chainTrail(t *testing.T, chains, n int, purge time.Time) []event.Event {
	t.Helper()
	var all []event.Event
	for c := range chains {
		ch, _ := chain.Open("")
		evs := make([]event.Event, n)
		for i := range evs {
			ev := eventtest.Full()
			ev.ID = fmt.Sprintf("%c-%02d", 'a'+c, i+1)
			ev.Time = chainBase.Add(time.Duration(i+1)*time.Hour + time.Duration(c)*30*time.Minute)
			ev.Description = fmt.Sprintf("event %d of chain %c", i+1, 'a'+c)
			evs[i] = ev
		}
		if c == 0 && !purge.IsZero() {
			evs[n-1].Action = chain.PurgeAction
			evs[n-1].Description = fmt.Sprintf("retention purged 6 events older than %s", purge.Format(event.TimeFormat))
		}
		if err := ch.Seal(evs); err != nil {
			t.Fatal(err)
		}
		all = append(all, evs...)
	}
	return all
}

// reseal is ev with its content changed by edit and its hash made to
// match again: a forgery that keeps the links to the event before it.
func reseal(ev event.Event, edit func(*event.Event)) []byte {
	ev.Line = nil
	edit(&ev)
	ev.Hash = chain.Hash(&ev)
	return format.AppendJSON(nil, &ev)
}

// RunChain checks store.VerifyChain on the engine: an intact trail of
// several interleaved chains holds, retention purges do not read as
// tampering, and every kind of tampering is found at its event. open
// returns a new, empty store and the means to tamper with it; RunChain
// closes the store.
func RunChain(t *testing.T, open func(t *testing.T) (store.Store, Tamper)) {
	cutoff := chainBase.Add(3*time.Hour + 45*time.Minute) // a-01..a-03, b-01..b-03 older
	find := func(evs []event.Event, id string) event.Event {
		for _, ev := range evs {
			if ev.ID == id {
				return ev
			}
		}
		t.Fatalf("no event %s", id)
		return event.Event{}
	}
	cases := []struct {
		name    string
		purge   time.Time // when set, the trail records a purge with this cut-off and the store purges
		tamper  func(t *testing.T, evs []event.Event, s store.Store, tp Tamper)
		kind    string // "" when the chain holds
		id      string // the event the problem is reported at
		chains  int
		checked int
	}{
		{name: "intact", chains: 2, checked: 20},
		{name: "retention purged", purge: cutoff, chains: 2, checked: 14},
		{name: "edited", kind: "edited", id: "a-05", tamper: func(t *testing.T, evs []event.Event, _ store.Store, tp Tamper) {
			ev := find(evs, "a-05")
			ev.Line, ev.Description = nil, "edited"
			tp.SetDoc(t, "a-05", format.AppendJSON(nil, &ev))
		}},
		{name: "deleted", kind: "deleted", id: "a-06", tamper: func(t *testing.T, _ []event.Event, _ store.Store, tp Tamper) {
			tp.Delete(t, "a-05")
		}},
		{name: "deleted two of the second chain", kind: "deleted", id: "b-08", tamper: func(t *testing.T, _ []event.Event, _ store.Store, tp Tamper) {
			tp.Delete(t, "b-06")
			tp.Delete(t, "b-07")
		}},
		{name: "deleted the oldest without a purge", kind: "deleted", id: "a-03", tamper: func(t *testing.T, _ []event.Event, _ store.Store, tp Tamper) {
			tp.Delete(t, "a-01")
			tp.Delete(t, "a-02")
		}},
		{name: "deleted after a purge", purge: cutoff, kind: "deleted", id: "a-08", tamper: func(t *testing.T, _ []event.Event, _ store.Store, tp Tamper) {
			tp.Delete(t, "a-07")
		}},
		{name: "replaced", kind: "inserted", id: "b-05", tamper: func(t *testing.T, evs []event.Event, _ store.Store, tp Tamper) {
			tp.SetDoc(t, "b-04", reseal(find(evs, "b-04"), func(ev *event.Event) { ev.Actor.Name = "mallory" }))
		}},
		{name: "inserted mid-chain", kind: "deleted", id: "x-06", tamper: func(t *testing.T, evs []event.Event, s store.Store, _ Tamper) {
			forged := find(evs, "a-06")
			forged.ID, forged.PrevHash = "x-06", "0000"
			forged.Line = nil
			forged.Hash = chain.Hash(&forged)
			if err := s.Insert(context.Background(), []event.Event{forged}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "forked", kind: "inserted", id: "x-06", tamper: func(t *testing.T, evs []event.Event, s store.Store, _ Tamper) {
			forged := find(evs, "a-06")
			forged.ID, forged.Description = "x-06", "a second event 6"
			forged.Line = nil
			forged.Hash = chain.Hash(&forged)
			if err := s.Insert(context.Background(), []event.Event{forged}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "reordered", kind: "reordered", id: "a-06", tamper: func(t *testing.T, _ []event.Event, _ store.Store, tp Tamper) {
			tp.SetSeq(t, "a-05", 6)
			tp.SetSeq(t, "a-06", 5)
		}},
		{name: "moved to another seq", kind: "reordered", id: "b-09", tamper: func(t *testing.T, _ []event.Event, _ store.Store, tp Tamper) {
			tp.SetSeq(t, "b-09", 3)
		}},
	}
	for _, chunk := range []int{store.ChainChunk, 3} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/chunk=%d", tc.name, chunk), func(t *testing.T) {
				defer func(old int) { store.ChainChunk = old }(store.ChainChunk)
				store.ChainChunk = chunk
				s, tp := open(t)
				defer s.Close()
				ctx := context.Background()
				evs := chainTrail(t, 2, 10, tc.purge)
				insert(t, s, evs)
				if !tc.purge.IsZero() {
					if n, err := s.Purge(ctx, tc.purge); err != nil || n != 6 {
						t.Fatalf("Purge = %d, %v; want 6 events", n, err)
					}
				}
				if tc.tamper != nil {
					tc.tamper(t, evs, s, tp)
				}
				r, err := store.VerifyChain(ctx, s, &chain.Walk{})
				if err != nil {
					t.Fatal(err)
				}
				if tc.kind == "" {
					if r.Problem != nil {
						t.Fatalf("problem %v, want none", r.Problem)
					}
					if len(r.Chains) != tc.chains || r.Checked != tc.checked {
						t.Errorf("got %d chains, %d events; want %d, %d", len(r.Chains), r.Checked, tc.chains, tc.checked)
					}
					return
				}
				if r.Problem == nil || r.Problem.Kind != tc.kind || r.Problem.ID != tc.id {
					t.Errorf("problem %v; want %s at event %s", r.Problem, tc.kind, tc.id)
				}
			})
		}
	}
}
