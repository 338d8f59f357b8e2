package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// Synthetic returns n events spread evenly over the 90 days before end,
// oldest first, with 200 actors, 50 actions in 10 areas and 5,000 targets:
// data for benchmarks, deterministic for a given n and end.
func Synthetic(n int, end time.Time) []event.Event {
	r := rand.New(rand.NewPCG(3, 4))
	span := 90 * 24 * time.Hour
	areas := []string{"billing", "users", "auth", "projects", "settings", "files", "teams", "api", "reports", "orders"}
	verbs := []string{"created", "updated", "deleted", "viewed", "refunded"}
	evs := make([]event.Event, n)
	for i := range evs {
		a, v, actor, target := r.IntN(len(areas)), r.IntN(len(verbs)), r.IntN(200), r.IntN(5000)
		name := fmt.Sprintf("user.%03d", actor)
		evs[i] = event.Event{
			ID:          fmt.Sprintf("syn-%09d", i),
			Time:        end.Add(-span + time.Duration(float64(span)*float64(i)/float64(n))),
			Action:      areas[a] + "." + verbs[v],
			Description: fmt.Sprintf("%s %s %s item %d", name, verbs[v], areas[a], target),
			Area:        areas[a],
			Outcome:     event.OutcomeSuccess,
			Actor:       event.Actor{ID: fmt.Sprintf("u%03d", actor), Name: name},
			Target:      event.Target{Type: areas[a], ID: fmt.Sprintf("T-%05d", target), Name: fmt.Sprintf("item %d", target)},
			Source:      event.Source{IP: fmt.Sprintf("10.%d.%d.%d", actor%16, r.IntN(256), r.IntN(256)), Country: "GB"},
			HTTP:        event.HTTP{Method: "POST", Path: "/api/" + areas[a], Status: 200},
			Rule:        "r",
		}
	}
	return evs
}

// Bench runs the benchmarks every engine shares: Insert batches of 500 (the
// most delivery hands a sink at once) into a store holding 20,000 events,
// then the reads the activity log makes on 100,000.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	ctx := context.Background()
	end := time.Now()

	b.Run("Insert500", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		load(b, s, Synthetic(20_000, end.Add(-24*time.Hour)))
		batch := Synthetic(500, end)
		n := 0
		for b.Loop() {
			// New events, newer than the stored ones, as they arrive.
			for i := range batch {
				batch[i].ID = fmt.Sprintf("b-%09d", n)
				batch[i].Time = end.Add(time.Duration(n) * time.Millisecond)
				n++
			}
			if err := s.Insert(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	})

	s := open(b)
	defer s.Close()
	load(b, s, Synthetic(100_000, end))
	last28 := end.Add(-28 * 24 * time.Hour)
	for _, c := range []struct {
		name string
		f    store.Filter
	}{
		{"ActorActionLast28d", store.Filter{Actors: []string{"u042"}, Actions: []string{"billing.updated"}, From: last28}},
		{"Newest", store.Filter{}},
		{"TextRare", store.Filter{Text: "T-04242"}},
		{"TextCommon", store.Filter{Text: "billing"}},
	} {
		b.Run("Page"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Query(ctx, c.f, store.Page{Limit: 50}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Count"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Count(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("FacetsActionsLast28d", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Facets(ctx, store.Filter{From: last28}, store.FacetAction, 50); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EachAll", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if err := s.Each(ctx, store.Filter{}, func(*event.Event) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	})
}

func load(b *testing.B, s store.Store, evs []event.Event) {
	b.Helper()
	for i := 0; i < len(evs); i += 1000 {
		if err := s.Insert(context.Background(), evs[i:min(i+1000, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
}
