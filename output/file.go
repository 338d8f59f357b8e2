package output

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
	"gopkg.in/natefinch/lumberjack.v2"
	"gopkg.in/yaml.v3"
)

// The file type's options:
//
//	outputs:
//	  - type: file
//	    path: /var/log/audit.jsonl
//	    format: json      # any format; one record per line
//	    rotate: {max_size: 100MiB, every: 24h, max_age: 168h, keep: 10, compress: true}   # optional; none: never rotate
//	    fsync: interval   # never | interval (the default: every second while written) | always
func init() {
	Register("file", Kind{Local: true, FlagArg: "path", Open: func(s Spec) (Sink, error) {
		var opts FileOptions
		if err := s.DecodeOptions(&opts); err != nil {
			return nil, err
		}
		f, err := format.Get(s.Format)
		if err != nil {
			return nil, fmt.Errorf("format: %w", err)
		}
		opts.Format = f
		file, err := OpenFileWith(opts)
		if err != nil {
			return nil, err // not a typed nil *File in a non-nil Sink
		}
		return file, nil
	}})
}

// FileOptions configure a file output. The zero value but for Path is what
// OpenFile does: native JSON, never rotated, fsync every second.
type FileOptions struct {
	Path string `yaml:"path"`
	// Rotate, when set, moves the file aside before it grows past a size;
	// nil means the file is never rotated.
	Rotate *Rotation `yaml:"rotate"`
	// Fsync is when lines are committed to stable storage; "" is interval.
	Fsync Fsync `yaml:"fsync"`
	// Format writes each event as one line; nil is json. It comes from
	// the output's shared format: setting, not from the type's options.
	Format format.Format `yaml:"-"`
}

// Rotation is when a file is moved aside and how long the moved files are
// kept. Moved files are named after the file and the moment it was
// rotated, in UTC: audit.jsonl becomes audit-2026-11-21T23-42-15.123.jsonl
// (with .gz added when compressed), next to it.
type Rotation struct {
	// MaxSize: a line that would take the file past it starts a new file.
	// Only a single line larger than MaxSize makes a larger file. 0 means
	// 100 MiB.
	MaxSize ByteSize `yaml:"max_size"`
	// Every also starts a new file when the current one has been written
	// to for this long (counted from when this process opened or last
	// rotated it), e.g. 24h for a file a day. 0: by size only.
	Every time.Duration `yaml:"every"`
	// MaxAge removes moved files older than this, by the time in their
	// name. It is counted in whole days (24h, 168h ...). 0 keeps them
	// whatever their age.
	MaxAge time.Duration `yaml:"max_age"`
	// Keep is how many moved files are kept, the newest; 0 keeps all of
	// them (MaxAge still removes the old ones).
	Keep int `yaml:"keep"`
	// Compress gzips moved files, in the background. The gzipped copy is
	// not fsynced before the original is removed: a power cut at that
	// moment can cost that file.
	Compress bool `yaml:"compress"`
}

// Fsync is when a file output commits its lines to stable storage. Until
// then, lines that Write has handed to the operating system survive a
// crash of the proxy but not of the machine.
type Fsync string

const (
	FsyncNever    Fsync = "never"    // leave it to the operating system
	FsyncInterval Fsync = "interval" // once a second while there were writes (the default)
	FsyncAlways   Fsync = "always"   // in every Write, before it returns
)

// UnmarshalYAML rejects unknown policies.
func (f *Fsync) UnmarshalYAML(n *yaml.Node) error {
	v := Fsync(n.Value)
	if err := v.check(); err != nil {
		return err
	}
	*f = v
	return nil
}

func (f Fsync) check() error {
	switch f {
	case "", FsyncNever, FsyncInterval, FsyncAlways:
		return nil
	}
	return fmt.Errorf("fsync: %q is not one of never, interval, always", string(f))
}

func (r *Rotation) check() error {
	switch {
	case r.MaxSize < 0:
		return fmt.Errorf("rotate: max_size: %d is negative", r.MaxSize)
	case r.MaxAge < 0 || r.MaxAge%(24*time.Hour) != 0:
		return fmt.Errorf("rotate: max_age: %v is not a whole number of days (24h, 168h, ...)", r.MaxAge)
	case r.Keep < 0:
		return fmt.Errorf("rotate: keep: %d is negative (0 keeps every rotated file)", r.Keep)
	case r.Every < 0:
		return fmt.Errorf("rotate: every: %v is negative", r.Every)
	}
	return nil
}

