package pipeline

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

// TestCheckpoints: with a signer, checkpoints come every interval without
// traffic, chained with the other events, signed, and the last event after
// Close is the shutdown checkpoint; the trail verifies with the key.
func TestCheckpoints(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ch, _ := chain.Open("")
	q := &fakeQueue{}
	p, _ := newPipeline(t, Config{Outputs: []Output{{Name: "out", Queue: q}}, Chain: ch,
		Signer: chain.NewSigner(priv), CheckpointEvery: 20 * time.Millisecond})
	p.Observe(exchange(p, "POST"))
	deadline := time.Now().Add(5 * time.Second)
	for countOf(q, chain.CheckpointAction) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.Observe(exchange(p, "POST"))
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	evs := append([]event.Event(nil), q.events...)
	q.mu.Unlock()
	if n := countOf(q, chain.CheckpointAction); n < 3 {
		t.Fatalf("%d checkpoints, want 2 periodic and 1 at shutdown: %v", n, q.actions())
	}
	last := evs[len(evs)-1]
	if last.Action != chain.CheckpointAction || last.Target.Name != chain.CheckpointShutdown {
		t.Errorf("last event %s %q, want the shutdown checkpoint", last.Action, last.Target.Name)
	}
	var lines strings.Builder
	for i := range evs {
		lines.Write(format.AppendJSON(nil, &evs[i]))
	}
	v := chain.Verifier{Key: pub}
	if err := v.Check("trail", strings.NewReader(lines.String())); err != nil {
		t.Fatal(err)
	}
	r := v.Report()
	if r.Problem != nil || r.Checked != len(evs) {
		t.Fatalf("verify: %+v, want %d events and no problem", r, len(evs))
	}
	if c := r.Chains[0]; !c.Shutdown || c.Unsigned != 0 || c.SignedSeq != last.Seq {
		t.Errorf("chain report %+v, want signed to the end (seq %d) and shut down", c, last.Seq)
	}
}

func countOf(q *fakeQueue, action string) int {
	n := 0
	for _, a := range q.actions() {
		if a == action {
			n++
		}
	}
	return n
}
