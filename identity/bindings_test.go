package identity

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newBindings(t *testing.T, cfg BindingsConfig) *Bindings {
	t.Helper()
	b, err := NewBindings(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantBound(t *testing.T, b *Bindings, slot, key string, want Identity) {
	t.Helper()
	got, ok := b.Lookup(slot, key)
	if !ok || got != want {
		t.Fatalf("Lookup(%q, %q) = %+v, %v; want %+v, true", slot, key, got, ok, want)
	}
}

func wantUnbound(t *testing.T, b *Bindings, slot, key string) {
	t.Helper()
	if got, ok := b.Lookup(slot, key); ok {
		t.Fatalf("Lookup(%q, %q) = %+v, true; want nothing", slot, key, got)
	}
}

var (
	alice42 = Identity{ID: "42", Name: "alice"}
	bob7    = Identity{ID: "7", Name: "bob"}
)

func TestBindLookupDrop(t *testing.T) {
	b := newBindings(t, BindingsConfig{Now: newClock().Now})
	b.Bind("cookie.sid", "s1", alice42)
	b.Bind("cookie.sid", "s2", bob7)
	b.Bind("jwt.id", "s1", bob7) // same value, other slot: another binding

	wantBound(t, b, "cookie.sid", "s1", alice42)
	wantBound(t, b, "cookie.sid", "s2", bob7)
	wantBound(t, b, "jwt.id", "s1", bob7)
	wantUnbound(t, b, "cookie.sid", "s3")
	wantUnbound(t, b, "cookie.other", "s1")
	if n := b.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}

	b.Bind("cookie.sid", "s1", bob7) // a new login on the same session
	wantBound(t, b, "cookie.sid", "s1", bob7)

	b.Drop("cookie.sid", "s1")
	b.Drop("cookie.sid", "never bound")
	wantUnbound(t, b, "cookie.sid", "s1")
	wantBound(t, b, "jwt.id", "s1", bob7)
	if n := b.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
}

func TestBindNothing(t *testing.T) {
	// A request without the cookie must not resolve to whoever logged in
	// without one.
	b := newBindings(t, BindingsConfig{Now: newClock().Now})
	b.Bind("cookie.sid", "", alice42)
	b.Bind("cookie.sid", "s1", Identity{})
	wantUnbound(t, b, "cookie.sid", "")
	wantUnbound(t, b, "cookie.sid", "s1")
	if n := b.Len(); n != 0 {
		t.Fatalf("Len = %d, want 0", n)
	}
}

func TestBindingsTTL(t *testing.T) {
	clock := newClock()
	b := newBindings(t, BindingsConfig{TTL: time.Hour, Now: clock.Now})
	b.Bind("cookie.sid", "used", alice42)
	b.Bind("cookie.sid", "idle", bob7)

	clock.Advance(59 * time.Minute)
	wantBound(t, b, "cookie.sid", "used", alice42) // a look-up makes it live another hour

	clock.Advance(time.Minute)
	wantUnbound(t, b, "cookie.sid", "idle") // exactly TTL after its bind
	wantBound(t, b, "cookie.sid", "used", alice42)
	if n := b.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1", n)
	}

	clock.Advance(time.Hour)
	if n := b.Len(); n != 0 {
		t.Fatalf("Len after TTL = %d, want 0", n)
	}
	wantUnbound(t, b, "cookie.sid", "used")

	// A rebind renews too.
	b.Bind("cookie.sid", "s", alice42)
	clock.Advance(50 * time.Minute)
	b.Bind("cookie.sid", "s", alice42)
	clock.Advance(50 * time.Minute)
	wantBound(t, b, "cookie.sid", "s", alice42)
}

func TestBindingsDefaults(t *testing.T) {
	clock := newClock()
	b := newBindings(t, BindingsConfig{Now: clock.Now})
	if b.max != 100000 || b.ttl != 24*time.Hour {
		t.Fatalf("defaults: MaxEntries %d, TTL %v; want 100000, 24h", b.max, b.ttl)
	}
	for _, cfg := range []BindingsConfig{{MaxEntries: -1}, {TTL: -time.Second}} {
		if _, err := NewBindings(cfg); err == nil || !strings.HasPrefix(err.Error(), "configuring identity bindings: ") {
			t.Errorf("NewBindings(%+v) error = %v, want a config error", cfg, err)
		}
	}
}

