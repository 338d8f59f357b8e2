package store

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Match says whether ev passes f, with the engines' semantics: set fields
// combine with AND, list values with OR, times count in whole
// microseconds, and every word of Text must appear, case-insensitively, in
// the description or the actor's or target's id or name. It serves events
// that never pass through a query (the live stream); storetest.Match is
// the tests' independent statement of the same meaning.
func (f *Filter) Match(ev *event.Event) bool {
	isActor := func(who string) bool { return ev.Actor.ID == who || ev.Actor.Name == who }
	t := ev.Time.Truncate(time.Microsecond)
	switch {
	case f.OwnActor != "" && !isActor(f.OwnActor),
		len(f.Actors) > 0 && !slices.ContainsFunc(f.Actors, isActor),
		len(f.Actions) > 0 && !slices.Contains(f.Actions, ev.Action),
		len(f.Areas) > 0 && !slices.Contains(f.Areas, ev.Area),
		f.Target.Type != "" && f.Target.Type != ev.Target.Type,
		f.Target.ID != "" && f.Target.ID != ev.Target.ID,
		f.Target.Name != "" && f.Target.Name != ev.Target.Name,
		f.Outcome != "" && f.Outcome != string(ev.Outcome),
		len(f.Countries) > 0 && !slices.Contains(f.Countries, ev.Source.Country),
		f.AfterSeq != 0 && ev.Seq <= f.AfterSeq,
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
	if words := Words(f.Text); len(words) > 0 {
		fields := strings.ToLower(ev.Description + "\n" + ev.Actor.ID + "\n" + ev.Actor.Name + "\n" + ev.Target.ID + "\n" + ev.Target.Name)
		for _, w := range words {
			if !strings.Contains(fields, strings.ToLower(w)) {
				return false
			}
		}
	}
	return true
}
