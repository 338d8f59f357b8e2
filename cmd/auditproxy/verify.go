package main

import (
	"fmt"
	"io"
	"os"

	"github.com/auditproxy/auditproxy/chain"
)

// cmdVerify checks the hash chain of JSON-lines trails (a file output; a
// rotated file first, then the ones after it) and reports the first event
// edited, deleted, inserted or reordered, by file and line. Exit 0 when the
// chain holds, 1 when it is broken, 2 on usage errors.
func cmdVerify(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: auditproxy verify FILE... (oldest first)")
		return 2
	}
	var v chain.Verifier
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "auditproxy verify:", err)
			return 1
		}
		err = v.Check(name, f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "auditproxy verify:", err)
			return 1
		}
	}
	r := v.Report()
	if r.Problem != nil {
		fmt.Fprintf(stdout, "BROKEN after %d good events: %v\n", r.Checked, r.Problem)
		return 1
	}
	fmt.Fprintf(stdout, "OK: %d events chained, %d duplicates (redelivered) skipped\n", r.Checked, r.Duplicates)
	return 0
}
