package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/admin"
	"github.com/auditproxy/auditproxy/chain"
	"github.com/auditproxy/auditproxy/enrich"
	"github.com/auditproxy/auditproxy/identity"
	"github.com/auditproxy/auditproxy/internal/gcfloor"
	"github.com/auditproxy/auditproxy/pipeline"
	"github.com/auditproxy/auditproxy/proxy"
	"github.com/auditproxy/auditproxy/rules"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseRunFlags("auditproxy run", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy run:", err)
		return 2
	}
	set, bindings, ok := openRules(cfg, nil, stderr)
	if !ok {
		fmt.Fprintln(stderr, "auditproxy run: not starting: the rules file has errors")
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startGCFloor(cfg.GCHeapFloorMiB)()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy run:", err)
		return 1
	}
	if err := serve(ctx, ln, cfg, set, bindings, newLogger(stderr), stdout, nil); err != nil {
		fmt.Fprintln(stderr, "auditproxy run:", err)
		return 1
	}
	return 0
}

// defaultGCHeapFloorMiB: see docs/BENCHMARKS.md for what it saves.
const defaultGCHeapFloorMiB = 32

// startGCFloor holds the heap goal at mib MiB or more (internal/gcfloor)
// until the returned stop is called; nothing when mib is 0 or the user
// set GOGC.
func startGCFloor(mib int) (stop func()) {
	if mib <= 0 || os.Getenv("GOGC") != "" {
		return func() {}
	}
	return gcfloor.Start(uint64(mib) << 20).Stop
}

// newLogger is the proxy's own log: human-readable on a terminal, JSON
// lines otherwise. Never stdout, which carries events.
func newLogger(w io.Writer) zerolog.Logger {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
		}
	}
	return zerolog.New(w).With().Timestamp().Logger()
}

// openRules opens the identity bindings the config asks for, then loads
// the rules file (or builtin, when not nil) with them. Problems go to w.
// The bindings outlive every reload of the rules.
func openRules(cfg config, builtin []byte, w io.Writer) (*rules.Set, *identity.Bindings, bool) {
	bindings, err := identity.NewBindings(identity.BindingsConfig{File: cfg.IdentitiesFile, TTL: cfg.IdentitiesTTL, MaxEntries: cfg.IdentitiesMax})
	var loadErr *identity.LoadError
	if errors.As(err, &loadErr) {
		fmt.Fprintf(w, "auditproxy: %v (starting with the identities that could be read)\n", err)
	} else if err != nil {
		fmt.Fprintln(w, "auditproxy:", err)
		return nil, nil, false
	}
	if builtin != nil {
		set, err := rules.Parse("rules.yaml (built in)", builtin, rules.WithBindings(bindings))
		if err != nil {
			fmt.Fprintln(w, err)
			return nil, nil, false
		}
		return set, bindings, true
	}
	set, ok := loadRules(cfg.Rules, w, rules.WithBindings(bindings))
	return set, bindings, ok
}

// pipelineOption adjusts the pipeline serve builds, for modes beyond run:
// discover hands it a pipeline.Unmatched.
type pipelineOption func(*pipeline.Config)

