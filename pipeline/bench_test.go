package pipeline

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/enrich"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/output/delivery"
	"github.com/auditproxy/auditproxy/rules"
)

// BenchmarkEventOffPath is what one audited request costs off the request
// path: the rule's event built, enriched, chained, queued and written to a
// file (the layout of bench/run.sh's auditing-on target).
func BenchmarkEventOffPath(b *testing.B) {
	set, _ := rules.Parse("b.yaml", []byte(`version: 1
defaults:
  actor: {id: jwt.sub, name: jwt.name}
rules:
  - name: item-saved
    match: {method: POST, path: "/items/{id}", status: 2xx}
    action: item.saved
    target: {type: item, id: path.id, name: request.body.name}
    changes: [name, price]
    description: "{actor.name} saved item {target.id}"
`))
	dir := b.TempDir()
	f, _ := output.OpenFile(filepath.Join(dir, "e.jsonl"))
	var sp output.Spec
	sp.Name, sp.Type = "file", "file"
	q, _ := delivery.New(sp, f, delivery.Options{})
	enr, _ := enrich.New(enrich.Config{})
	ch, _ := chain.Open(filepath.Join(dir, "chain.json"))
	p, _ := New(Config{Rules: set, Enricher: enr, Chain: ch, Outputs: []Output{{Name: "file", Queue: q}}})
	body := `{"name":"Widget 42","price":12.5,"currency":"EUR","sku":"WID-0042","stock":{"warehouse":"fra-1","quantity":118,"reserved":7},"tags":["hardware","blue"]}`
	h := http.Header{"Authorization": {"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1LTEwMDEiLCJuYW1lIjoiQmVuY2ggVXNlciIsInJvbGUiOiJlZGl0b3IiLCJpYXQiOjE3MDAwMDAwMDB9.c2ln"}, "Content-Type": {"application/json"}, "User-Agent": {"wrk"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x := &event.Exchange{Start: time.Now(), Peer: "127.0.0.1:5000", Method: "POST", Path: "/items/42", Status: 200, RequestHeader: h,
			RequestBody: event.Body{Captured: true, Data: []byte(body), Size: int64(len(body))}, Token: set}
		p.Observe(x)
		if i%512 == 0 {
			for len(p.queue) > 0 {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}
	p.Close(context.Background())
}
