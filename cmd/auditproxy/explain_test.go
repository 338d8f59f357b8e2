package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/explain/*.want with what explain prints now")

// eventID matches the one part of explain's output that changes from run to
// run: the ids enrichment gives events.
var eventID = regexp.MustCompile(`"id":"[0-9a-f-]{36}"`)

// TestExplainGolden runs explain on each exchange file in testdata/explain
// (*.txt, *.har) with its own NAME.rules.yaml, or else with rules.yaml, and
// compares its output, event ids aside, with NAME.want.
func TestExplainGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/explain/*.txt")
	hars, _ := filepath.Glob("testdata/explain/*.har")
	files = append(files, hars...)
	if len(files) < 3 {
		t.Fatalf("want at least 3 exchange files, found %v", files)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			base := strings.TrimSuffix(file, filepath.Ext(file))
			rulesFile := base + ".rules.yaml"
			if _, err := os.Stat(rulesFile); err != nil {
				rulesFile = "testdata/explain/rules.yaml"
			}
			var out, errOut bytes.Buffer
			if code := runMain([]string{"explain", "--rules", rulesFile, file}, &out, &errOut); code != 0 {
				t.Fatalf("exit %d\n%s", code, errOut.String())
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut.String())
			}
			got := eventID.ReplaceAllString(out.String(), `"id":"ID"`)
			wantFile := base + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("explain %s differs from %s (go test -update rewrites it):\n%s", file, wantFile, lineDiff(got, string(want)))
			}
		})
	}
}

// lineDiff shows the first line where got and want differ, with its number.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return "(no difference in lines)"
}

func TestExplainErrors(t *testing.T) {
	dir := t.TempDir()
	badExchange := filepath.Join(dir, "bad.txt")
	os.WriteFile(badExchange, []byte("GET /x HTTP/1.1\n\nHTTP/1.1 2x1 OK\n"), 0o644)
	good := "testdata/explain/users.txt"
	rulesFile := "testdata/explain/rules.yaml"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // on stderr
	}{
		{"no exchange file", []string{"--rules", rulesFile}, 2, "usage: auditproxy explain"},
		{"unknown flag", []string{"--rule", rulesFile, good}, 2, "flag provided but not defined: -rule"},
		{"rules file missing", []string{"--rules", filepath.Join(dir, "none.yaml"), good}, 1, "none.yaml"},
		{"rules file invalid", []string{"--rules", "../../rules/testdata/errors.bad.yaml", good}, 1, `errors.bad.yaml:12:5: rule "typo-key"`},
		{"exchange file missing", []string{"--rules", rulesFile, good, filepath.Join(dir, "none.txt")}, 1, "auditproxy explain: reading exchanges: open " + filepath.Join(dir, "none.txt")},
		{"exchange file malformed", []string{"--rules", rulesFile, badExchange}, 1, badExchange + `:3: reading response: malformed HTTP status code "2x1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := runMain(append([]string{"explain"}, tc.args...), &out, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant it to contain %q", code, tc.code, errOut.String(), tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("nothing goes to stdout on an error, got:\n%s", out.String())
			}
		})
	}
}
