package chain

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/auditproxy/auditproxy/event"
)

// Report is what Verify found.
type Report struct {
	Checked    int      // events checked (duplicates not counted)
	Duplicates int      // the same event again (at-least-once delivery): not a problem
	Problem    *Problem // the first break in the chain; nil when it holds
}

// Problem is a break in the chain, by position.
type Problem struct {
	File string
	Line int
	Seq  int64
	Kind string // edited, deleted, inserted, reordered, unchained, malformed
	Msg  string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s:%d: seq %d: %s: %s", p.File, p.Line, p.Seq, p.Kind, p.Msg)
}

// Verifier checks JSON-lines files of events in order; files continue one
// another (a rotated file, then the current one).
type Verifier struct {
	report   Report
	prevSeq  int64
	prevHash string
	seen     map[string]string // event id -> hash, to tell duplicates
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
			v.fail(name, line, 0, "malformed", "not an event: "+err.Error())
			break
		}
		if ev.Hash == "" {
			v.fail(name, line, ev.Seq, "unchained", "the event has no hash: chaining was off, or the hash was removed")
			break
		}
		if h, ok := v.seen[ev.ID]; ok && h == ev.Hash {
			v.report.Duplicates++
			continue
		}
		v.seen[ev.ID] = ev.Hash
		v.check(name, line, &ev)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

func (v *Verifier) check(name string, line int, ev *event.Event) {
	if Hash(ev) != ev.Hash {
		v.fail(name, line, ev.Seq, "edited", "the event's content does not match its hash")
		return
	}
	if v.report.Checked > 0 {
		switch {
		case ev.Seq > v.prevSeq+1:
			v.fail(name, line, ev.Seq, "deleted", fmt.Sprintf("%d events missing after seq %d", ev.Seq-v.prevSeq-1, v.prevSeq))
			return
		case ev.Seq <= v.prevSeq:
			v.fail(name, line, ev.Seq, "reordered", fmt.Sprintf("seq %d comes after seq %d", ev.Seq, v.prevSeq))
			return
		case ev.PrevHash != v.prevHash:
			v.fail(name, line, ev.Seq, "inserted", "prev_hash does not match the event before it: it was inserted, or the one before was replaced")
			return
		}
	}
	v.report.Checked++
	v.prevSeq, v.prevHash = ev.Seq, ev.Hash
}

func (v *Verifier) fail(name string, line int, seq int64, kind, msg string) {
	if v.report.Problem == nil {
		v.report.Problem = &Problem{File: name, Line: line, Seq: seq, Kind: kind, Msg: msg}
	}
}

// Report returns what the checks found so far.
func (v *Verifier) Report() Report { return v.report }
