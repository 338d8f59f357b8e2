package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

// deadLetter appends events the destination rejected for good to a JSON
// lines file, one object per event:
//
//	{"reason":"400 Bad Request: ...","output":"siem","time":"2026-11-21T23:42:16.000000Z","event":{...native event...}}
//
// It is opened on first use and only used by the delivery goroutine.
type deadLetter struct {
	path string // "" when there is nowhere to put them
	f    *os.File
	size int64 // where the file ends after the last complete write
	torn bool  // the file ends inside a line: start with a newline
}

// write appends evs with reasons[i] (or reasons[0] for all) and fsyncs.
func (d *deadLetter) write(evs []event.Event, reasons []string, outputName string, now time.Time) error {
	if d.path == "" {
		return errors.New("no dead-letter file configured")
	}
	if d.f == nil {
		if err := os.MkdirAll(filepath.Dir(d.path), 0o700); err != nil {
			return fmt.Errorf("creating dead-letter directory: %w", err)
		}
		f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("opening dead-letter file: %w", err)
		}
		d.f = f
		d.size, d.torn = endOf(d.path)
	}
	o, _ := json.Marshal(outputName)
	var buf []byte
	if d.torn {
		buf = append(buf, '\n') // a crash cut the last line: keep ours whole
	}
	for i := range evs {
		r, _ := json.Marshal(reasons[min(i, len(reasons)-1)])
		buf = append(buf, `{"reason":`...)
		buf = append(buf, r...)
		buf = append(buf, `,"output":`...)
		buf = append(buf, o...)
		buf = append(buf, `,"time":"`...)
		buf = now.UTC().AppendFormat(buf, event.TimeFormat)
		buf = append(buf, `","event":`...)
		buf = output.AppendJSON(buf, &evs[i])
		buf[len(buf)-1] = '}' // AppendJSON ends the line; the object goes on
		buf = append(buf, '\n')
	}
	// The events leave the buffer once this returns: they must be on disk.
	// A write cut short is cut back, so the next one starts on a line of
	// its own instead of gluing onto half an entry.
	if _, err := d.f.Write(buf); err != nil {
		d.f.Truncate(d.size)
		return fmt.Errorf("writing dead-letter file: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("writing dead-letter file: fsync: %w", err)
	}
	d.size += int64(len(buf))
	d.torn = false
	return nil
}

// endOf returns the size of the file at path and whether it ends inside a
// line (not empty, last byte not a newline); 0, false when unreadable.
func endOf(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return 0, false
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, fi.Size()-1); err != nil {
		return fi.Size(), false
	}
	return fi.Size(), last[0] != '\n'
}

func (d *deadLetter) close() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
