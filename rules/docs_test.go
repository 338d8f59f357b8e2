package rules

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestRulesDocExamples loads the examples in docs/RULES.md: whole files
// (starting with version:) as they are, and rule lists (starting with
// "- name:") inside a minimal file, so the documentation cannot drift
// from what the loader accepts.
func TestRulesDocExamples(t *testing.T) {
	data, err := os.ReadFile("../docs/RULES.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range yamlBlock.FindAllStringSubmatch(string(data), -1) {
		block := m[1]
		var file string
		switch {
		case strings.HasPrefix(block, "version: 1"):
			file = block
		case strings.HasPrefix(block, "- name:"):
			file = "version: 1\nrules:\n" + indent(block)
		case strings.HasPrefix(block, "identities:") || strings.HasPrefix(block, "auth_proxy:") || strings.HasPrefix(block, "redact:"):
			file = "version: 1\n" + block
			if !strings.Contains(block, "rules:") {
				file += "rules:\n  - {name: x, action: a.b, match: {method: GET}}\n"
			}
		default:
			continue
		}
		n++
		if _, err := Parse("RULES.md example", []byte(file)); err != nil {
			t.Errorf("example does not load:\n%s\n%v", block, err)
		}
	}
	if n < 8 {
		t.Errorf("only %d examples found; the extraction is broken", n)
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n") + "\n"
}
