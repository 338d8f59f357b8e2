package chain

import (
	"bufio"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Report is what a verification found.
type Report struct {
	Checked    int           // events checked (duplicates not counted)
	Duplicates int           // the same event again (at-least-once delivery): not a problem
	Purged     int           // chains that begin after events retention purged (stores only)
	Chains     []ChainReport // one per chain, in the order their first events came
	Problem    *Problem      // the first break in the chain; nil when it holds
}

// ChainReport is what was found of one chain: an instance's events from one
// state file. A file holds one; a store shared by several proxies holds
// one per proxy (and one more each time a proxy starts with a new state).
type ChainReport struct {
	FirstSeq, LastSeq int64
	LastID            string
	LastTime          time.Time
	Events            int
	// AfterPurge: the chain's first stored event follows events purged by
	// retention.
	AfterPurge bool

	// Checkpoints, counted when verifying with a key: how many, the seq
	// and time of the last, how many events follow it unsigned, whether
	// the chain ends with a shutdown checkpoint, and the spacing of the
	// last two periodic checkpoints (the interval they were written at;
	// 0 when unknown).
	Checkpoints int
	SignedSeq   int64
	SignedTime  time.Time
	Unsigned    int
	Shutdown    bool
	Interval    time.Duration
}

// Problem is a break in the chain, by position: file and line for files,
// seq and event id for stores (ID is set for both when known).
type Problem struct {
	File string
	Line int
	Seq  int64
	ID   string
	Kind string // edited, deleted, inserted, reordered, forged, unchained, malformed
	Msg  string
}

func (p *Problem) Error() string {
	if p.File != "" {
		return fmt.Sprintf("%s:%d: seq %d: %s: %s", p.File, p.Line, p.Seq, p.Kind, p.Msg)
	}
	return fmt.Sprintf("seq %d (event %s): %s: %s", p.Seq, p.ID, p.Kind, p.Msg)
}

// fault is a problem without its position, which the walk adds.
type fault struct{ kind, msg string }

// The checks below are the whole meaning of "the chain holds"; the file
// Verifier and the store Walk only differ in how they find an event's
// predecessor.

// sealed checks an event on its own: it has a hash, and its content
// matches it.
func sealed(ev *event.Event) *fault {
	if ev.Hash == "" {
		return &fault{"unchained", "the event has no hash: chaining was off, or the hash was removed"}
	}
	if Hash(ev) != ev.Hash {
		return &fault{"edited", "the event's content does not match its hash"}
	}
	return nil
}

// follows checks that ev comes right after prev in their chain.
func follows(prev *tail, ev *event.Event) *fault {
	switch {
	case ev.Seq > prev.seq+1:
		return &fault{"deleted", fmt.Sprintf("%d events missing after seq %d", ev.Seq-prev.seq-1, prev.seq)}
	case ev.Seq <= prev.seq:
		return &fault{"reordered", fmt.Sprintf("seq %d comes after seq %d", ev.Seq, prev.seq)}
	case ev.PrevHash != prev.hash:
		return &fault{"inserted", "prev_hash does not match the event before it: it was inserted, or the one before was replaced"}
	}
	return nil
}

// signed checks a checkpoint's signature when there is a key. Events
// without one are not checkpoints; a checkpoint without one is forged.
func signed(key ed25519.PublicKey, ev *event.Event) *fault {
	if key == nil || (ev.Action != CheckpointAction && ev.Signature == "") {
		return nil
	}
	if !SignatureValid(key, ev) {
		return &fault{"forged", fmt.Sprintf("the checkpoint's signature does not verify with key %s: forged, or signed with another key (it names %q)", KeyID(key), ev.Target.ID)}
	}
	return nil
}

// tail is the last event so far of one chain.
type tail struct {
	seq  int64
	hash string
	id   string
	time time.Time
	rep  int // index in Report.Chains
}

// start begins a chain at ev.
func (r *Report) start(ev *event.Event, afterPurge bool) *tail {
	r.Chains = append(r.Chains, ChainReport{FirstSeq: ev.Seq, AfterPurge: afterPurge})
	if afterPurge {
		r.Purged++
	}
	return &tail{rep: len(r.Chains) - 1}
}

// extend makes ev the chain's last event, counting checkpoints when
// verifying with a key (signed has passed).
func (r *Report) extend(t *tail, ev *event.Event, key ed25519.PublicKey) {
	t.seq, t.hash, t.id, t.time = ev.Seq, ev.Hash, ev.ID, ev.Time
	c := &r.Chains[t.rep]
	c.LastSeq, c.LastID, c.LastTime = ev.Seq, ev.ID, ev.Time
	c.Events++
	r.Checked++
	if key == nil {
		return
	}
	if ev.Action != CheckpointAction {
		c.Unsigned++
		c.Shutdown = false
		return
	}
	if c.Checkpoints > 0 && !c.Shutdown {
		c.Interval = ev.Time.Sub(c.SignedTime)
	}
	c.Checkpoints++
	c.SignedSeq, c.SignedTime, c.Unsigned = ev.Seq, ev.Time, 0
	c.Shutdown = ev.Target.Name == CheckpointShutdown
}

// Verifier checks JSON-lines files of events in order; files continue one
// another (a rotated file, then the current one). They hold one chain,
// which may begin anywhere (the file before was rotated away).
type Verifier struct {
	// Key, when set, checks every checkpoint's signature and counts
	// checkpoints in the report.
	Key ed25519.PublicKey

	report Report
	tail   *tail
	seen   map[string]string // event id -> hash, to tell duplicates
}

// Check reads one file's lines; it stops at the first problem.
func (v *Verifier) Check(name string, r io.Reader) error {
	if v.seen == nil {
		v.seen = map[string]string{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 16<<20)
	line := 0
	for sc.Scan() && v.report.Problem == nil {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			v.fail(name, line, &ev, &fault{"malformed", "not an event: " + err.Error()})
			break
		}
		if ev.Hash != "" {
			if h, ok := v.seen[ev.ID]; ok && h == ev.Hash {
				v.report.Duplicates++
				continue
			}
		}
		if f := v.check(&ev); f != nil {
			v.fail(name, line, &ev, f)
			break
		}
		v.seen[ev.ID] = ev.Hash
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

func (v *Verifier) check(ev *event.Event) *fault {
	if f := sealed(ev); f != nil {
		return f
	}
	if v.tail != nil {
		if f := follows(v.tail, ev); f != nil {
			return f
		}
	}
	if f := signed(v.Key, ev); f != nil {
		return f
	}
	if v.tail == nil {
		v.tail = v.report.start(ev, false)
	}
	v.report.extend(v.tail, ev, v.Key)
	return nil
}

func (v *Verifier) fail(name string, line int, ev *event.Event, f *fault) {
	if v.report.Problem == nil {
		v.report.Problem = &Problem{File: name, Line: line, Seq: ev.Seq, ID: ev.ID, Kind: f.kind, Msg: f.msg}
	}
}

// Report returns what the checks found so far.
func (v *Verifier) Report() Report { return v.report }
