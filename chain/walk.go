package chain

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// PurgeAction is the action of the event retention writes after each
// purge, whose description ends "older than <cut-off>".
const PurgeAction = "auditlog.purged"

// PurgeCutoff returns the cut-off a retention purge event records.
func PurgeCutoff(ev *event.Event) (time.Time, bool) {
	if ev.Action != PurgeAction {
		return time.Time{}, false
	}
	i := strings.LastIndex(ev.Description, " older than ")
	if i < 0 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ev.Description[i+len(" older than "):])
	return t, err == nil
}

// DefaultPurgeSlack is Walk.PurgeSlack's default: how far from the purge
// cut-off the events at the old edge of a chain may lie. Events enter
// their chain when they are built (after the response), while their time
// is when the request arrived, so within a chain time runs only roughly in
// seq order; a purge by time can keep an event and delete the one sealed
// after it. This bounds how long requests take.
const DefaultPurgeSlack = 5 * time.Minute

// Walk checks the events of a store, where the chains of several instances
// (proxies sharing one database; one proxy across state resets) lie
// interleaved, and retention has purged the oldest events. Add takes the
// events ordered by seq, with the seq each was stored under; events of one
// seq may come in any order.
//
// Chains are told apart by their links: an event continues the chain
// whose last event has seq one less and a hash equal to the event's
// prev_hash. Two events continuing one event fork the chain: the second is
// inserted. An event that continues no chain begins one, which is right
//
//   - at seq 1 without prev_hash: an instance's first event (or the first
//     after its state file was reset);
//   - after a purge: its predecessors were purged by retention. Purges
//     delete by time, so what they remove is older than their cut-off,
//     and what every chain keeps is the part after it. The walk accepts a
//     chain beginning mid-way when the trail records a purge (an
//     auditlog.purged event, itself chained; PurgedBefore is the latest
//     cut-off) and either the event lies within PurgeSlack of the cut-off,
//     or no chain ends where this one could have continued it: no chain
//     whose last event has a lower seq and a time between cut-off+slack
//     and the event's time+slack.
//
// Anything else is a break, reported as deleted (a gap after the chain
// that ended most recently), inserted (a chain that ends at seq-1 was not
// continued: its next event was replaced, or this one is foreign), or
// reordered (an event stored under another seq than its own; in a store,
// order is seq).
//
// So a deletion in the middle of a chain is found unless it lies within
// PurgeSlack of the last purge's cut-off, or is made to look like a purge:
// the chain before the gap deleted too, down to the cut-off. Deleting a
// chain's newest events is found only with signed checkpoints. Memory is
// one entry per chain, not per event.
type Walk struct {
	// Key, when set, checks checkpoint signatures and counts checkpoints.
	Key ed25519.PublicKey
	// PurgedBefore is the latest retention cut-off the trail records; zero
	// when none (no chain may then begin mid-way). See PurgeCutoff.
	PurgedBefore time.Time
	// PurgeSlack: 0 means DefaultPurgeSlack.
	PurgeSlack time.Duration

	report   Report
	tails    map[string]*tail // by hash; ended chains stay, they are few
	group    []event.Event    // the events of seq groupSeq, not yet linked
	groupSeq int64
}

// Add checks the next event, stored under storedSeq. It returns false once
// a problem is found; Report tells it. Add copies ev.
func (w *Walk) Add(storedSeq int64, ev *event.Event) bool {
	if w.report.Problem != nil {
		return false
	}
	if w.tails == nil {
		w.tails = map[string]*tail{}
	}
	if storedSeq != w.groupSeq && len(w.group) > 0 {
		if storedSeq < w.groupSeq {
			w.fail(ev, &fault{"reordered", fmt.Sprintf("read after seq %d: the store is not in seq order", w.groupSeq)})
			return false
		}
		if !w.link() {
			return false
		}
	}
	if ev.Seq != storedSeq {
		w.fail(ev, &fault{"reordered", fmt.Sprintf("the event with seq %d is stored as seq %d", ev.Seq, storedSeq)})
		return false
	}
	if f := sealed(ev); f != nil {
		w.fail(ev, f)
		return false
	}
	if f := signed(w.Key, ev); f != nil {
		w.fail(ev, f)
		return false
	}
	w.groupSeq = storedSeq
	e := *ev
	e.Line = nil
	w.group = append(w.group, e)
	return true
}

