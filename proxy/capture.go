package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/auditproxy/auditproxy/event"
)

// minCapture is the first allocation of a capture whose length is not
// known: most audited bodies are small JSON.
const minCapture = 512

// capture keeps the first limit bytes written to it and counts them all.
// Its buffer grows with the body, never past limit, so a 200-byte body
// costs about 512 bytes however large the limit. The zero value (limit 0)
// only counts.
type capture struct {
	limit     int64
	expected  int64 // the declared length of the body; 0 if unknown
	data      []byte
	size      int64
	truncated bool // more than limit bytes were written
}

func (c *capture) write(p []byte) {
	c.size += int64(len(p))
	if room := c.limit - int64(len(c.data)); int64(len(p)) > room {
		p = p[:room]
		c.truncated = true
	}
	if len(p) == 0 {
		return
	}
	if cap(c.data)-len(c.data) < len(p) {
		c.grow(len(p))
	}
	c.data = append(c.data, p...)
}

// grow makes room for n more bytes (known to fit under limit), doubling
// but never allocating past limit.
func (c *capture) grow(n int) {
	size := max(2*cap(c.data), len(c.data)+n, minCapture)
	if c.data == nil && c.expected > 0 {
		size = max(int(min(c.expected, c.limit)), n) // the whole body in one allocation
	}
	size = int(min(int64(size), c.limit))
	data := make([]byte, len(c.data), size)
	copy(data, c.data)
	c.data = data
}

// expect notes the body's declared length (negative if unknown). The
// buffer is still only allocated by the first write: a HEAD response or a
// client that never sends its body costs nothing.
func (c *capture) expect(n int64) {
	c.expected = max(n, 0)
}

// result is the capture as the Exchange carries it; captured says whether
// the body was asked for (if not, only its size is given).
func (c *capture) result(captured bool) event.Body {
	if !captured {
		return event.Body{Size: c.size}
	}
	return event.Body{Captured: true, Data: c.data, Truncated: c.truncated, Size: c.size}
}

// teeBody is a request body that keeps a capture of what is read from it.
// The Transport may still be reading it (in its own goroutine) after the
// response is done, so the capture is guarded and sealed before it is
// handed over; bytes read after that are not counted.
type teeBody struct {
	io.ReadCloser
	mu     sync.Mutex
	buf    capture
	sealed bool
}

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.mu.Lock()
		if !t.sealed {
			t.buf.write(p[:n])
		}
		t.mu.Unlock()
	}
	return n, err
}

// seal stops the capture and returns it.
func (t *teeBody) seal() *capture {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sealed = true
	return &t.buf
}

// captureWriter records the status, header and body the client is sent,
// in the manner of Traefik's capture middleware: Flush, Hijack and
// ReadFrom keep working through it, and Unwrap serves
// http.ResponseController. It never fails a write the client accepted.
type captureWriter struct {
	http.ResponseWriter
	status int
	header http.Header // as it was when the status was written; nil unless kept
	// keepHeader copies the header for the Exchange; a redirect's is
	// copied anyway (see Proxy.normalizingRedirect).
	keepHeader bool
	body       capture // limit 0 when the body is not wanted: sizes only

	ctx        context.Context // the client's request: done when the client has gone
	incomplete bool            // the upstream's body broke off: see event.Exchange.ResponseIncomplete

	// contentLength > 0 is put back as the Content-Length header goproxy
	// removed after a commit swapped the body; 0: nothing to put back.
	contentLength int64
}

var (
	_ http.Flusher  = (*captureWriter)(nil)
	_ http.Hijacker = (*captureWriter)(nil)
	_ io.ReaderFrom = (*captureWriter)(nil)
)

func (w *captureWriter) WriteHeader(code int) {
	// 1xx other than 101 are interim: the final status comes later.
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
		h := w.ResponseWriter.Header()
		if w.contentLength > 0 && h.Get("Content-Length") == "" && h.Get("Transfer-Encoding") == "" {
			h.Set("Content-Length", strconv.FormatInt(w.contentLength, 10))
		}
		if w.keepHeader || isRedirect(code) {
			w.header = h.Clone()
		}
		if cl := h.Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
				w.body.expect(n)
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.body.write(p[:n])
	return n, err
}

// ReadFrom copies with a pooled buffer, as net/http's own writer does;
// without it io.Copy would allocate 32 KiB per response. goproxy copies
// bodies of declared length through it (streamBody handles the others),
// and ignores the error: a read error while the client is still there
// means the upstream broke off mid-body. net/http then closes the client's
// connection, since less than the Content-Length was written.
func (w *captureWriter) ReadFrom(src io.Reader) (int64, error) {
	n, readErr, writeErr := copyBuffer(writeOnly{w}, src)
	if writeErr != nil {
		return n, writeErr
	}
	if readErr != nil && (w.ctx == nil || w.ctx.Err() == nil) {
		w.incomplete = true
	}
	return n, readErr
}

func (w *captureWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// switched records a 101 Switching Protocols written behind the writer's
// back, on the hijacked connection.
func (w *captureWriter) switched(h http.Header) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
		w.header = h.Clone()
	}
}

// writeOnly hides ReadFrom, so copying into it cannot recurse. Being one
// pointer, it becomes an io.Writer without an allocation.
type writeOnly struct{ w *captureWriter }

func (o writeOnly) Write(p []byte) (int, error) { return o.w.Write(p) }

var copyBufs = sync.Pool{New: func() any {
	b := make([]byte, 32<<10)
	return &b
}}

// copyBuffer copies src to dst until EOF with a pooled buffer, and says
// which side failed.
func copyBuffer(dst io.Writer, src io.Reader) (written int64, readErr, writeErr error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, werr := dst.Write(buf[:n])
			written += int64(m)
			if werr != nil {
				return written, nil, werr
			}
			if m < n {
				return written, nil, io.ErrShortWrite
			}
		}
		if err == io.EOF {
			return written, nil, nil
		}
		if err != nil {
			return written, err, nil
		}
	}
}
