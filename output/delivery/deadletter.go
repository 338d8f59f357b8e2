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
	}
	o, _ := json.Marshal(outputName)
	var buf []byte
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
	if _, err := d.f.Write(buf); err != nil {
		return fmt.Errorf("writing dead-letter file: %w", err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("writing dead-letter file: fsync: %w", err)
	}
	return nil
}

func (d *deadLetter) close() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
