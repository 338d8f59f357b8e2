package main

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/store"
)

const verifyUsage = `usage: auditproxy verify [--key PUB.pem] [--max-age D] FILE...   (JSON lines, oldest first)
       auditproxy verify [--key PUB.pem] [--max-age D] --store sqlite:PATH | postgres:DSN
       auditproxy verify [--key PUB.pem] [--max-age D] --config auditproxy.yaml   (its activity_log store)
`

// cmdVerify checks the hash chain of a trail: JSON-lines files (a file
// output; a rotated file first, then the ones after it) or a store, and
// reports the first event edited, deleted, inserted or reordered, by file
// and line or by seq and event id. With --key it checks the signed
// checkpoints too, and flags a trail whose tail was likely cut off. It
// only reads. Exit 0 when the chain holds, 1 when it is broken (or
// likely truncated), 2 on usage errors.
func cmdVerify(args []string, stdout, stderr io.Writer) int {
	var (
		storeSpec, configFile, keyFile string
		maxAge                         time.Duration
	)
	fs := flag.NewFlagSet("auditproxy verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage); fs.PrintDefaults() }
	fs.StringVar(&storeSpec, "store", "", "verify a store instead of files: sqlite:PATH or postgres:DSN")
	fs.StringVar(&configFile, "config", "", "verify the activity_log store of this config file")
	fs.StringVar(&keyFile, "key", "", "Ed25519 public key (PEM) to check signed checkpoints with")
	fs.DurationVar(&maxAge, "max-age", 0, "with --key: how old a chain's last checkpoint may be before its tail counts as cut off (default: twice the checkpoint interval, from the config or the trail)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	files := fs.Args()
	sources := 0
	for _, set := range []bool{storeSpec != "", configFile != "", len(files) > 0} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		fmt.Fprint(stderr, verifyUsage)
		return 2
	}
	var key ed25519.PublicKey
	if keyFile != "" {
		var err error
		if key, err = chain.LoadPublicKey(keyFile); err != nil {
			fmt.Fprintln(stderr, "auditproxy verify:", err)
			return 2
		}
	}

	var (
		r   chain.Report
		err error
	)
	if len(files) > 0 {
		r, err = verifyFiles(files, key)
	} else {
		engine, location := "", ""
		if configFile != "" {
			engine, location, err = configStore(configFile, &maxAge)
		} else {
			engine, location, err = parseStoreSpec(storeSpec)
		}
		if err != nil {
			fmt.Fprintln(stderr, "auditproxy verify:", err)
			return 2
		}
		r, err = verifyStore(engine, location, key)
	}
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy verify:", err)
		return 1
	}
	return report(stdout, r, key != nil, maxAge, time.Now())
}

func verifyFiles(files []string, key ed25519.PublicKey) (chain.Report, error) {
	v := chain.Verifier{Key: key}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return chain.Report{}, err
		}
		err = v.Check(name, f)
		f.Close()
		if err != nil {
			return chain.Report{}, err
		}
	}
	return v.Report(), nil
}

func verifyStore(engine, location string, key ed25519.PublicKey) (chain.Report, error) {
	if engine == "sqlite" {
		// Opening creates a missing database: verify must not, and an
		// empty new one would verify.
		if _, err := os.Stat(location); err != nil {
			return chain.Report{}, fmt.Errorf("opening sqlite store: %w", err)
		}
	}
	ctx := context.Background()
	st, err := store.OpenEngine(ctx, engine, location)
	if err != nil {
		return chain.Report{}, err
	}
	defer st.Close()
	return store.VerifyChain(ctx, st, &chain.Walk{Key: key})
}

// parseStoreSpec reads --store: engine:location.
func parseStoreSpec(spec string) (engine, location string, err error) {
	engine, location, ok := strings.Cut(spec, ":")
	if !ok || location == "" || (engine != "sqlite" && engine != "postgres") {
		return "", "", fmt.Errorf("--store %q: want sqlite:PATH or postgres:DSN", spec)
	}
	return engine, location, nil
}

// configStore is the activity_log store of a config file, as run opens it.
// When maxAge is not set, the config's checkpoint interval sets it.
func configStore(path string, maxAge *time.Duration) (engine, location string, err error) {
	cfg, err := readConfig(path)
	if err != nil {
		return "", "", err
	}
	a := cfg.ActivityLog
	if !a.enabled() {
		return "", "", fmt.Errorf("%s: no activity_log store (engine and path: or dsn:) to verify", path)
	}
	engine, location = a.Engine, a.Path
	if engine == "" {
		engine = "sqlite"
	}
	if engine == "postgres" {
		location = a.DSN
	}
	if *maxAge == 0 && cfg.Chain.SigningKey != "" {
		*maxAge = 2 * cmp.Or(cfg.Chain.CheckpointInterval, time.Minute)
	}
	return engine, location, nil
}

// defaultMaxAge is --max-age for a chain that shows no interval (fewer
// than two periodic checkpoints) when neither the flag nor a config sets
// it: twice the default interval.
const defaultMaxAge = 2 * time.Minute

// report prints r and returns the exit code. With signed, every chain's
// checkpoints are reported, and a chain whose last checkpoint is older
// than maxAge at now, without a shutdown checkpoint at its end, counts as
// cut short.
func report(w io.Writer, r chain.Report, signed bool, maxAge time.Duration, now time.Time) int {
	if r.Problem != nil {
		fmt.Fprintf(w, "BROKEN after %d good events: %v\n", r.Checked, r.Problem)
		return 1
	}
	fmt.Fprintf(w, "OK: %d events chained", r.Checked)
	if len(r.Chains) > 1 {
		fmt.Fprintf(w, " in %d chains", len(r.Chains))
	}
	if r.Purged > 0 {
		fmt.Fprintf(w, " (%d beginning after retention purges)", r.Purged)
	}
	fmt.Fprintf(w, ", %d duplicates (redelivered) skipped\n", r.Duplicates)
	if !signed {
		return 0
	}
	code := 0
	for _, c := range r.Chains {
		name := fmt.Sprintf("chain seq %d-%d", c.FirstSeq, c.LastSeq)
		if c.Checkpoints == 0 {
			fmt.Fprintf(w, "UNSIGNED: %s: no checkpoint; %d events unsigned, its tail cannot be checked\n", name, c.Unsigned)
			code = 1
			continue
		}
		age := maxAge
		if age == 0 {
			age = defaultMaxAge
			if c.Interval > 0 {
				age = 2 * c.Interval
			}
		}
		fmt.Fprintf(w, "%s: signed up to seq %d at %s (%d checkpoints), %d events after it unsigned",
			name, c.SignedSeq, c.SignedTime.UTC().Format(time.RFC3339), c.Checkpoints, c.Unsigned)
		switch {
		case c.Shutdown:
			fmt.Fprintln(w, "; ends with a shutdown checkpoint")
		case now.Sub(c.SignedTime) > age:
			fmt.Fprintln(w)
			old := now.Sub(c.SignedTime)
			if old > time.Second {
				old = old.Round(time.Second)
			} else {
				old = old.Round(time.Millisecond)
			}
			fmt.Fprintf(w, "TRUNCATED?: %s: the last checkpoint is %s old (more than %s) and the chain does not end with a shutdown checkpoint: events after seq %d may have been cut off\n",
				name, old, age, c.LastSeq)
			code = 1
		default:
			fmt.Fprintln(w, "; the last checkpoint is recent")
		}
	}
	return code
}
