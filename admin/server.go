// Package admin is the admin listener: Prometheus metrics, liveness and
// readiness, on an address of its own so that none of it is reachable
// through the proxied application. It is off unless an address is
// configured.
//
// Routes (GET and HEAD only; other methods get 405):
//
//	/metrics  Prometheus text exposition
//	/healthz  200 "ok" while the process serves
//	/readyz   200 when ready, else 503 and one reason per line
package admin

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Config says how to build a Server.
type Config struct {
	// Addr is the host:port the admin listener is meant for, e.g.
	// 127.0.0.1:9090; required. New only checks it: the caller listens and
	// hands the listener to Serve.
	Addr string
	// Metrics are exposed on /metrics; nil means a fresh NewMetrics that
	// nothing updates (the Go, process and output metrics still appear).
	Metrics *Metrics
	// Outputs reports every output's state; it is called on each scrape and
	// by /readyz, so it must be quick and safe for concurrent use. Nil: no
	// outputs.
	Outputs func() []OutputSnapshot
	// Ready is an extra readiness check (e.g. rules loaded); a non-nil error
	// makes /readyz answer 503 with the error as the reason. Nil: always
	// ready as far as this check goes.
	Ready func() error
	// Logger receives problems while serving (a failed scrape, a broken
	// connection). The zero value logs nothing.
	Logger zerolog.Logger
}

// Server is the admin HTTP server. Create it with New.
type Server struct {
	mux     *http.ServeMux
	http    *http.Server
	outputs func() []OutputSnapshot
	ready   func() error
}

// Timeouts of the admin listener: generous for a scrape of a few hundred
// series, short enough that slow or stuck clients cannot pile up
// connections. A streaming handler mounted later (the query API) can extend
// its own write deadline with http.ResponseController.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// scrapeTimeout stays below writeTimeout so a slow scrape gets a 503
	// with a message instead of a cut connection.
	scrapeTimeout = 20 * time.Second
)

// New builds the server; it does not listen yet.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("admin listener: no address")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("admin listener address %q: %w", cfg.Addr, err)
	}
	m := cfg.Metrics
	if m == nil {
		m = NewMetrics()
	}
	logger := cfg.Logger.With().Str("component", "admin").Logger()

	// A registry of our own, not the global default: what /metrics shows is
	// exactly what is registered here, and tests can build many servers.
	reg := prometheus.NewRegistry()
	cs := append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		outputCollector{outputs: cfg.Outputs},
	}, m.all...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering admin metrics: %w", err)
		}
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: promLogger{logger},
		// One broken series (say, two outputs with the same name) should
		// cost that series, not the whole scrape.
		ErrorHandling: promhttp.ContinueOnError,
		// Counts failed scrapes as promhttp_metric_handler_errors_total.
		Registry: reg,
		// On two cores, a scraper gone wild should not take the proxy's CPU.
		MaxRequestsInFlight: 2,
		Timeout:             scrapeTimeout,
	})

	s := &Server{mux: http.NewServeMux(), outputs: cfg.Outputs, ready: cfg.Ready}
	// A "GET" pattern also serves HEAD; the mux answers other methods with
	// 405 and an Allow header.
	s.mux.Handle("GET /metrics", metrics)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.http = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s.mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(warnWriter{logger}, "", 0),
	}
	return s, nil
}

// Handler serves the admin routes, for tests and for mounting in another
// server.
func (s *Server) Handler() http.Handler { return s.mux }

// Handle mounts h at pattern (http.ServeMux syntax), also while serving.
// Give the pattern a method, e.g. "GET /api/events", so that other methods
// get 405 like the built-in routes. It panics if pattern conflicts with a
// route already mounted.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serving admin listener on %s: %w", ln.Addr(), err)
}

// Shutdown stops accepting connections and waits, until ctx is done, for
// the requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.http.Shutdown(ctx) }

// readyz answers 200 when the Ready check passes and no output has events
// waiting behind a failed delivery; otherwise 503 with every reason, so one
// probe shows all that is wrong.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	var reasons []string
	if s.ready != nil {
		if err := s.ready(); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	if s.outputs != nil {
		for _, o := range s.outputs() {
			// A failed attempt with nothing waiting is not worth a restart
			// or a withdrawal from the load balancer: nothing is at risk.
			if !o.Healthy && o.Depth > 0 {
				reasons = append(reasons, fmt.Sprintf("output %q: delivery failing, %d events waiting, oldest %s",
					o.Name, o.Depth, o.OldestUndelivered.Round(time.Second)))
			}
		}
	}
	if len(reasons) > 0 {
		writeText(w, http.StatusServiceUnavailable, strings.Join(reasons, "\n")+"\n")
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

func writeText(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// Probes must see the state now, never a cached answer.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// promLogger hands promhttp's errors to the zerolog logger.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error().Msg(fmt.Sprint(v...)) }

// warnWriter carries net/http's error log (broken connections, panics in
// handlers) into the zerolog logger as warnings.
type warnWriter struct{ log zerolog.Logger }

func (w warnWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