func TestBindingsLRU(t *testing.T) {
	clock := newClock()
	b := newBindings(t, BindingsConfig{MaxEntries: 3, Now: clock.Now})
	for _, k := range []string{"a", "b", "c"} {
		b.Bind("s", k, Identity{Name: k})
		clock.Advance(time.Second)
	}
	wantBound(t, b, "s", "a", Identity{Name: "a"}) // a is now the most recent; b the least
	b.Bind("s", "d", Identity{Name: "d"})
	wantUnbound(t, b, "s", "b")
	b.Bind("s", "c", Identity{Name: "c2"}) // a rebind counts as use: a is now the least recent
	b.Bind("s", "e", Identity{Name: "e"})
	wantUnbound(t, b, "s", "a")
	for _, k := range []string{"c", "d", "e"} {
		if _, ok := b.Lookup("s", k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
	if n := b.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

func TestBindingsPersist(t *testing.T) {
	clock := newClock()
	file := filepath.Join(t.TempDir(), "bindings.jsonl")
	cfg := BindingsConfig{TTL: 24 * time.Hour, File: file, Now: clock.Now}
	b := newBindings(t, cfg)
	b.Bind("cookie.sid", "old-session-SECRET", bob7)
	clock.Advance(20 * time.Hour)
	b.Bind("cookie.sid", "new-session-SECRET", alice42)
	b.Bind("jwt.id", "42", alice42)
	clock.Advance(time.Hour)
	wantBound(t, b, "jwt.id", "42", alice42)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(file)
	for _, secret := range []string{"SECRET", "session", "cookie.sid"} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("file holds %q in clear:\n%s", secret, data)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the bindings (no temporary left)", len(entries))
	}

	// Five hours later the old session (bound 26h ago) has expired.
	clock.Advance(5 * time.Hour)
	r := newBindings(t, cfg)
	if n := r.Len(); n != 2 {
		t.Fatalf("Len after reload = %d, want 2", n)
	}
	wantUnbound(t, r, "cookie.sid", "old-session-SECRET")
	wantBound(t, r, "cookie.sid", "new-session-SECRET", alice42)
	wantBound(t, r, "jwt.id", "42", alice42)

	// The TTL still runs from the last use before the restart.
	clock.Advance(19 * time.Hour)
	r2 := newBindings(t, cfg)
	if n := r2.Len(); n != 0 {
		t.Fatalf("Len = %d after every binding expired, want 0", n)
	}
}

func TestBindingsPersistKeepsLRUOrder(t *testing.T) {
	clock := newClock()
	file := filepath.Join(t.TempDir(), "bindings.jsonl")
	b := newBindings(t, BindingsConfig{File: file, Now: clock.Now})
	for _, k := range []string{"a", "b", "c"} {
		b.Bind("s", k, Identity{Name: k})
		clock.Advance(time.Second)
	}
	wantBound(t, b, "s", "a", Identity{Name: "a"}) // b is now the least recent
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	r := newBindings(t, BindingsConfig{File: file, MaxEntries: 2, Now: clock.Now})
	wantUnbound(t, r, "s", "b")
	wantBound(t, r, "s", "a", Identity{Name: "a"})
	wantBound(t, r, "s", "c", Identity{Name: "c"})
}

func TestBindingsLoadErrors(t *testing.T) {
	clock := newClock()
	// A good file to cut lines from.
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	b := newBindings(t, BindingsConfig{File: good, Now: clock.Now})
	b.Bind("s", "k1", alice42)
	b.Bind("s", "k2", bob7)
	if err := b.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	lines := strings.SplitAfter(string(data), "\n") // header, k1, k2, ""

	tests := []struct {
		name     string
		content  string
		wantErr  string
		wantLine int
		wantLen  int
	}{
		{"bad line in the middle", lines[0] + lines[1] + "{broken\n" + `{"key":"abc","name":"x"}` + "\n" + lines[2], `line 3: invalid character`, 3, 2},
		{"cut short", lines[0] + lines[1] + lines[2][:20], "line 3:", 3, 1},
		{"not a bindings file", "hello\n" + lines[1], "line 1: not an auditproxy identity bindings file", 1, 0},
		{"empty", "", "line 1: file is empty", 1, 0},
		{"line too long", lines[0] + lines[1] + strings.Repeat("x", maxLine+1) + "\n" + lines[2], "line 3: bufio.Scanner: token too long; the rest of the file is skipped", 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "bindings.jsonl", []byte(tt.content))
			b, err := NewBindings(BindingsConfig{File: file, Now: clock.Now})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("NewBindings error = %v, want a *LoadError", err)
			}
			if b == nil {
				t.Fatal("NewBindings returned no Bindings with a LoadError")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || le.Line != tt.wantLine || le.File != file {
				t.Errorf("error = %q (line %d), want it to contain %q (line %d)", err, le.Line, tt.wantErr, tt.wantLine)
			}
			if n := b.Len(); n != tt.wantLen {
				t.Errorf("Len = %d, want %d", n, tt.wantLen)
			}
			if tt.wantLen > 0 {
				wantBound(t, b, "s", "k1", alice42)
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		b, err := NewBindings(BindingsConfig{File: t.TempDir(), Now: clock.Now}) // a directory
		var le *LoadError
		if !errors.As(err, &le) || b == nil || b.Len() != 0 {
			t.Fatalf("NewBindings = %v, %v; want empty Bindings and a *LoadError", b, err)
		}
	})
	t.Run("skipped count", func(t *testing.T) {
		file := writeFile(t, "bindings.jsonl", []byte(lines[0]+"x\ny\n"+lines[1]+"z\n"))
		b, err := NewBindings(BindingsConfig{File: file, Now: clock.Now})
		want := fmt.Sprintf("loading identity bindings %q: line 2: invalid character 'x' looking for beginning of value (3 lines skipped)", file)
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v\nwant    %s", err, want)
		}
		wantBound(t, b, "s", "k1", alice42)
	})
	t.Run("missing file is no error", func(t *testing.T) {
		newBindings(t, BindingsConfig{File: filepath.Join(t.TempDir(), "new.jsonl")})
	})
}

func TestSaveErrors(t *testing.T) {
	b := newBindings(t, BindingsConfig{File: "/nonexistent/dir/bindings.jsonl"})
	b.Bind("s", "k", alice42)
	if err := b.Save(); err == nil || !strings.HasPrefix(err.Error(), `saving identity bindings "/nonexistent/dir/bindings.jsonl": `) {
		t.Fatalf("Save error = %v", err)
	}
	memory := newBindings(t, BindingsConfig{})
	memory.Bind("s", "k", alice42)
	if err := memory.Save(); err != nil {
		t.Fatalf("Save without File = %v, want nil", err)
	}
	if err := memory.Close(); err != nil {
		t.Fatalf("Close without File = %v, want nil", err)
	}
}

func TestRun(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bindings.jsonl")
	b := newBindings(t, BindingsConfig{File: file})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		b.Run(ctx, 5*time.Millisecond, func(err error) { t.Error(err) })
		close(done)
	}()
	b.Bind("s", "k", alice42)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if data, err := os.ReadFile(file); err == nil && bytes.Count(data, []byte("\n")) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not save the binding within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	// Failed saves are reported, and Run goes on trying.
	bad := newBindings(t, BindingsConfig{File: "/nonexistent/dir/bindings.jsonl"})
	bad.Bind("s", "k", alice42)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 10)
	go bad.Run(ctx, 5*time.Millisecond, func(err error) {
		select {
		case errs <- err:
		default:
		}
	})
	for range 2 {
		select {
		case err := <-errs:
			if !strings.HasPrefix(err.Error(), "saving identity bindings") {
				t.Fatalf("reported %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run reported no failed save within 5s")
		}
	}
}

