package output

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/output/format"
	"gopkg.in/yaml.v3"
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

// openSpec builds a sink from one YAML output entry.
func openSpec(t *testing.T, doc string) (*File, error) {
	t.Helper()
	var specs []Spec
	if err := yaml.Unmarshal([]byte(doc), &specs); err != nil {
		return nil, err
	}
	s, err := OpenSpec(specs[0])
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s.(*File), nil
}

func TestFileOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		opts    string
		wantErr string // substring of the error; "" for a good entry
	}{
		{opts: ``},
		{opts: `fsync: never`},
		{opts: `fsync: interval`},
		{opts: `fsync: always`},
		{opts: `format: cef`},
		{opts: `rotate: {max_size: 100MiB, max_age: 168h, keep: 10, compress: true}`},
		{opts: `rotate: {}`},
		{opts: `fsync: sometimes`, wantErr: `fsync: "sometimes" is not one of never, interval, always`},
		{opts: `fsync: true`, wantErr: `fsync: "true" is not one of`},
		{opts: `format: xml`, wantErr: `format: unknown format "xml" (known: `},
		{opts: `rotate: {max_size: 10 parsecs}`, wantErr: `size "10 parsecs"`},
		{opts: `rotate: {max_age: 36h}`, wantErr: "rotate: max_age: 36h0m0s is not a whole number of days"},
		{opts: `rotate: {max_age: -24h}`, wantErr: "rotate: max_age: -24h0m0s"},
		{opts: `rotate: {keep: -1}`, wantErr: "rotate: keep: -1 is negative"},
		{opts: `rotate: {max_sise: 1MiB}`, wantErr: "max_sise"},
		{opts: `rotation: {max_size: 1MiB}`, wantErr: "rotation"},
	} {
		doc := fmt.Sprintf("- {type: file, name: audit, path: %s, %s}", filepath.Join(dir, "audit.jsonl"), tt.opts)
		_, err := openSpec(t, doc)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.opts, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.opts, err, tt.wantErr)
		case tt.wantErr != "" && !strings.HasPrefix(err.Error(), `opening output "audit"`):
			t.Errorf("%s: error %q does not name the output", tt.opts, err)
		}
	}
}

// The output's format: is what lands in the file, one record per line.
func TestFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.cef")
	f, err := openSpec(t, "- {type: file, format: cef, path: "+path+"}")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(context.Background(), batch("cef", 3)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), b)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, "CEF:0|auditproxy|auditproxy|1.0|user.created|") || !strings.Contains(l, fmt.Sprintf(" externalId=cef-%d ", i)) {
			t.Errorf("line %d is not the event's CEF record: %s", i, l)
		}
	}
}

