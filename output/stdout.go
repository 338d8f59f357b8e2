package output

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

func init() {
	Register("stdout", Kind{Local: true, Open: func(s Spec) (Sink, error) {
		out, err := OpenStdout(os.Stdout, s)
		if err != nil {
			return nil, err // not a typed nil in a non-nil Sink
		}
		return out, nil
	}})
}

// OpenStdout builds the stdout output of spec s writing to w: os.Stdout in
// production, the command's own stdout in tests.
func OpenStdout(w io.Writer, s Spec) (*Stdout, error) {
	var none struct{}
	if err := s.DecodeOptions(&none); err != nil {
		return nil, err
	}
	f, err := format.Get(s.Format)
	if err != nil {
		return nil, err
	}
	out := NewStdout(w)
	out.format = f
	return out, nil
}

var _ Sink = (*Stdout)(nil)

// Stdout writes events as JSON lines to a stream: os.Stdout when opened as
// "stdout", any writer in tests.
type Stdout struct {
	mu     sync.Mutex // one Write at a time, so lines never interleave
	w      io.Writer
	buf    []byte
	format format.Format // nil: native JSON
	closed bool
}

// NewStdout returns a sink writing to w. Close does not close w.
func NewStdout(w io.Writer) *Stdout {
	return &Stdout{w: w}
}

// chunkSize is how many bytes of lines Stdout collects before writing: few
// syscalls, bounded memory.
const chunkSize = 64 << 10

// Write writes the events, one line each, in order.
func (s *Stdout) Write(ctx context.Context, events []event.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing to stdout: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("writing to stdout: %w", ErrClosed)
	}
	s.buf = s.buf[:0]
	for i := range events {
		if s.format != nil {
			s.buf = append(s.format.Append(s.buf, &events[i]), '\n')
		} else {
			s.buf = AppendJSON(s.buf, &events[i])
		}
		if len(s.buf) >= chunkSize || i == len(events)-1 {
			if _, err := s.w.Write(s.buf); err != nil {
				return fmt.Errorf("writing to stdout: %w", err)
			}
			s.buf = s.buf[:0]
		}
	}
	return nil
}

// Close makes later Writes fail with ErrClosed. It leaves the stream open:
// os.Stdout belongs to the process.
func (s *Stdout) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
