package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output"
	"github.com/auditproxy/auditproxy/store"
	_ "github.com/auditproxy/auditproxy/store/sqlite"
)

func TestOutputFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	sink, err := output.Open("store:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	evs := []event.Event{eventtest.Full(), eventtest.Minimal()}
	for range 2 { // a redelivery is not a second row
		if err := sink.Write(context.Background(), evs); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	n, err := sink.(*store.Output).Store.Count(context.Background(), store.Filter{})
	if err != nil || n != 2 {
		t.Errorf("Count after writing 2 events twice = %d, %v; want 2", n, err)
	}
}

func TestOutputOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		opts    map[string]any
		wantErr string
	}{
		{map[string]any{"path": filepath.Join(dir, "a.db")}, ""},
		{map[string]any{"engine": "sqlite", "path": filepath.Join(dir, "b.db")}, ""},
		{map[string]any{}, "needs path"},
		{map[string]any{"engine": "sqlite", "path": "x.db", "dsn": "postgres://x"}, "dsn: is for engine postgres"},
		{map[string]any{"engine": "postgres"}, "needs dsn"},
		{map[string]any{"engine": "postgres", "dsn": "postgres://x", "path": "x"}, "path: is for engine sqlite"},
		{map[string]any{"engine": "mysql"}, `engine "mysql" is not one of`},
		{map[string]any{"path": "x.db", "pth": "typo"}, "pth"},
	} {
		sink, err := output.OpenSpec(output.Spec{Name: "trail", Type: "store", Options: tt.opts})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("options %v: %v", tt.opts, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("options %v: error %v, want one with %q", tt.opts, err, tt.wantErr)
		}
		if sink != nil {
			sink.Close()
		}
	}
}

// rejecting is a store whose Insert rejects batches holding an event with
// the id "bad", and fails with an outage error for the id "down".
type rejecting struct {
	store.Store
	inserted []string
}

func (r *rejecting) Insert(_ context.Context, evs []event.Event) error {
	for _, ev := range evs {
		switch ev.ID {
		case "bad":
			return store.Rejected(errors.New("value too long"))
		case "down":
			return errors.New("connection refused")
		}
	}
	for _, ev := range evs {
		r.inserted = append(r.inserted, ev.ID)
	}
	return nil
}

func TestOutputWriteErrors(t *testing.T) {
	ctx := context.Background()
	evs := func(ids ...string) []event.Event {
		out := make([]event.Event, len(ids))
		for i, id := range ids {
			out[i] = event.Event{ID: id}
		}
		return out
	}

	// One rejected event in a batch: the others are stored, it alone is
	// reported, as permanent.
	r := &rejecting{}
	err := (&store.Output{Store: r}).Write(ctx, evs("a", "bad", "c"))
	var items *output.ItemErrors
	if !errors.As(err, &items) || len(items.Items) != 1 || items.Items[0].Index != 1 || !output.IsPermanent(items.Items[0].Err) {
		t.Errorf("Write with one rejected event: %v, want ItemErrors for index 1, permanent", err)
	}
	if strings.Join(r.inserted, ",") != "a,c" {
		t.Errorf("stored %v, want [a c]", r.inserted)
	}

	// A batch of one rejected event is permanent.
	if err := (&store.Output{Store: &rejecting{}}).Write(ctx, evs("bad")); !output.IsPermanent(err) {
		t.Errorf("Write of one rejected event: %v, want a permanent error", err)
	}

	// An outage is returned as it is, for a retry.
	err = (&store.Output{Store: &rejecting{}}).Write(ctx, evs("a", "down"))
	if err == nil || output.IsPermanent(err) || errors.As(err, &items) {
		t.Errorf("Write during an outage: %v, want a plain error to retry", err)
	}
}

// purger counts Purge calls and deletes a fixed number each time.
type purger struct {
	store.Store
	calls  int
	n      int64
	err    error
	before []time.Time
}

func (p *purger) Purge(_ context.Context, before time.Time) (int64, error) {
	p.calls++
	p.before = append(p.before, before)
	return p.n, p.err
}

func TestRunRetention(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &purger{n: 3}
	var purged []int64
	start := time.Now()
	done := make(chan error)
	go func() {
		done <- store.RunRetention(ctx, p, 24*time.Hour, 10*time.Millisecond, func(n int64, before time.Time) {
			purged = append(purged, n)
			if len(purged) == 3 {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunRetention after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunRetention did not purge three times in 10s")
	}
	if len(purged) != 3 || purged[0] != 3 {
		t.Errorf("onPurge calls = %v, want three of 3", purged)
	}
	if cut := start.Add(-24 * time.Hour); p.before[0].Before(cut.Add(-time.Second)) || p.before[0].After(cut.Add(time.Second)) {
		t.Errorf("first purge before %v, want about %v", p.before[0], cut)
	}

	// Nothing purged: nothing recorded. A failing purge ends the run with
	// its error.
	p = &purger{err: errors.New("disk I/O error")}
	err := store.RunRetention(context.Background(), p, time.Hour, time.Millisecond, func(int64, time.Time) {
		t.Error("onPurge called for a purge that deleted nothing")
	})
	if err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Errorf("RunRetention with a failing purge = %v, want its error", err)
	}
	if err := store.RunRetention(context.Background(), p, 0, time.Hour, nil); err == nil {
		t.Error("RunRetention with keep 0: no error")
	}
}

func TestCursor(t *testing.T) {
	pos := store.Position{Time: time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC), ID: "0192f8a4-6b2e"}
	got, err := store.DecodeCursor(store.EncodeCursor(pos))
	if err != nil || got != pos {
		t.Errorf("DecodeCursor(EncodeCursor(%v)) = %v, %v", pos, got, err)
	}
	for _, c := range []string{"", "!!", "AAAAAAAAAAA"} {
		if _, err := store.DecodeCursor(c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Errorf("DecodeCursor(%q) error = %v, want ErrInvalidCursor", c, err)
		}
	}
}
