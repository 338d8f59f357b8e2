package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/admin"
	"github.com/auditproxy/auditproxy/api"
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/identity"
	"github.com/auditproxy/auditproxy/pipeline"
	"github.com/auditproxy/auditproxy/store"
	_ "github.com/auditproxy/auditproxy/store/postgres" // engines register by name
	_ "github.com/auditproxy/auditproxy/store/sqlite"
	"github.com/auditproxy/auditproxy/ui"
)

// activityLogConfig is the activity log people read: the query API and the
// web viewer on the admin listener, reading the database a store output
// writes.
//
//	activity_log:
//	  engine: sqlite                      # or postgres (with dsn:)
//	  path: /var/lib/auditproxy/events.db
//	  admin_tokens: [change-me]
//	  user_tokens: {tok-bob: bob}
//	  jwt: {key_file: app-public.pem, algorithms: [RS256], actor_claim: sub}
//	  widget_key_file: widget.key
//	  retention: 720h
type activityLogConfig struct {
	Engine        string            `yaml:"engine"`
	Path          string            `yaml:"path"`
	DSN           string            `yaml:"dsn"`
	AdminTokens   []string          `yaml:"admin_tokens"`
	UserTokens    map[string]string `yaml:"user_tokens"`
	JWT           *activityLogJWT   `yaml:"jwt"`
	WidgetKeyFile string            `yaml:"widget_key_file"`
	FrameAncestor []string          `yaml:"widget_frame_ancestors"`
	// Retention purges older events on a schedule; 0 keeps them forever.
	// Every purge is recorded in the trail.
	Retention time.Duration `yaml:"retention"`
}

type activityLogJWT struct {
	KeyFile    string        `yaml:"key_file"`
	JWKSFile   string        `yaml:"jwks_file"`
	Algorithms []string      `yaml:"algorithms"`
	Leeway     time.Duration `yaml:"leeway"`
	ActorClaim string        `yaml:"actor_claim"`
}

func (c *activityLogConfig) enabled() bool { return c != nil && (c.Path != "" || c.DSN != "") }

// startActivityLog opens the store for reading, mounts the API and the
// viewer on the admin server, and runs retention. It returns what to close.
func startActivityLog(ctx context.Context, c *activityLogConfig, adm *admin.Server, pipe *pipeline.Pipeline, log zerolog.Logger) (func(), error) {
	engine, location := c.Engine, c.Path
	if engine == "" {
		engine = "sqlite"
	}
	if engine == "postgres" {
		location = c.DSN
	}
	st, err := store.OpenEngine(ctx, engine, location)
	if err != nil {
		return nil, fmt.Errorf("activity log: %w", err)
	}
	cfg := api.Config{
		Store: st, AdminTokens: c.AdminTokens, UserTokens: c.UserTokens,
		WidgetFrameAncestors: c.FrameAncestor,
		Record:               pipe.Record, Subscribe: pipe.Subscribe, Logger: log,
	}
	if j := c.JWT; j != nil {
		cfg.JWT, err = identity.NewVerifier(identity.VerifyConfig{KeyFile: j.KeyFile, JWKSFile: j.JWKSFile, Algorithms: j.Algorithms, Leeway: j.Leeway})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("activity log: %w", err)
		}
		cfg.ActorClaim = j.ActorClaim
	}
	if c.WidgetKeyFile != "" {
		key, err := os.ReadFile(c.WidgetKeyFile)
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("activity log: reading widget key: %w", err)
		}
		cfg.WidgetKey = []byte(strings.TrimSpace(string(key)))
	}
	a, err := api.New(cfg)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("activity log: %w", err)
	}
	for pattern, h := range a.Routes() {
		adm.Handle(pattern, h)
	}
	viewer := ui.Handler(a)
	adm.Handle("GET /ui/", viewer)
	adm.Handle("GET /{$}", viewer)

	rctx, stopRetention := context.WithCancel(ctx)
	if c.Retention > 0 {
		go func() {
			err := store.RunRetention(rctx, st, c.Retention, time.Hour, func(n int64, before time.Time) {
				pipe.Record(event.Event{
					Action:      "auditlog.purged",
					Description: fmt.Sprintf("retention purged %d events older than %s", n, before.UTC().Format(event.TimeFormat)),
					Area:        "auditproxy", Severity: event.SeverityNotice, Outcome: event.OutcomeSuccess,
					Actor:  event.Actor{Type: "service", Name: "auditproxy"},
					Target: event.Target{Type: "auditlog"}, Rule: "auditproxy",
				})
			})
			if err != nil && rctx.Err() == nil {
				log.Error().Err(err).Msg("activity log: retention stopped; old events are no longer purged")
			}
		}()
	}
	log.Info().Str("engine", engine).Msg("activity log: /ui/ and /api/v1/ on the admin listener")
	return func() { stopRetention(); st.Close() }, nil
}
