package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/auditproxy/auditproxy/rules"
)

// cmdCheck validates a rules file: every problem on its own line, exit 1;
// a one-line summary and exit 0 when it is valid.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: auditproxy check FILE")
		return 2
	}
	set, ok := loadRules(args[0], stderr)
	if !ok {
		return 1
	}
	fmt.Fprintf(stdout, "%s: %d rules OK, %d warnings\n", args[0], len(set.Rules()), len(set.Warnings))
	return 0
}

// loadRules loads a rules file and prints every error (or warning) on its
// own line to w, as FILE:LINE:COL: rule "name": message.
func loadRules(path string, w io.Writer, opts ...rules.Option) (*rules.Set, bool) {
	set, err := rules.Load(path, opts...)
	if err != nil {
		var errs rules.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(w, e)
			}
		} else {
			fmt.Fprintln(w, err)
		}
		return nil, false
	}
	printWarnings(set, w)
	return set, true
}

func printWarnings(set *rules.Set, w io.Writer) {
	for _, warn := range set.Warnings {
		fmt.Fprintf(w, "%s (warning)\n", warn)
	}
}
