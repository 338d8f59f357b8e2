package postgres_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/internal/sqlcommon"
	"github.com/auditproxy/auditproxy/store/internal/testpg"
	"github.com/auditproxy/auditproxy/store/postgres"
	"github.com/auditproxy/auditproxy/store/storetest"
)

// server is the one PostgreSQL every test of the package shares.
var server *testpg.Server

func TestMain(m *testing.M) {
	server = testpg.Start()
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func open(t *testing.T) store.Store {
	s, err := postgres.Open(context.Background(), server.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	if !s.TextIndexed {
		t.Error("no trigram index: pg_trgm could not be created")
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// TestConformanceEachResumes runs the suite with Each resuming its query
// after every event.
func TestConformanceEachResumes(t *testing.T) {
	defer sqlcommon.SetEach(7, 0)()
	storetest.Run(t, open)
}

// TestRejected: an event the database refuses is store.Rejected (the
// output dead-letters it); a database that is gone is not.
func TestRejected(t *testing.T) {
	ctx := context.Background()
	dsn := server.NewDB(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ALTER TABLE auditproxy_events ADD CONSTRAINT no_bad CHECK (action <> 'bad')"); err != nil {
		t.Fatal(err)
	}
	bad := eventtest.Minimal()
	bad.Action = "bad"
	if err := s.Insert(ctx, []event.Event{eventtest.Full(), bad}); !store.IsRejected(err) {
		t.Errorf("Insert refused by a constraint: %v, want a Rejected error", err)
	}
	s.Close()
	if err := s.Insert(ctx, []event.Event{eventtest.Full()}); err == nil || store.IsRejected(err) {
		t.Errorf("Insert on a closed store: %v, want an error that is not Rejected", err)
	}
}

// TestOpenTogether: proxies starting at once on a new database all get
// the schema, none fails creating it.
func TestOpenTogether(t *testing.T) {
	dsn := server.NewDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Insert(context.Background(), []event.Event{eventtest.Full()})
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestOutput(t *testing.T) {
	sink, err := output.OpenSpec(output.Spec{Name: "trail", Type: "store", Options: map[string]any{"engine": "postgres", "dsn": server.NewDB(t)}})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	evs := []event.Event{eventtest.Full(), eventtest.Minimal()}
	if err := sink.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	n, err := sink.(*store.Output).Store.Count(context.Background(), store.Filter{})
	if err != nil || n != 2 {
		t.Errorf("Count after writing 2 events = %d, %v; want 2", n, err)
	}
}

func TestOpenBadDSN(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://user:s3cret@host:notaport/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a bad DSN: %v; want an error without the password", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := postgres.Open(context.Background(), server.NewDB(b))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