func TestFileFsync(t *testing.T) {
	for _, tt := range []struct {
		policy Fsync
		// syncs after three Writes, after waiting a little, after Close
		afterWrites, afterWait, afterClose int
	}{
		{FsyncNever, 0, 0, 0},
		{FsyncAlways, 3, 3, 3},
		{FsyncInterval, 0, 1, 1},
		{"", 0, 1, 1}, // interval is the default
	} {
		t.Run(string(tt.policy), func(t *testing.T) {
			f, err := OpenFileWith(FileOptions{Path: filepath.Join(t.TempDir(), "audit.jsonl"), Fsync: tt.policy})
			if err != nil {
				t.Fatal(err)
			}
			f.syncEvery = 20 * time.Millisecond
			for i := range 3 {
				if err := f.Write(context.Background(), batch(fmt.Sprint(i), 2)); err != nil {
					t.Fatal(err)
				}
			}
			syncs := func() int {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.syncCount
			}
			if got := syncs(); got != tt.afterWrites {
				t.Errorf("after the Writes: %d fsyncs, want %d", got, tt.afterWrites)
			}
			for deadline := time.Now().Add(5 * time.Second); syncs() < tt.afterWait && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // time for one fsync too many
			if got := syncs(); got != tt.afterWait {
				t.Errorf("a while later: %d fsyncs, want %d", got, tt.afterWait)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if f.syncCount != tt.afterClose {
				t.Errorf("after Close: %d fsyncs, want %d", f.syncCount, tt.afterClose)
			}
		})
	}
}

// Close commits what the interval fsync has not yet.
func TestFileCloseSyncs(t *testing.T) {
	f, err := OpenFile(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(context.Background(), batch("x", 1)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if f.syncCount != 1 {
		t.Errorf("Close after a Write: %d fsyncs, want 1", f.syncCount)
	}
}

// files returns the rotated files next to path, oldest first, and path.
func files(t *testing.T, path string) (rotated []string) {
	t.Helper()
	ext := filepath.Ext(path)
	matches, err := filepath.Glob(strings.TrimSuffix(path, ext) + "-*" + ext + "*")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(matches) // the names hold the time of rotation
	return matches
}

// readFile returns a file's content, gunzipped when its name says so.
func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

// waitFor polls cond (lumberjack removes and compresses in the background).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

func TestFileRotatesBySize(t *testing.T) {
	ev := batch("x", 1)
	lineLen := len(AppendJSON(nil, &ev[0])) // ids of the same length below: every line is this long
	for _, tt := range []struct {
		name string
		keep int
	}{
		{"keep all", 0},
		{"keep 3", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			const perFile = 4
			f, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{MaxSize: ByteSize(perFile*lineLen + lineLen/2), Keep: tt.keep}})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for b := range 10 { // batches of 3 lines: rotations fall inside batches too
				evs := batch(fmt.Sprintf("b%d", b), 3)
				for _, ev := range evs {
					want = append(want, ev.ID)
				}
				if err := f.Write(context.Background(), evs); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			rotations := (len(want) - 1) / perFile // 30 lines, 4 a file: 7 full files and 2 lines
			if tt.keep > 0 {
				waitFor(t, fmt.Sprintf("%d rotated files", tt.keep), func() bool { return len(files(t, path)) == tt.keep })
				want = want[(rotations-tt.keep)*perFile:]
			}
			wantRotated := rotations
			if tt.keep > 0 {
				wantRotated = tt.keep
			}
			rotated := files(t, path)
			if len(rotated) != wantRotated {
				t.Errorf("rotated files: %v, want %d", rotated, wantRotated)
			}
			var got []string
			for _, name := range append(rotated, path) {
				b := readFile(t, name)
				ids := readLines(t, b)
				if name != path && len(ids) != perFile {
					t.Errorf("%s holds %d lines, want %d", filepath.Base(name), len(ids), perFile)
				}
				fi, err := os.Stat(name)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() > int64(perFile*lineLen+lineLen/2) {
					t.Errorf("%s: %d bytes, over max_size", filepath.Base(name), fi.Size())
				}
				if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
					t.Errorf("%s: mode %v, want at most 0640", filepath.Base(name), perm)
				}
				got = append(got, ids...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids across the files:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestFileRotateCompresses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{MaxSize: 4 << 10, Compress: true}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := range 4 {
		evs := batch(fmt.Sprintf("b%d", b), 5)
		for _, ev := range evs {
			want = append(want, ev.ID)
		}
		if err := f.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every rotated file gzipped", func() bool {
		rotated := files(t, path)
		for _, name := range rotated {
			if !strings.HasSuffix(name, ".jsonl.gz") {
				return false
			}
		}
		return len(rotated) > 1
	})
	var got []string
	for _, name := range append(files(t, path), path) {
		got = append(got, readLines(t, readFile(t, name))...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ids across the files:\n got %v\nwant %v", got, want)
	}
}

// The lines a batch writes before a rotation are committed before the
// file is moved aside: later fsyncs are of the new file.
func TestFileRotateSyncsBeforeRotation(t *testing.T) {
	ev := batch("x", 1)
	lineLen := len(AppendJSON(nil, &ev[0]))
	f, err := OpenFileWith(FileOptions{Path: filepath.Join(t.TempDir(), "audit.jsonl"), Fsync: FsyncAlways,
		Rotate: &Rotation{MaxSize: ByteSize(2*lineLen + lineLen/2)}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Write(context.Background(), batch("x", 3)); err != nil { // two lines, rotation, one line
		t.Fatal(err)
	}
	if f.syncCount != 2 {
		t.Errorf("%d fsyncs, want 2: before the rotation and at the end of Write", f.syncCount)
	}
}

// A file already past max_size when the proxy starts is rotated before the
// first new line.
func TestFileRotatesOnStartWhenFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	old := bytes.Repeat([]byte(`{"id":"old"}`+"\n"), 100)
	if err := os.WriteFile(path, old, 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{MaxSize: 1 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(context.Background(), batch("new", 1)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rotated := files(t, path)
	if len(rotated) != 1 || !bytes.Equal(readFile(t, rotated[0]), old) {
		t.Fatalf("rotated files %v, want one with the old content", rotated)
	}
	if ids := readLines(t, readFile(t, path)); !slices.Equal(ids, []string{"new-0"}) {
		t.Errorf("current file: ids %v", ids)
	}
}

func TestFileRotateAfterTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"whole"}`+"\n"+`{"id":"cut`), 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(context.Background(), batch("new", 1)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(path)
	if lines := strings.Split(string(b), "\n"); len(lines) != 4 || lines[1] != `{"id":"cut` || !strings.HasPrefix(lines[2], `{"id":"new-0"`) {
		t.Errorf("file after a torn line:\n%s", b)
	}
}

func TestFileRotateConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{MaxSize: 16 << 10}, Fsync: FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	const writers, batches, size = 4, 5, 20
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
	n := 0
	for _, name := range append(files(t, path), path) {
		n += len(readLines(t, readFile(t, name)))
	}
	if n != writers*batches*size {
		t.Errorf("got %d lines, want %d", n, writers*batches*size)
	}
}

// BenchmarkFileFormats is the file sink end to end, per format: encoding
// and writing batches of 100 events, fsync every second.
func BenchmarkFileFormats(b *testing.B) {
	evs := batch("bench", 100)
	for _, name := range []string{"json", "ecs", "ocsf", "cef", "cloudevents", "text"} {
		b.Run(name, func(b *testing.B) {
			f, _ := format.Get(name)
			s, err := OpenFileWith(FileOptions{Path: filepath.Join(b.TempDir(), "audit.log"), Format: f})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := s.Write(context.Background(), evs); err != nil {
					b.Fatal(err)
				}
				n += len(evs)
			}
			reportRate(b, n)
		})
	}
}

// BenchmarkFileRotating is the json file sink rotating every 10 MiB.
func BenchmarkFileRotating(b *testing.B) {
	s, err := OpenFileWith(FileOptions{Path: filepath.Join(b.TempDir(), "audit.jsonl"), Rotate: &Rotation{MaxSize: 10 << 20, Keep: 2}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	evs := batch("bench", 100)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		n += len(evs)
	}
	reportRate(b, n)
}

// TestFileRotatesByTime: with rotate.every, a file written to for longer
// than that is moved aside before the next write; nothing is lost.
func TestFileRotatesByTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{Every: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := range 3 {
		evs := batch(fmt.Sprintf("t%d", b), 2)
		for _, ev := range evs {
			want = append(want, ev.ID)
		}
		if err := f.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond) // past every: the next write starts a new file
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rotated := files(t, path)
	if len(rotated) != 2 {
		t.Fatalf("rotated files: %v, want 2", rotated)
	}
	var got []string
	for _, name := range append(rotated, path) {
		ids := readLines(t, readFile(t, name))
		if len(ids) != 2 {
			t.Errorf("%s holds %d lines, want one batch of 2", filepath.Base(name), len(ids))
		}
		got = append(got, ids...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ids across the files:\n got %v\nwant %v", got, want)
	}
	if _, err := OpenFileWith(FileOptions{Path: path, Rotate: &Rotation{Every: -time.Second}}); err == nil || !strings.Contains(err.Error(), "every") {
		t.Errorf("negative every: %v", err)
	}
}
