package chain

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output/format"
)

// trail seals n events and returns them as JSON lines, one per element.
func trail(t *testing.T, c *Chain, n int) []string { return trailOf(t, c, n, "event") }

func trailOf(t *testing.T, c *Chain, n int, what string) []string {
	t.Helper()
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = eventtest.Full()
		evs[i].ID = fmt.Sprintf("ev-%d", i)
		evs[i].Description = fmt.Sprintf("%s %d", what, i)
	}
	if err := c.Seal(evs[:n/2]); err != nil {
		t.Fatal(err)
	}
	if err := c.Seal(evs[n/2:]); err != nil {
		t.Fatal(err)
	}
	lines := make([]string, n)
	for i := range evs {
		lines[i] = strings.TrimSuffix(string(format.AppendJSON(nil, &evs[i])), "\n")
	}
	return lines
}

func verify(lines ...[]string) Report {
	var v Verifier
	for i, l := range lines {
		v.Check(fmt.Sprintf("f%d", i), strings.NewReader(strings.Join(l, "\n")+"\n"))
	}
	return v.Report()
}

func TestVerifyFindsEveryKindOfTampering(t *testing.T) {
	c, _ := Open("")
	good := trail(t, c, 10)
	if r := verify(good); r.Problem != nil || r.Checked != 10 {
		t.Fatalf("intact trail: %+v", r)
	}
	edit := func(f func([]string) []string) []string { return f(append([]string(nil), good...)) }
	cases := []struct {
		name  string
		lines []string
		kind  string
		line  int
	}{
		{"edited", edit(func(l []string) []string { l[4] = strings.Replace(l[4], "event 4", "event four", 1); return l }), "edited", 5},
		{"deleted", edit(func(l []string) []string { return append(l[:3], l[4:]...) }), "deleted", 4},
		{"reordered", edit(func(l []string) []string { l[5], l[6] = l[6], l[5]; return l }), "deleted", 6},
		{"moved back", edit(func(l []string) []string { return append(append(append([]string{}, l[:2]...), l[7]), l[2:]...) }), "deleted", 3},
		{"inserted from elsewhere", func() []string {
			other, _ := Open("")
			foreign := trailOf(t, other, 10, "forged")
			l := append([]string(nil), good[:5]...)
			return append(append(l, foreign[5]), good[6:]...)
		}(), "inserted", 6},
		{"hash stripped", edit(func(l []string) []string { l[2] = strings.Replace(l[2], `"hash":`, `"x":`, 1); return l }), "unchained", 3},
		{"garbage", edit(func(l []string) []string { l[1] = "{not json"; return l }), "malformed", 2},
	}
	for _, c := range cases {
		r := verify(c.lines)
		if r.Problem == nil || r.Problem.Kind != c.kind || r.Problem.Line != c.line {
			t.Errorf("%s: problem %+v, want %s at line %d", c.name, r.Problem, c.kind, c.line)
		}
	}
	// At-least-once redelivery repeats events: not a problem.
	dup := append(append([]string(nil), good[:6]...), good[4:]...)
	if r := verify(dup); r.Problem != nil || r.Duplicates != 2 || r.Checked != 10 {
		t.Errorf("duplicates: %+v", r)
	}
}

// TestChainSurvivesRestarts: the state file carries the chain across
// restarts, and a rotated file followed by the current one verifies.
func TestChainSurvivesRestarts(t *testing.T) {
	state := filepath.Join(t.TempDir(), "chain.json")
	c1, err := Open(state)
	if err != nil {
		t.Fatal(err)
	}
	first := trail(t, c1, 4)
	c2, err := Open(state) // a restart
	if err != nil {
		t.Fatal(err)
	}
	second := trail(t, c2, 4)
	if r := verify(first, second); r.Problem != nil || r.Checked != 8 {
		t.Fatalf("across a restart: %+v", r)
	}
	if r := verify(second); r.Problem != nil {
		t.Errorf("a file starting mid-chain (rotated): %+v", r.Problem)
	}
	if _, err := Open(filepath.Join(t.TempDir())); err == nil {
		t.Error("a directory as state file was accepted")
	}
}

// TestSealedLineIsTheEncoding: the line sealing keeps for reuse is exactly
// what encoding the sealed event gives, hash included.
func TestSealedLineIsTheEncoding(t *testing.T) {
	c, _ := Open("")
	evs := []event.Event{eventtest.Full(), eventtest.Minimal()}
	if err := c.Seal(evs); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		cached := string(ev.Line)
		ev.Line = nil
		fresh := string(format.AppendJSON(nil, &ev))
		if cached != fresh {
			t.Errorf("cached line differs from a fresh encoding:\n%s\n%s", cached, fresh)
		}
		if Hash(&ev) != ev.Hash {
			t.Errorf("hash of the sealed event does not verify")
		}
	}
}