const (
	defaultMaxSize = 100 << 20
	// syncInterval is how long lines wait for their fsync under
	// FsyncInterval: what a machine crash can cost at most.
	syncInterval = time.Second
)

var _ Sink = (*File)(nil)

// File appends events to a file, one line each. The file is never
// truncated: a restarted proxy goes on where the last one stopped. With
// rotation, gopkg.in/natefinch/lumberjack.v2 moves full files aside,
// compresses them and removes old ones; File decides when, so that a
// rotation falls between two lines and after an fsync.
type File struct {
	path      string
	format    format.Format
	fsync     Fsync
	syncEvery time.Duration

	mu sync.Mutex
	// f is the current file (nil once closed). Without rotation Write
	// writes to it; with rotation lumberjack writes to the same file
	// through its own descriptor, and f is kept for fsync, which commits
	// the file, whichever descriptor wrote.
	f  *os.File
	w  io.Writer          // f, or lj
	lj *lumberjack.Logger // nil without rotation

	maxSize int64     // with rotation: the bound on the file's size
	size    int64     // with rotation: bytes in the current file
	rotated time.Time // with rotation: when the last rotation ended
	every   time.Duration
	since   time.Time // with rotation by time: when the current file began

	buf []byte // the lines of a batch, reused
	// torn means the file may end inside a line (a crash, or a failed
	// write): the next Write starts with a newline, so that the cut line
	// stays the only broken one. At worst that leaves an empty line.
	torn bool

	dirty     bool        // written since the last fsync
	timer     *time.Timer // FsyncInterval: the next fsync
	timerSet  bool        // timer is running
	syncErr   error       // a failed background fsync, for the next Write to report
	syncCount int         // fsyncs done, for tests
}

// OpenFile opens path for appending native JSON lines, without rotation.
// See OpenFileWith.
func OpenFile(path string) (*File, error) {
	return OpenFileWith(FileOptions{Path: path})
}

// OpenFileWith opens opts.Path for appending, creating the file (mode
// 0640) but not its directory: a missing directory is a configuration
// mistake to report, not to paper over.
func OpenFileWith(opts FileOptions) (*File, error) {
	if opts.Path == "" {
		return nil, errors.New("opening audit file: no path given (want file:/path/to/audit.jsonl)")
	}
	if err := opts.Fsync.check(); err != nil {
		return nil, fmt.Errorf("opening audit file %s: %w", opts.Path, err)
	}
	if opts.Rotate != nil {
		if err := opts.Rotate.check(); err != nil {
			return nil, fmt.Errorf("opening audit file %s: %w", opts.Path, err)
		}
	}
	f, err := os.OpenFile(opts.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening audit file: %w", err)
	}
	s := &File{
		path:      opts.Path,
		format:    opts.Format,
		fsync:     opts.Fsync,
		syncEvery: syncInterval,
		f:         f,
		w:         f,
		torn:      endsInsideLine(f, opts.Path),
	}
	if s.format == nil {
		s.format, _ = format.Get("json")
	}
	if s.fsync == "" {
		s.fsync = FsyncInterval
	}
	if r := opts.Rotate; r != nil {
		s.every, s.since = r.Every, time.Now()
		s.maxSize = int64(r.MaxSize)
		if s.maxSize == 0 {
			s.maxSize = defaultMaxSize
		}
		if fi, err := f.Stat(); err == nil {
			s.size = fi.Size()
		}
		s.lj = &lumberjack.Logger{
			Filename: opts.Path,
			// File rotates, by the byte and between lines; lumberjack's
			// own bound (in MiB, per write) must never be reached.
			MaxSize:    math.MaxInt32,
			MaxAge:     int(r.MaxAge / (24 * time.Hour)),
			MaxBackups: r.Keep,
			Compress:   r.Compress,
		}
		s.w = s.lj
	}
	return s, nil
}

// endsInsideLine tells whether the regular file f (opened write-only) is
// not empty and does not end in a newline. When that cannot be read, it
// says no.
func endsInsideLine(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return false
	}
	r, err := os.Open(path)
	if err != nil {
		return false
	}
	defer r.Close()
	var last [1]byte
	_, err = r.ReadAt(last[:], fi.Size()-1)
	return err == nil && last[0] != '\n'
}