// serve builds the parts, accepts traffic on ln until ctx is done, then
// shuts down in order: stop accepting, finish requests, write queued
// events, close outputs, save identities. The stdout output writes to
// stdout. ready, if not nil, is called once serving.
func serve(ctx context.Context, ln net.Listener, cfg config, set *rules.Set, bindings *identity.Bindings, log zerolog.Logger, stdout io.Writer, ready func(), opts ...pipelineOption) error {
	defer func() {
		if err := bindings.Close(); err != nil {
			log.Error().Err(err).Msg("saving learned identities")
		}
	}()
	go bindings.Run(ctx, 30*time.Second, func(err error) { log.Error().Err(err).Msg("saving learned identities") })
	upstream, err := cfg.upstreamURL()
	if err != nil {
		return err
	}
	trusted, err := cfg.trustedPrefixes()
	if err != nil {
		return err
	}
	enricher, err := enrich.New(enrich.Config{TrustedProxies: trusted, GeoIPPath: cfg.GeoIP, App: cfg.App})
	if err != nil {
		return err
	}
	defer enricher.Close()
	losses := pipeline.NewLosses()
	outs, queues, err := openOutputs(cfg, stdout, losses, log)
	if err != nil {
		return err
	}
	if err := needsDurable(criticalRules(set), outs); err != nil {
		for _, q := range queues {
			q.Close(context.Background())
		}
		return err
	}
	ch, err := chain.Open(filepath.Join(cfg.DataDir, "chain.json"))
	if err != nil {
		for _, q := range queues {
			q.Close(context.Background())
		}
		return err
	}
	defer ch.Close()
	metrics := admin.NewMetrics()
	pcfg := pipeline.Config{Rules: set, Enricher: enricher, Outputs: outs, Losses: losses, Chain: ch, Metrics: metrics, Logger: log, QueueSize: cfg.QueueSize}
	if cfg.Chain.SigningKey != "" {
		if pcfg.Signer, err = chain.LoadSigner(cfg.Chain.SigningKey); err != nil {
			for _, q := range queues {
				q.Close(context.Background())
			}
			return err
		}
		pcfg.CheckpointEvery = cmp.Or(cfg.Chain.CheckpointInterval, time.Minute)
		log.Info().Str("key", pcfg.Signer.KeyID).Dur("every", pcfg.CheckpointEvery).Msg("hash chain: signed checkpoints on")
	}
	for _, o := range opts {
		o(&pcfg)
	}
	pipe, err := pipeline.New(pcfg)
	if err != nil {
		return err
	}
	closePipe := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return pipe.Close(ctx)
	}
	px, err := proxy.New(proxy.Config{
		Upstream:         upstream,
		Observer:         pipe,
		BodyCaptureLimit: cfg.BodyLimit,
		KeepClientHost:   cfg.KeepHost,
		UpstreamTimeout:  cfg.UpstreamTimeout,
		BeforeTimeout:    cfg.BeforeTimeout,
		Logger:           log,
	})
	if err != nil {
		closePipe()
		return err
	}
	if cfg.Rules != "" {
		watchCtx, stopWatching := context.WithCancel(ctx)
		defer stopWatching()
		load := func(path string) (*rules.Set, error) {
			set, err := rules.Load(path, rules.WithBindings(bindings))
			if err == nil {
				err = needsDurable(criticalRules(set), outs)
			}
			metrics.RulesReloaded(err == nil)
			return set, err
		}
		watchRules(watchCtx, cfg.Rules, load, pipe.SetRules, log)
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		closePipe()
		return err
	}
	if cfg.ActivityLog.enabled() && cfg.Admin == "" {
		closePipe()
		return fmt.Errorf("activity_log is served on the admin listener: set admin: (e.g. 127.0.0.1:9090)")
	}
	if cfg.Admin != "" {
		adm, err := startAdmin(cfg.Admin, metrics, snapshots(outs, queues), log)
		if err != nil {
			closePipe()
			return err
		}
		defer adm.Shutdown(context.Background())
		if cfg.ActivityLog.enabled() {
			stop, err := startActivityLog(ctx, cfg.ActivityLog, adm, pipe, log)
			if err != nil {
				closePipe()
				return err
			}
			defer stop()
		}
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv := &http.Server{Handler: px, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info().Str("listen", ln.Addr().String()).Str("upstream", upstream.String()).
		Str("rules", set.File).Int("rule_count", len(set.Rules())).Strs("outputs", cfg.Outputs.names()).Msg("auditproxy serving")
	if ready != nil {
		ready()
	}

	select {
	case <-ctx.Done():
	case err := <-served:
		closePipe()
		return fmt.Errorf("serving: %w", err)
	}
	log.Info().Msg("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn().Err(err).Msg("requests still in flight at the shutdown deadline")
	}
	log.Info().Dur("deadline", cfg.ShutdownTimeout).Msg("delivering queued events")
	st := pipe.Stats()
	err = closePipe()
	log.Info().Int64("events", st.Events.Load()).Int64("dropped", st.Dropped.Load()).Int64("refused_by_outputs", st.WriteErrors.Load()).Msg("stopped")
	return err
}

// criticalRules names the rules with delivery: critical.
func criticalRules(set *rules.Set) []string {
	var names []string
	for _, r := range set.Rules() {
		if r.Critical {
			names = append(names, r.Name)
		}
	}
	return names
}

// startAdmin serves the admin listener (metrics, health) on addr.
func startAdmin(addr string, metrics *admin.Metrics, outputs func() []admin.OutputSnapshot, log zerolog.Logger) (*admin.Server, error) {
	adm, err := admin.New(admin.Config{Addr: addr, Metrics: metrics, Outputs: outputs, Logger: log})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	go adm.Serve(ln)
	log.Info().Str("admin", ln.Addr().String()).Msg("admin listener: /metrics /healthz /readyz")
	return adm, nil
}
