// Command auditproxy is a reverse proxy that turns requests to an existing
// web app into audit events. This file only wires: flags and config file in,
// parts built, run.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `auditproxy: an audit trail for any HTTP app, as a reverse proxy in front of it.

Usage:
  auditproxy run --upstream URL [--listen ADDR] [--rules FILE] [--output SPEC ...] [--config FILE] ...
  auditproxy check FILE          validate a rules file (every error as FILE:LINE:COL)
  auditproxy explain [--rules FILE] EXCHANGE_FILE...
                                 why each rule matches a recorded exchange (HAR or text) or not,
                                 and the events it would emit
  auditproxy demo [--listen ADDR] a sample app behind the proxy, events on stdout
  auditproxy verify [--key PUB.pem] FILE... | --store sqlite:PATH | --store postgres:DSN | --config FILE
                                 check the hash chain of a trail (JSON-lines files or the store), and
                                 with --key its signed checkpoints
  auditproxy keygen --out FILE   a new Ed25519 key pair for signed checkpoints (run --signing-key)
  auditproxy discover --upstream URL [--out draft-rules.yaml] [--every 30s] [run's options]
                                 proxy like run and draft rules for the state-changing requests
                                 (and logins) no rule covers

Run "auditproxy run -h" for every option of run.
`

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain is main with its outside world passed in, for tests. stdout
// carries events only; everything for people goes to stderr.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "explain":
		return cmdExplain(args[1:], stdout, stderr)
	case "verify":
		return cmdVerify(args[1:], stdout, stderr)
	case "keygen":
		return cmdKeygen(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "discover":
		return cmdDiscover(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "auditproxy: unknown command %q\n\n%s", args[0], usage)
	return 2
}
