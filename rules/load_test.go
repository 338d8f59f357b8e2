package rules

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	files = append(files, "../rules.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			set, err := Load(f)
			if err != nil {
				t.Fatalf("want no error, got:\n%v", err)
			}
			if len(set.Rules()) == 0 {
				t.Fatal("no rules loaded")
			}
		})
	}
}

var wantLine = regexp.MustCompile(`^# want: (?:(\d+):(\d+): )?(.*)$`)

// TestBadFiles loads every testdata/*.bad.yaml; its "# want: [LINE:COL: ]text"
// header lines list every message it must produce, in order, and no others.
func TestBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no bad files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants [][]string
			for _, line := range strings.Split(string(data), "\n") {
				if m := wantLine.FindStringSubmatch(line); m != nil {
					wants = append(wants, m[1:])
				}
			}
			_, err = Parse(f, data)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %v", err)
			}
			for i, e := range errs {
				if i >= len(wants) {
					t.Errorf("unexpected message: %v", e)
					continue
				}
				w := wants[i]
				if w[0] != "" && (w[0] != itoa(e.Line) || w[1] != itoa(e.Col)) {
					t.Errorf("message %d at %d:%d, want %s:%s: %v", i+1, e.Line, e.Col, w[0], w[1], e)
				}
				if !strings.Contains(e.Error(), w[2]) || !strings.HasPrefix(e.Error(), f+":") {
					t.Errorf("message %d:\n got: %v\nwant: %s (after %s:)", i+1, e, w[2], f)
				}
			}
			for _, w := range wants[min(len(errs), len(wants)):] {
				t.Errorf("missing message: %s", strings.Join(w, " "))
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

var warnLine = regexp.MustCompile(`^# warn: (\d+):(\d+): (.*)$`)

// TestWarnFiles loads every testdata/*.warn.yaml: it must load, with
// exactly the warnings its "# warn: LINE:COL: text" lines list, in order.
func TestWarnFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.warn.yaml")
	if len(files) == 0 {
		t.Fatal("no warn files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			set, err := Parse(f, data)
			if err != nil {
				t.Fatal(err)
			}
			var wants [][]string
			for _, line := range strings.Split(string(data), "\n") {
				if m := warnLine.FindStringSubmatch(line); m != nil {
					wants = append(wants, m[1:])
				}
			}
			if len(set.Warnings) != len(wants) {
				t.Fatalf("got %d warnings, want %d:\n%v", len(set.Warnings), len(wants), set.Warnings)
			}
			for i, w := range set.Warnings {
				pos := itoa(w.Line) + ":" + itoa(w.Col)
				if pos != wants[i][0]+":"+wants[i][1] || !strings.Contains(w.Error(), wants[i][2]) {
					t.Errorf("warning %d:\n got: %v\nwant: %s: %s", i+1, w, wants[i][0]+":"+wants[i][1], wants[i][2])
				}
			}
		})
	}
}
