package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestGolden runs every testdata/golden/*.txt: rules, a recorded request and
// response, then the events they must yield (one JSON object per line; id,
// time, source and http are enrichment's and not compared here).
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
