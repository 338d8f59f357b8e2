package output

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/auditproxy/auditproxy/event"
)

func init() {
	Register("file", Kind{FlagArg: "path", Open: func(s Spec) (Sink, error) {
		var opts struct {
			Path string `yaml:"path"`
		}
		if err := s.DecodeOptions(&opts); err != nil {
			return nil, err
		}
		f, err := OpenFile(opts.Path)
		if err != nil {
			return nil, err // not a typed nil *File in a non-nil Sink
		}
		return f, nil
	}})
}

var _ Sink = (*File)(nil)

// File appends events as JSON lines to a file. The file is never truncated:
// a restarted proxy goes on where the last one stopped.
type File struct {
	path string

	mu  sync.Mutex
	f   *os.File // nil once closed
	w   *bufio.Writer
	buf []byte // one encoded line, reused
	// torn means the file may end inside a line (a crash, or a failed
	// write): the next Write starts with a newline, so that the cut line
	// stays the only broken one. At worst that leaves an empty line.
	torn bool
}

// OpenFile opens path for appending, creating the file (mode 0640) but not
// its directory: a missing directory is a configuration mistake to report,
// not to paper over.
func OpenFile(path string) (*File, error) {
	if path == "" {
		return nil, errors.New("opening audit file: no path given (want file:/path/to/audit.jsonl)")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening audit file: %w", err)
	}
	return &File{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10), torn: endsInsideLine(f, path)}, nil
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
// system before it returns: nil means every line is in the file (not yet
// necessarily on disk; see Sync). On error part of the batch may have been
// written; write it again, the ids tell the copies apart.
func (s *File) Write(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing to %s: %w", s.path, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("writing to %s: %w", s.path, ErrClosed)
	}
	if s.torn {
		s.w.WriteByte('\n')
	}
	for i := range events {
		s.buf = AppendJSON(s.buf[:0], &events[i])
		s.w.Write(s.buf) // a failure sticks in s.w; Flush reports it
	}
	if cap(s.buf) > 1<<20 {
		s.buf = nil // do not keep one huge event's buffer for ever
	}
	if err := s.w.Flush(); err != nil {
		// The error would stick in s.w for good; drop what is left of the
		// batch instead, so that a later Write (the retry) can succeed.
		s.w.Reset(s.f)
		s.torn = true
		return fmt.Errorf("writing to %s: %w", s.path, err)
	}
	s.torn = false
	return nil
}

// Sync commits the file to stable storage (fsync). Write alone leaves that
// to the operating system; Sync is for policies that want more.
func (s *File) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("syncing %s: %w", s.path, ErrClosed)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", s.path, err)
	}
	return nil
}

// Close closes the file. Later Writes fail with ErrClosed; closing again
// does nothing.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.w.Flush() // a no-op while every Write flushes
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return fmt.Errorf("closing %s: %w", s.path, err)
	}
	return nil
}
