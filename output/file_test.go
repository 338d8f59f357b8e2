package output

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestFileAppendsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var want []string
	for run := range 3 { // three "restarts"
		f, err := OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		evs := batch(fmt.Sprintf("run%d", run), 3)
		for _, ev := range evs {
			want = append(want, ev.ID)
		}
		if err := f.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// A Write that returned nil is in the file, before Close.
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := readLines(t, b); !slices.Equal(got, want) {
			t.Fatalf("run %d before Close: ids %v, want %v", run, got, want)
		}
		if err := f.Sync(); err != nil {
			t.Errorf("Sync: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("file mode %v, want at most 0640", perm)
	}
}

func TestFileMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "audit.jsonl")
	_, err := OpenFile(path)
	if err == nil || !strings.HasPrefix(err.Error(), "opening audit file: ") || !strings.Contains(err.Error(), path) ||
		!errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenFile in a missing directory: got %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenFile created the directory")
	}
}

// A crash can leave half a line at the end of the file; the next line must
// not be glued to it.
func TestFileAfterTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"whole"}`+"\n"+`{"id":"cut`), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(context.Background(), batch("new", 2)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) != 5 || lines[1] != `{"id":"cut` || !strings.HasPrefix(lines[2], `{"id":"new-0"`) || lines[4] != "" {
		t.Errorf("file after a torn line:\n%s", b)
	}
}

func TestFileWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full to fill")
	}
	f, err := OpenFile("/dev/full")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	for range 2 { // the second write fails afresh, not from a stuck error
		err := f.Write(context.Background(), batch("x", 1))
		if !errors.Is(err, syscall.ENOSPC) || !strings.HasPrefix(err.Error(), "writing to /dev/full: ") {
			t.Errorf("Write to a full device: got %v", err)
		}
	}
}

func TestFileClosed(t *testing.T) {
	f, err := OpenFile(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := f.Write(context.Background(), batch("x", 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}
	if err := f.Sync(); !errors.Is(err, ErrClosed) {
		t.Errorf("Sync after Close: got %v, want ErrClosed", err)
	}
}

func TestFileConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, batches, size = 4, 10, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				if err := f.Write(context.Background(), batch(fmt.Sprintf("w%d-b%d", w, b), size)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, b)); n != writers*batches*size {
		t.Errorf("got %d lines, want %d", n, writers*batches*size)
	}
}