func TestBindingsConcurrent(t *testing.T) {
	clock := newClock()
	b := newBindings(t, BindingsConfig{MaxEntries: 50, TTL: time.Minute, File: filepath.Join(t.TempDir(), "b.jsonl"), Now: clock.Now})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint((w*7 + i) % 80)
				switch i % 4 {
				case 0:
					b.Bind("cookie.sid", key, Identity{ID: key})
				case 1:
					if id, ok := b.Lookup("cookie.sid", key); ok && id.ID != key {
						t.Errorf("Lookup(%s) = %+v", key, id)
					}
				case 2:
					b.Drop("cookie.sid", key)
				case 3:
					if n := b.Len(); n > 50 {
						t.Errorf("Len = %d, over MaxEntries", n)
					}
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if err := b.Save(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func Example() {
	b, err := NewBindings(BindingsConfig{})
	if err != nil {
		panic(err)
	}
	// The login response set the session cookie; the login request named the user.
	b.Bind("cookie.sid", "f3a9c0de", Identity{Name: "alice"})

	// A later request carries only the cookie.
	who, ok := b.Lookup("cookie.sid", "f3a9c0de")
	fmt.Println(who.Name, ok)

	// Logout.
	b.Drop("cookie.sid", "f3a9c0de")
	_, ok = b.Lookup("cookie.sid", "f3a9c0de")
	fmt.Println(ok)
	// Output:
	// alice true
	// false
}
