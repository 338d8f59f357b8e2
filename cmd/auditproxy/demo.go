package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

	"github.com/auditproxy/auditproxy"
	"github.com/auditproxy/auditproxy/internal/demoapp"
	"github.com/auditproxy/auditproxy/output"
)

// cmdDemo starts the built-in sample app on a loopback port and the proxy in
// front of it with the repository's rules.yaml, so a new user sees events
// with nothing else installed.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditproxy demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the proxy")
	rulesPath := fs.String("rules", "rules.yaml", "rules file (the built-in copy of the repository's rules.yaml when this file does not exist)")
	adminAddr := fs.String("admin", "127.0.0.1:8081", "address of the activity log viewer and metrics (\"\" to turn off)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := defaultConfig()
	var builtin []byte
	if _, err := os.Stat(*rulesPath); err == nil {
		cfg.Rules = *rulesPath // reloaded when edited, like run's
	} else {
		cfg.Rules, builtin = "", auditproxy.DemoRules
	}
	set, bindings, ok := openRules(cfg, builtin, stderr)
	if !ok {
		return 1
	}
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy demo: starting the sample app:", err)
		return 1
	}
	app := &http.Server{Handler: demoapp.New()}
	go app.Serve(appLn)
	defer app.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "auditproxy demo: %v (try --listen 127.0.0.1:0 for any free port)\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Upstream = "http://" + appLn.Addr().String()
	cfg.Outputs, _ = outputsFromFlags("stdout")
	cfg.App = "demo"
	viewer := ""
	if *adminAddr != "" {
		// The demo's trail also goes to a throwaway SQLite database that
		// the activity log viewer reads, with a fresh admin token.
		dir, err := os.MkdirTemp("", "auditproxy-demo-")
		if err != nil {
			fmt.Fprintln(stderr, "auditproxy demo:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		db := filepath.Join(dir, "events.db")
		token := randomToken()
		var st output.Spec
		st.Type, st.Options = "store", map[string]any{"path": db}
		cfg.Outputs = append(cfg.Outputs, st)
		cfg.DataDir = filepath.Join(dir, "data")
		cfg.Admin = *adminAddr
		cfg.ActivityLog = &activityLogConfig{Path: db, AdminTokens: []string{token}}
		viewer = fmt.Sprintf("  activity log viewer:              http://%s/ui/  (token: %s)\n", *adminAddr, token)
	}
	ready := func() { printTour(stderr, "http://"+ln.Addr().String(), cfg.Upstream, viewer) }
	if err := serve(ctx, ln, cfg, set, bindings, newLogger(stderr), stdout, ready); err != nil {
		fmt.Fprintln(stderr, "auditproxy demo:", err)
		return 1
	}
	return 0
}

func randomToken() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func printTour(w io.Writer, proxyURL, appURL, viewer string) {
	fmt.Fprintf(w, `
auditproxy demo
  sample app (direct, not audited): %[2]s
  through the proxy (audited):      %[1]s
%[5]s
Audit events are printed on stdout, one JSON object per line. Try, in another terminal:

  B=%[1]s
  curl -s --json '{"username":"%[3]s","password":"wrong"}' $B/login            # user.login_failed
  TOKEN=$(curl -s --json '{"username":"%[3]s","password":"%[4]s"}' $B/login | sed 's/.*"token":"\([^"]*\)".*/\1/')
  curl -s -H "Authorization: Bearer $TOKEN" --json '{"email":"carol@example.com","name":"Carol","role":"user","password":"pw-carol-1"}' $B/users
  curl -s -H "Authorization: Bearer $TOKEN" -X PATCH --json '{"role":"admin"}' $B/users/2
  curl -s -H "Authorization: Bearer $TOKEN" -X PUT --json '{"site_name":"Acme","smtp_password":"hunter22"}' $B/settings
  curl -s -H "Authorization: Bearer $TOKEN" -X DELETE $B/projects/1

Stop with Ctrl-C.
`, proxyURL, appURL, demoapp.AliceEmail, demoapp.AlicePassword, viewer)
}
