package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/discover"
	"github.com/auditproxy/auditproxy/identity"
	"github.com/auditproxy/auditproxy/pipeline"
	"github.com/auditproxy/auditproxy/rules"
)

// discoverOptions are the settings discover adds to run's.
type discoverOptions struct {
	out   string        // the draft rules file
	every time.Duration // how often it is rewritten while serving
}

// cmdDiscover proxies exactly like run and turns the requests no rule
// covers into a draft rules file (package discover).
func cmdDiscover(args []string, stdout, stderr io.Writer) int {
	cfg, opts, err := parseDiscoverFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy discover:", err)
		return 2
	}
	set, bindings, ok := discoverRules(cfg, stderr)
	if !ok {
		fmt.Fprintln(stderr, "auditproxy discover: not starting: the rules file has errors")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy discover:", err)
		return 1
	}
	if err := runDiscover(ctx, ln, cfg, opts, set, bindings, newLogger(stderr), stdout, nil); err != nil {
		fmt.Fprintln(stderr, "auditproxy discover:", err)
		return 1
	}
	return 0
}

// parseDiscoverFlags reads --out and --every, and everything else as run's
// flags (and --config file), so discover takes every option run takes.
func parseDiscoverFlags(args []string, stderr io.Writer) (config, discoverOptions, error) {
	opts := discoverOptions{out: "draft-rules.yaml", every: 30 * time.Second}
	flags := flag.NewFlagSet("auditproxy discover", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&opts.out, "out", opts.out, "draft rules file, rewritten while discovery runs and on shutdown")
	flags.DurationVar(&opts.every, "every", opts.every, "how often the draft rules file is rewritten")
	own, rest := splitFlags(args, "out", "every")
	if err := flags.Parse(own); err != nil {
		return config{}, opts, err
	}
	cfg, err := parseRunFlags("auditproxy discover", rest, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "Options of discover itself:")
		flags.PrintDefaults()
		fmt.Fprintln(stderr, "A missing --rules file means no rules: every state-changing request is discovered.")
	}
	if err != nil {
		return config{}, opts, err
	}
	switch {
	case opts.every <= 0:
		return config{}, opts, fmt.Errorf("--every %s: want a positive duration, e.g. 30s", opts.every)
	case opts.out == "":
		return config{}, opts, errors.New("--out: want a file name for the draft rules")
	}
	return cfg, opts, nil
}

// splitFlags takes the named flags (-name v, --name v, -name=v) out of
// args; the rest goes to run's parser, which rejects what it does not know.
func splitFlags(args []string, names ...string) (own, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return own, append(rest, args[i:]...)
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !slices.Contains(names, name) {
			rest = append(rest, a)
			continue
		}
		own = append(own, a)
		if !hasValue && i+1 < len(args) {
			i++
			own = append(own, args[i])
		}
	}
	return own, rest
}

// discoverRules loads the rules like run, except that a missing file means
// no rules at all: discovery is how a first rules file gets written. The
// file is still watched, so it is loaded once it appears.
func discoverRules(cfg config, stderr io.Writer) (*rules.Set, *identity.Bindings, bool) {
	if _, err := os.Stat(cfg.Rules); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "auditproxy discover: no rules file %q: starting with no rules (the file is loaded when it appears)\n", cfg.Rules)
		set, bindings, ok := openRules(cfg, []byte("version: 1\nrules: []\n"), stderr)
		if ok {
			set.File = cfg.Rules + " (not found: no rules)" // what the log names, instead of "built in"
		}
		return set, bindings, ok
	}
	return openRules(cfg, nil, stderr)
}

// runDiscover serves like run, with a Discoverer learning from the
// requests no rule covers, and keeps the draft at opts.out current: every
// opts.every while serving, and once more when serve has returned, since
// by then every request has been learned from. Events of the rules in
// force go to the outputs as usual.
func runDiscover(ctx context.Context, ln net.Listener, cfg config, opts discoverOptions, set *rules.Set, bindings *identity.Bindings,
	log zerolog.Logger, stdout io.Writer, ready func()) error {
	out, err := filepath.Abs(opts.out)
	if err != nil {
		return fmt.Errorf("draft rules file %q: %w", opts.out, err)
	}
	d := discover.New(discover.Config{})
	stopWriting := make(chan struct{})
	var writer sync.WaitGroup
	served := false // set by started, which serve calls on this goroutine
	started := func() {
		served = true
		log.Info().Str("draft", out).Dur("every", opts.every).Msg("discovery: the requests no rule covers become draft rules in this file")
		writer.Go(func() {
			tick := time.NewTicker(opts.every)
			defer tick.Stop()
			for {
				select {
				case <-stopWriting:
					return
				case <-tick.C:
					if err := writeDraft(out, d); err != nil {
						log.Error().Err(err).Msg("discovery: the draft was not updated")
					}
				}
			}
		})
		if ready != nil {
			ready()
		}
	}
	err = serve(ctx, ln, cfg, set, bindings, log, stdout, started, func(c *pipeline.Config) { c.Unmatched = d })
	close(stopWriting)
	writer.Wait()
	if !served {
		return err // nothing was learned: an earlier draft stays as it is
	}
	if werr := writeDraft(out, d); werr != nil {
		return errors.Join(err, werr)
	}
	log.Info().Str("draft", out).Int("endpoints", len(d.Endpoints())).Int("not_tracked", d.Overflow()).
		Msg("discovery: draft rules written; review them, then auditproxy check")
	return err
}

// writeDraft replaces path by renaming a complete temporary file over it,
// so a reader or an editor never sees half a draft.
func writeDraft(path string, d *discover.Discoverer) error {
	var b bytes.Buffer
	if err := d.WriteDraft(&b); err != nil {
		return fmt.Errorf("writing draft rules %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing draft rules %s: %w", path, err)
	}
	_, err = tmp.Write(b.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644) // CreateTemp makes it 0600; secrets were filtered before this
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing draft rules %s: %w", path, err)
	}
	return nil
}