// link joins the events of one seq to the chains.
func (w *Walk) link() bool {
	s := w.groupSeq
	claimed := map[string]*tail{} // by the hash they had: chains continued at this seq
	var begun []int               // events of the group that continue no chain
	for i := range w.group {
		ev := &w.group[i]
		if t := claimed[ev.PrevHash]; t != nil && ev.PrevHash != "" {
			w.fail(ev, &fault{"inserted", fmt.Sprintf("forks the chain: event %s already follows seq %d", t.id, s-1)})
			return false
		}
		t := w.tails[ev.PrevHash]
		if t == nil || t.seq != s-1 || ev.PrevHash == "" {
			begun = append(begun, i)
			continue
		}
		delete(w.tails, t.hash)
		claimed[t.hash] = t
		w.report.extend(t, ev, w.Key)
	}
	var started []*tail
	for _, i := range begun {
		ev := &w.group[i]
		afterPurge := ev.Seq != 1 || ev.PrevHash != ""
		if afterPurge {
			if f := w.purged(ev); f != nil {
				w.fail(ev, f)
				return false
			}
		}
		t := w.report.start(ev, afterPurge)
		w.report.extend(t, ev, w.Key)
		started = append(started, t)
	}
	for _, t := range claimed {
		w.tails[t.hash] = t
	}
	for _, t := range started {
		w.tails[t.hash] = t
	}
	w.group = w.group[:0]
	return true
}

// purged returns nil when ev, which continues no chain and is not a first
// event, can begin a chain after a purge, else the break it is (see Walk).
// The chains continued or begun at ev's seq are not in w.tails yet: ev
// cannot follow them.
func (w *Walk) purged(ev *event.Event) *fault {
	slack := w.PurgeSlack
	if slack <= 0 {
		slack = DefaultPurgeSlack
	}
	var (
		cand     *tail // the chain ev most likely continues: the nearest before it
		blocking bool  // a chain ends where ev could continue it, after the purge's edge
	)
	for _, t := range w.tails {
		if t.seq >= ev.Seq {
			continue
		}
		if cand == nil || t.seq > cand.seq || t.seq == cand.seq && t.time.After(cand.time) {
			cand = t
		}
		if !t.time.Before(w.PurgedBefore.Add(slack)) && !t.time.After(ev.Time.Add(slack)) {
			blocking = true
		}
	}
	if !w.PurgedBefore.IsZero() && (ev.Time.Before(w.PurgedBefore.Add(slack)) || !blocking) {
		return nil
	}
	why := "and no retention purge is recorded"
	if !w.PurgedBefore.IsZero() {
		why = "and the last retention purge (of events before " + w.PurgedBefore.UTC().Format(time.RFC3339) + ") does not explain it"
	}
	if cand == nil {
		return &fault{"deleted", fmt.Sprintf("the event continues no stored event: the %d events before it are missing, %s", ev.Seq-1, why)}
	}
	if cand.seq == ev.Seq-1 {
		return &fault{"inserted", fmt.Sprintf("prev_hash matches no stored event: it was inserted, or the event before it (seq %d, event %s) was replaced", cand.seq, cand.id)}
	}
	return &fault{"deleted", fmt.Sprintf("%d events missing after seq %d (event %s), %s", ev.Seq-cand.seq-1, cand.seq, cand.id, why)}
}

func (w *Walk) fail(ev *event.Event, f *fault) {
	if w.report.Problem == nil {
		w.report.Problem = &Problem{Seq: ev.Seq, ID: ev.ID, Kind: f.kind, Msg: f.msg}
	}
}

// Report links the events still pending and returns what the walk found.
func (w *Walk) Report() Report {
	if w.report.Problem == nil && len(w.group) > 0 {
		w.link()
	}
	return w.report
}
