// Package testpg runs a real PostgreSQL server for tests: initdb and
// pg_ctl from the Debian package (/usr/lib/postgresql/*/bin), a data
// directory in a temp dir, listening only on a unix socket there. One
// server serves a whole test binary (start it from TestMain); each test
// gets a database of its own.
//
// PostgreSQL refuses to run as root: as root, the server runs as the
// postgres user (which the Debian package creates) via runuser.
//
// When PostgreSQL is not installed the tests that need it skip, naming the
// package to install, except under CI=true, where they fail: CI installs
// it (.ci/run), so a skip there would hide tests that never ran.
package testpg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a running PostgreSQL.
type Server struct {
	dir    string // holds data/, the socket and the log
	bin    string
	asUser string // "postgres" when running as root, else ""
	dbs    atomic.Int64
	err    error // why there is no server; the rest is unset
}

// startTimeout bounds initdb and the server's start.
const startTimeout = 60 * time.Second

// Start starts a server, or returns one that says why there is none
// (Need then skips or fails the test). Call Stop when done.
func Start() *Server {
	s, err := start()
	if err != nil {
		return &Server{err: err}
	}
	return s
}

func start() (*Server, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, errors.New("PostgreSQL not found: apt-get install postgresql")
	}
	slices.Sort(bins) // the newest version sorts last ("15" < "16"; "9.6" is long gone)
	s := &Server{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "testpg")
	if err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting postgres as root needs the postgres user (apt-get install postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("starting postgres: %w", err)
		}
		s.asUser = "postgres"
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	data := filepath.Join(dir, "data")
	if out, err := s.run(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"); err != nil {
		s.Stop()
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	// Only a unix socket in dir: no port to collide with another server.
	// fsync off: the data is thrown away after the tests.
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", dir)
	if out, err := s.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		s.Stop()
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return s, nil
}

// run runs a PostgreSQL program, as the postgres user when root.
func (s *Server) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	name, argv := filepath.Join(s.bin, prog), args
	if s.asUser != "" {
		name, argv = "runuser", append([]string{"-u", s.asUser, "--", name}, args...)
	}
	cmd := exec.CommandContext(ctx, name, argv...)
	cmd.Dir = s.dir
	return cmd.CombinedOutput()
}

// Stop stops the server and removes its files.
func (s *Server) Stop() {
	if s.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := os.Stat(filepath.Join(s.dir, "data", "postmaster.pid")); err == nil {
		s.run(ctx, "pg_ctl", "stop", "-m", "immediate", "-w", "-D", filepath.Join(s.dir, "data"))
	}
	os.RemoveAll(s.dir)
	s.dir = ""
}

// Need skips the test when there is no server (fails under CI=true).
func (s *Server) Need(t testing.TB) {
	t.Helper()
	if s.err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (CI=true: .ci/run should have installed it)", s.err)
	}
	t.Skip(s.err)
}

// DSN is the connection string for database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=postgres dbname=%s sslmode=disable", s.dir, db)
}

// Err is why there is no server, nil when there is one.
func (s *Server) Err() error { return s.err }

// CreateDB creates an empty database and returns its DSN.
func (s *Server) CreateDB(ctx context.Context, name string) (string, error) {
	if s.err != nil {
		return "", s.err
	}
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("connecting to the test server: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// NewDB creates an empty database for t and returns its DSN. It is
// dropped when t ends.
func (s *Server) NewDB(t testing.TB) string {
	t.Helper()
	s.Need(t)
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := s.CreateDB(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			t.Errorf("connecting to the test server: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	return dsn
}
