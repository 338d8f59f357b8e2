package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// base is the time of the oldest fixture event.
var base = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// Fixture returns n events (n >= 20) with every filterable field varied:
// actors by id and name (one actor's id is another's name), actions with
// and without an area, targets, outcomes, countries, IPv4, IPv6, an
// IPv4-mapped address, an address that does not parse and none; times with
// microseconds, some shared by two events; descriptions with LIKE's special
// characters, quotes, a NUL byte and invalid UTF-8. Ids do not follow time,
// so the order of ties is the ids' own.
func Fixture(n int) []event.Event {
	actors := []event.Actor{
		{ID: "u1", Name: "alice", Type: "user"},
		{ID: "u2", Name: "bob", Type: "user"},
		{Name: "carol"},
		{ID: "svc-9", Type: "service"},
		{},
		{ID: "alice", Name: "Alice Admin", Type: "user"},
	}
	actions := []struct{ action, area, verb string }{
		{"user.login", "auth", "logged in to"},
		{"user.created", "users", "created"},
		{"invoice.paid", "billing", "paid"},
		{"invoice.refunded", "billing", "refunded"},
		{"settings.changed", "", "changed settings of"},
	}
	targets := []event.Target{
		{Type: "user", ID: "43", Name: "bob@example.com"},
		{Type: "invoice", ID: "INV-1001", Name: "Invoice 1001"},
		{Type: "invoice", ID: "INV-1002", Name: "Invoice 1002"},
		{},
	}
	outcomes := []event.Outcome{event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeUnknown}
	countries := []string{"GB", "FR", "US", ""}
	ips := []string{"81.2.69.142", "81.2.69.7", "10.0.0.5", "2001:db8::1", "2001:db8:1::7", "", "not-an-ip", "::ffff:10.0.0.9"}
	special := map[int]string{
		7:  "Discount 100% off_code applied",
		8:  "Discount 100x offXcode applied",
		9:  `O'Brien said "quoted"`,
		13: "Ünïcode ÄÖ",
		14: "nul\x00byte \xff bad",
		15: `opened C:\temp\a\b`,
	}

	evs := make([]event.Event, n)
	t := base
	for i := range evs {
		if i%10 != 1 { // events 1, 11, 21 ... share the time of the one before
			t = base.Add(time.Duration(i)*37*time.Minute + time.Duration(i)*1001*time.Microsecond)
		}
		a := actions[i%len(actions)]
		actor := actors[i%len(actors)]
		target := targets[i%len(targets)]
		who := cmp.Or(actor.Name, actor.ID, "someone")
		desc := strings.TrimSpace(fmt.Sprintf("%s %s %s", who, a.verb, target.Name))
		if s, ok := special[i]; ok {
			desc = s
		}
		evs[i] = event.Event{
			ID:          fmt.Sprintf("ev-%03d", (i*37)%1000),
			Time:        t,
			Action:      a.action,
			Description: desc,
			Area:        a.area,
			Severity:    event.SeverityInfo,
			Outcome:     outcomes[i%len(outcomes)],
			Actor:       actor,
			Target:      target,
			Source:      event.Source{IP: ips[i%len(ips)], Country: countries[(i/2)%len(countries)]},
			HTTP:        event.HTTP{Method: "POST", Path: "/x", Status: 200},
			Rule:        "r" + fmt.Sprint(i%3),
			App:         "app",
			Seq:         int64(i + 1),
		}
	}
	// Stored in an order that is neither time nor id order.
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

// Match is the meaning of store.Filter, written plainly: what every engine
// must return.
func Match(f store.Filter, ev *event.Event) bool {
	actorIs := func(v string) bool { return ev.Actor.ID == v || ev.Actor.Name == v }
	t := ev.Time.Truncate(time.Microsecond)
	switch {
	case len(f.Actors) > 0 && !anyOf(f.Actors, actorIs),
		f.OwnActor != "" && !actorIs(f.OwnActor),
		len(f.Actions) > 0 && !slices.Contains(f.Actions, ev.Action),
		len(f.Areas) > 0 && !slices.Contains(f.Areas, ev.Area),
		f.Target.Type != "" && f.Target.Type != ev.Target.Type,
		f.Target.ID != "" && f.Target.ID != ev.Target.ID,
		f.Target.Name != "" && f.Target.Name != ev.Target.Name,
		f.Outcome != "" && f.Outcome != string(ev.Outcome),
		len(f.Countries) > 0 && !anyOf(f.Countries, func(c string) bool { return c == ev.Source.Country }),
		f.AfterSeq != 0 && !(ev.Seq > f.AfterSeq),
		!f.From.IsZero() && t.Before(f.From),
		!f.To.IsZero() && !t.Before(f.To):
		return false
	}
	if f.IP != nil {
		a, err := netip.ParseAddr(ev.Source.IP)
		if err != nil {
			return false
		}
		p := *f.IP
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if !p.Masked().Contains(a.Unmap()) { // false across families
			return false
		}
	}
	fields := strings.ToLower(strings.Join([]string{ev.Description, ev.Actor.ID, ev.Actor.Name, ev.Target.ID, ev.Target.Name}, "\n"))
	for _, w := range store.Words(f.Text) {
		if !strings.Contains(fields, strings.ToLower(w)) {
			return false
		}
	}
	return true
}

// anyOf says whether is holds for one of values.
func anyOf(values []string, is func(string) bool) bool {
	for _, v := range values {
		if is(v) {
			return true
		}
	}
	return false
}

// Expect returns the ids of the events matching f in the order every
// engine returns them: time descending, then id descending.
func Expect(f store.Filter, evs []event.Event) []string {
	var m []event.Event
	for i := range evs {
		if Match(f, &evs[i]) {
			m = append(m, evs[i])
		}
	}
	SortNewestFirst(m)
	return ids(m)
}

// SortNewestFirst sorts events in the store's order.
func SortNewestFirst(evs []event.Event) {
	slices.SortFunc(evs, func(a, b event.Event) int {
		ta, tb := a.Time.Truncate(time.Microsecond), b.Time.Truncate(time.Microsecond)
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

func ids(evs []event.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}