// Write appends the events, one line each, and hands them to the operating
// system before it returns: nil means every line is in the file (and, with
// FsyncAlways, on disk). On error part of the batch may have been written;
// write it again, the ids tell the copies apart.
func (s *File) Write(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing to %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("writing to %s: %w", s.path, ErrClosed)
	}
	if err := s.syncErr; err != nil {
		// Lines of earlier batches may be lost: say so, rather than let
		// the loss pass silently.
		s.syncErr = nil
		return fmt.Errorf("writing to %s: an earlier fsync failed, lines written before it may be lost: %w", s.path, err)
	}
	if len(events) == 0 {
		return nil
	}
	if err := s.writeLines(events); err != nil {
		s.torn = true
		return fmt.Errorf("writing to %s: %w", s.path, err)
	}
	s.torn = false
	switch s.fsync {
	case FsyncAlways:
		if err := s.syncLocked(); err != nil {
			return fmt.Errorf("writing to %s: %w", s.path, err)
		}
	case FsyncInterval:
		if !s.timerSet {
			s.timerSet = true
			if s.timer == nil {
				s.timer = time.AfterFunc(s.syncEvery, s.syncTick)
			} else {
				s.timer.Reset(s.syncEvery)
			}
		}
	}
	return nil
}

// writeLines writes the events in chunks of whole lines, rotating the
// file between two lines when the next would take it past maxSize.
func (s *File) writeLines(events []event.Event) error {
	buf := s.buf[:0]
	defer func() {
		if cap(buf) <= 1<<20 { // do not keep one huge event's buffer for ever
			s.buf = buf
		}
	}()
	if s.torn {
		buf = append(buf, '\n')
	}
	if s.lj != nil && s.every > 0 && s.size > 0 && time.Since(s.since) >= s.every {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	for i := range events {
		start := len(buf)
		buf = append(s.format.Append(buf, &events[i]), '\n')
		if s.lj != nil && s.size+int64(len(buf)) > s.maxSize && s.size+int64(start) > 0 {
			if err := s.write(buf[:start]); err != nil {
				return err
			}
			if err := s.rotate(); err != nil {
				return err
			}
			buf = buf[:copy(buf, buf[start:])]
		}
		if len(buf) >= chunkSize {
			if err := s.write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return s.write(buf)
}

func (s *File) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := s.w.Write(p)
	s.size += int64(n)
	if n > 0 {
		s.dirty = true
	}
	return err
}

// rotate moves the current file aside and starts a new one.
func (s *File) rotate() error {
	// The old file may be compressed and removed soon, and the fsyncs to
	// come are of the new one: what the old one holds, this batch's lines
	// included, must be on disk first, unless fsync is never wanted.
	if s.fsync != FsyncNever && s.dirty {
		if err := s.syncLocked(); err != nil {
			return err
		}
	}
	// lumberjack names the moved file by the millisecond; a second
	// rotation within the same one would take the same name, and its
	// rename would replace (lose) the first file.
	for time.Now().Truncate(time.Millisecond).Equal(s.rotated.Truncate(time.Millisecond)) {
		time.Sleep(100 * time.Microsecond)
	}
	err := s.lj.Rotate()
	s.rotated = time.Now()
	s.since = s.rotated
	if err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	s.f.Close() // only used for fsync, and synced above
	s.f, s.size, s.dirty = f, 0, false
	if s.fsync != FsyncNever {
		// The new file's name, and the old one's new name, are entries
		// of the directory: commit them too.
		if err := syncDir(filepath.Dir(s.path)); err != nil {
			return fmt.Errorf("rotating: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// syncTick is FsyncInterval's timer.
func (s *File) syncTick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.timerSet = false
	if s.f == nil || !s.dirty {
		return
	}
	if err := s.syncLocked(); err != nil && s.syncErr == nil {
		s.syncErr = err
	}
}

func (s *File) syncLocked() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", s.path, err)
	}
	s.dirty = false
	s.syncCount++
	return nil
}

// Sync commits the file to stable storage (fsync) now, whatever the
// policy.
func (s *File) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("syncing %s: %w", s.path, ErrClosed)
	}
	return s.syncLocked()
}

// Close commits what is not yet on disk (unless fsync is never) and closes
// the file. Later Writes fail with ErrClosed; closing again does nothing.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	err := s.syncErr
	if s.fsync != FsyncNever && s.dirty {
		err = errors.Join(err, s.syncLocked())
	}
	if s.lj != nil {
		// lumberjack's background goroutine (compression, removal) is
		// never stopped: one per rotating file, idle once done.
		err = errors.Join(err, s.lj.Close())
	}
	err = errors.Join(err, s.f.Close())
	s.f = nil
	if err != nil {
		return fmt.Errorf("closing %s: %w", s.path, err)
	}
	return nil
}
