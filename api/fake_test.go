package api

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/storetest"
)

// fakeStore is an in-memory store.Store with the documented semantics,
// filtering with storetest.Match, the reference every engine is tested
// against. It remembers the filters it was
// asked for, so tests can check what the API handed down.
type fakeStore struct {
	mu      sync.Mutex
	events  []event.Event // newest first
	filters []store.Filter
	// each, when set, replaces Each (huge or failing exports).
	each func(ctx context.Context, f store.Filter, fn func(*event.Event) error) error
}

var _ store.Store = (*fakeStore)(nil)

func newFakeStore(evs ...event.Event) *fakeStore {
	s := &fakeStore{}
	s.Insert(context.Background(), evs)
	return s
}

func (s *fakeStore) Insert(_ context.Context, evs []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		if !slices.ContainsFunc(s.events, func(e event.Event) bool { return e.ID == ev.ID }) {
			s.events = append(s.events, ev)
		}
	}
	slices.SortStableFunc(s.events, func(a, b event.Event) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	})
	return nil
}

func (s *fakeStore) matching(f store.Filter) []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filters = append(s.filters, f)
	var out []event.Event
	for i := range s.events {
		if storetest.Match(f, &s.events[i]) {
			out = append(out, s.events[i])
		}
	}
	return out
}

func (s *fakeStore) lastFilter() store.Filter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.filters) == 0 {
		return store.Filter{}
	}
	return s.filters[len(s.filters)-1]
}

// Query pages by offset; the cursor is the offset as text.
func (s *fakeStore) Query(_ context.Context, f store.Filter, p store.Page) (store.Result, error) {
	evs := s.matching(f)
	limit := p.Size()
	start := 0
	if p.Cursor != "" {
		n, err := strconv.Atoi(p.Cursor)
		if err != nil {
			return store.Result{}, store.ErrInvalidCursor
		}
		start = n
	}
	start = min(start, len(evs))
	end := min(start+limit, len(evs))
	res := store.Result{Events: evs[start:end]}
	if end < len(evs) {
		res.Next = strconv.Itoa(end)
	}
	return res, nil
}

func (s *fakeStore) Count(_ context.Context, f store.Filter) (int64, error) {
	return int64(len(s.matching(f))), nil
}

func (s *fakeStore) Get(_ context.Context, id string) (event.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.events {
		if ev.ID == id {
			return ev, nil
		}
	}
	return event.Event{}, store.ErrNotFound
}

func (s *fakeStore) Facets(_ context.Context, f store.Filter, field store.FacetField, limit int) ([]store.Facet, error) {
	counts := map[string]int64{}
	for _, ev := range s.matching(f) {
		var v string
		switch field {
		case store.FacetAction:
			v = ev.Action
		case store.FacetArea:
			v = ev.Area
		case store.FacetActor:
			v = cmp.Or(ev.Actor.Name, ev.Actor.ID)
		case store.FacetCountry:
			v = ev.Source.Country
		case store.FacetOutcome:
			v = string(ev.Outcome)
		}
		if v != "" {
			counts[v]++
		}
	}
	var out []store.Facet
	for v, n := range counts {
		out = append(out, store.Facet{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b store.Facet) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Value, b.Value))
	})
	if limit = store.FacetLimit(limit); len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *fakeStore) Each(ctx context.Context, f store.Filter, fn func(*event.Event) error) error {
	if s.each != nil {
		return s.each(ctx, f, fn)
	}
	for _, ev := range s.matching(f) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(&ev); err != nil {
			return err
		}
	}
	return nil
}

func (s *fakeStore) Purge(context.Context, time.Time) (int64, error) {
	return 0, errors.New("the trail is read-only here")
}

func (s *fakeStore) Close() error { return nil }
