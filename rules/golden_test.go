package rules

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

// TestGolden runs every testdata/golden/*.txt: rules, a recorded request and
// response, then the events they must yield (one JSON object per line; id,
// time, source and http are enrichment's and not compared here).
// addBefore puts a recorded pre-fetch answer (a response as on the wire, or
// "upstream-error: REASON") into x.
func addBefore(t *testing.T, x *event.Exchange, before string) {
	t.Helper()
	if reason, ok := strings.CutPrefix(strings.TrimSpace(before), "upstream-error: "); ok {
		x.Before, x.BeforeError = event.Body{Captured: true}, reason
		return
	}
	bx, err := readExchange("GET / HTTP/1.1\nHost: a\n\n", before)
	if err != nil {
		t.Fatal(err)
	}
	x.Before, x.BeforeHeader = bx.ResponseBody, bx.ResponseHeader
	if bx.Status >= 300 {
		x.BeforeError = fmt.Sprintf("status %d", bx.Status)
	}
}

func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.txt")
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sec := sections(data)
			for _, want := range []string{"rules", "request", "response", "events"} {
				if _, ok := sec[want]; !ok {
					t.Fatalf("missing section --- %s", want)
				}
			}
			set, err := Parse(file, []byte(sec["rules"]))
			if err != nil {
				t.Fatalf("rules: %v", err)
			}
			x, err := readExchange(sec["request"], sec["response"])
			if err != nil {
				t.Fatal(err)
			}
			if before, ok := sec["before"]; ok {
				addBefore(t, x, before)
			}
			var got []map[string]any
			for _, ev := range set.Build(x) {
				b, _ := json.Marshal(ev)
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"id", "time", "source", "http"} {
					delete(m, k)
				}
				got = append(got, m)
			}
			var want []map[string]any
			for _, line := range strings.Split(strings.TrimSpace(sec["events"]), "\n") {
				if strings.TrimSpace(line) == "" {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("bad expected event %q: %v", line, err)
				}
				want = append(want, m)
			}
			if !reflect.DeepEqual(got, want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				t.Errorf("events differ\n got: %s\nwant: %s", g, w)
			}
		})
	}
}
