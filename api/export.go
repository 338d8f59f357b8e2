package api

import (
	"bufio"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Streaming: events go through a buffer to the client, which is flushed
// every flushEvery events or flushInterval, whichever comes first, so a
// slow query still shows progress and memory holds one buffer, never the
// export. Each flush moves the write deadline writeGrace ahead: the admin
// listener's WriteTimeout is meant for short answers, not for a year of
// events.
const (
	flushEvery    = 1000
	flushInterval = time.Second
	writeGrace    = time.Minute
	exportBuffer  = 32 << 10
)

// exporter writes one export format.
type exporter interface {
	begin(w *bufio.Writer) error
	event(w *bufio.Writer, ev *event.Event) error
	// flush moves what the exporter buffers itself into w.
	flush(w *bufio.Writer) error
	end(w *bufio.Writer) error
}

type exportFormat struct {
	contentType string
	ext         string
	new         func(a *API) exporter
}

var exportFormats = map[string]exportFormat{
	"json":   {"application/json", "json", func(a *API) exporter { return &jsonExporter{native: a.native.Append} }},
	"ndjson": {"application/x-ndjson", "ndjson", func(a *API) exporter { return &ndjsonExporter{native: a.native.Append} }},
	"csv":    {"text/csv; charset=utf-8", "csv", func(*API) exporter { return &csvExporter{} }},
	"xml":    {"application/xml", "xml", func(*API) exporter { return &xmlExporter{} }},
}

// export answers GET /api/v1/export?format=... with every matching event,
// streamed from store.Each.
func (a *API) export(w http.ResponseWriter, r *http.Request, c caller) {
	q, err := a.parseQuery(r, c, "format")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	name := r.URL.Query().Get("format")
	if name == "" {
		name = "json"
	}
	ef, ok := exportFormats[name]
	if !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format: %q is not one of json, ndjson, csv, xml", name))
		return
	}

	hdr := w.Header()
	hdr.Set("Content-Type", ef.contentType)
	hdr.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="auditlog-%s.%s"`, a.now().UTC().Format("20060102-150405"), ef.ext))
	cw := &countingWriter{w: w}
	fw := &flushingWriter{buf: bufio.NewWriterSize(cw, exportBuffer), rc: http.NewResponseController(w), ex: ef.new(a)}
	fw.extend()

	var n int64
	err = fw.ex.begin(fw.buf)
	if err == nil {
		err = a.store.Each(r.Context(), q.filter, func(ev *event.Event) error {
			if !c.maysee(ev) { // the store applies OwnActor; this is a second lock on the same door
				return nil
			}
			if err := fw.ex.event(fw.buf, ev); err != nil {
				return err
			}
			n++
			return fw.maybeFlush()
		})
	}
	if err == nil {
		if err = fw.ex.end(fw.buf); err == nil {
			err = fw.flush()
		}
	}
	if err == nil {
		a.recordRead(r, c, ActionExported, fmt.Sprintf("%s exported %s as %s%s", c.name, plural(int(n), "event"), name, q.describe()), "")
		return
	}

	a.recordAs(r, c.actor(), ActionExported, fmt.Sprintf("%s's %s export broke off after %s%s", c.name, name, plural(int(n), "event"), q.describe()), "", r.URL.RawQuery, event.OutcomeFailure)
	if r.Context().Err() != nil {
		return // the client left
	}
	a.log.Error().Err(err).Int64("events", n).Msg("exporting the audit trail")
	if cw.n == 0 {
		// Nothing has reached the client: it can still get a proper error.
		hdr.Del("Content-Disposition")
		writeError(w, http.StatusInternalServerError, "reading the audit store failed")
		return
	}
	// The 200 and part of the file are out. Ending normally would make a
	// truncated export look complete; aborting cuts the connection (or the
	// HTTP/2 stream) without the final chunk, so the client sees an error.
	panic(http.ErrAbortHandler)
}

// countingWriter counts the bytes that reached the ResponseWriter.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// flushingWriter pushes an export to the client as it goes.
type flushingWriter struct {
	buf     *bufio.Writer
	rc      *http.ResponseController
	ex      exporter
	pending int
	last    time.Time
}

func (f *flushingWriter) maybeFlush() error {
	f.pending++
	if f.pending < flushEvery && time.Since(f.last) < flushInterval {
		return nil
	}
	return f.flush()
}

func (f *flushingWriter) flush() error {
	f.pending = 0
	f.last = time.Now()
	if err := f.ex.flush(f.buf); err != nil {
		return err
	}
	if err := f.buf.Flush(); err != nil {
		return err
	}
	f.extend()
	// ErrNotSupported (a ResponseWriter that cannot flush) only means
	// the bytes go out later; any other error is a broken connection.
	if err := f.rc.Flush(); err != nil && !isNotSupported(err) {
		return err
	}
	return nil
}

func (f *flushingWriter) extend() {
	_ = f.rc.SetWriteDeadline(time.Now().Add(writeGrace)) // not supported: no deadline to move
}

func isNotSupported(err error) bool { return errors.Is(err, http.ErrNotSupported) }

// jsonExporter writes one JSON array, an event per line.
type jsonExporter struct {
	native  func([]byte, *event.Event) []byte
	scratch []byte
	count   int
}

func (e *jsonExporter) begin(w *bufio.Writer) error {
	_, err := w.WriteString("[")
	return err
}

func (e *jsonExporter) event(w *bufio.Writer, ev *event.Event) error {
	sep := ",\n"
	if e.count == 0 {
		sep = "\n"
	}
	e.count++
	e.scratch = e.native(append(e.scratch[:0], sep...), ev)
	_, err := w.Write(e.scratch)
	return err
}

func (e *jsonExporter) flush(*bufio.Writer) error { return nil }

func (e *jsonExporter) end(w *bufio.Writer) error {
	end := "\n]\n"
	if e.count == 0 {
		end = "]\n"
	}
	_, err := w.WriteString(end)
	return err
}

// ndjsonExporter writes one native JSON event per line.
type ndjsonExporter struct {
	native  func([]byte, *event.Event) []byte
	scratch []byte
}

func (e *ndjsonExporter) begin(*bufio.Writer) error { return nil }

func (e *ndjsonExporter) event(w *bufio.Writer, ev *event.Event) error {
	e.scratch = append(e.native(e.scratch[:0], ev), '\n')
	_, err := w.Write(e.scratch)
	return err
}

func (e *ndjsonExporter) flush(*bufio.Writer) error { return nil }
func (e *ndjsonExporter) end(*bufio.Writer) error   { return nil }

// csvColumns are the columns of a CSV export: what a spreadsheet reader
// scans for. The full event is in the other formats.
var csvColumns = []string{
	"time", "id", "actor_id", "actor_name", "action", "description",
	"target_type", "target_id", "target_name", "outcome", "country", "ip",
	"user_agent", "rule",
}

type csvExporter struct {
	w   *csv.Writer
	row []string
}

func (e *csvExporter) begin(w *bufio.Writer) error {
	e.w = csv.NewWriter(w)
	e.row = make([]string, len(csvColumns))
	return e.w.Write(csvColumns)
}

func (e *csvExporter) event(_ *bufio.Writer, ev *event.Event) error {
	row := append(e.row[:0],
		ev.Time.UTC().Format(event.TimeFormat), ev.ID, ev.Actor.ID, ev.Actor.Name,
		ev.Action, ev.Description, ev.Target.Type, ev.Target.ID, ev.Target.Name,
		string(ev.Outcome), ev.Source.Country, ev.Source.IP, ev.Source.UserAgent, ev.Rule)
	for i, s := range row {
		row[i] = spreadsheetSafe(s)
	}
	return e.w.Write(row)
}

func (e *csvExporter) flush(*bufio.Writer) error {
	e.w.Flush()
	return e.w.Error()
}

func (e *csvExporter) end(w *bufio.Writer) error { return e.flush(w) }

// spreadsheetSafe neutralises a cell that a spreadsheet would run as a
// formula (CSV injection, OWASP): a leading = + - @ tab or carriage return
// gets a ' in front, which spreadsheets show as text.
func spreadsheetSafe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// xmlExporter writes <events><event>...</event>...</events>. encoding/xml
// escapes markup and replaces characters XML cannot hold with U+FFFD, so
// the document stays well-formed whatever the events contain.
type xmlExporter struct {
	enc *xml.Encoder
}

var xmlRoot = xml.StartElement{Name: xml.Name{Local: "events"}}

func (e *xmlExporter) begin(w *bufio.Writer) error {
	if _, err := w.WriteString(xml.Header); err != nil {
		return err
	}
	e.enc = xml.NewEncoder(w)
	e.enc.Indent("", "  ")
	return e.enc.EncodeToken(xmlRoot)
}

func (e *xmlExporter) event(_ *bufio.Writer, ev *event.Event) error {
	return e.enc.Encode(toXML(ev))
}

func (e *xmlExporter) flush(*bufio.Writer) error { return e.enc.Flush() }

func (e *xmlExporter) end(w *bufio.Writer) error {
	if err := e.enc.EncodeToken(xmlRoot.End()); err != nil {
		return err
	}
	if err := e.enc.Flush(); err != nil {
		return err
	}
	_, err := w.WriteString("\n")
	return err
}

// xmlEvent is the XML shape of an event: the native JSON's fields, with
// scalars of nested objects as attributes and change values as their JSON
// text.
type xmlEvent struct {
	XMLName     xml.Name    `xml:"event"`
	ID          string      `xml:"id,attr"`
	Time        string      `xml:"time,attr"`
	Action      string      `xml:"action"`
	Description string      `xml:"description,omitempty"`
	Area        string      `xml:"area,omitempty"`
	Severity    string      `xml:"severity,omitempty"`
	Outcome     string      `xml:"outcome"`
	Actor       *xmlActor   `xml:"actor"`
	Target      *xmlTarget  `xml:"target"`
	Changes     []xmlChange `xml:"changes>change"`
	Source      xmlSource   `xml:"source"`
	HTTP        xmlHTTP     `xml:"http"`
	Rule        string      `xml:"rule"`
	App         string      `xml:"app,omitempty"`
	Warnings    []string    `xml:"warnings>warning"`
}

type xmlActor struct {
	ID    string   `xml:"id,attr,omitempty"`
	Name  string   `xml:"name,attr,omitempty"`
	Type  string   `xml:"type,attr,omitempty"`
	Roles []string `xml:"role"`
}

type xmlTarget struct {
	Type string `xml:"type,attr,omitempty"`
	ID   string `xml:"id,attr,omitempty"`
	Name string `xml:"name,attr,omitempty"`
}

type xmlChange struct {
	Field string  `xml:"field,attr"`
	From  *string `xml:"from"`
	To    *string `xml:"to"`
}

type xmlSource struct {
	IP        string `xml:"ip,attr"`
	Country   string `xml:"country,attr,omitempty"`
	UserAgent string `xml:"user_agent,attr,omitempty"`
}

type xmlHTTP struct {
	Method     string `xml:"method,attr"`
	Host       string `xml:"host,attr,omitempty"`
	Path       string `xml:"path,attr"`
	Query      string `xml:"query,attr,omitempty"`
	Status     int    `xml:"status,attr"`
	DurationMS string `xml:"duration_ms,attr,omitempty"`
	RequestID  string `xml:"request_id,attr,omitempty"`
}

func toXML(ev *event.Event) *xmlEvent {
	x := &xmlEvent{
		ID:          ev.ID,
		Time:        ev.Time.UTC().Format(event.TimeFormat),
		Action:      ev.Action,
		Description: ev.Description,
		Area:        ev.Area,
		Severity:    string(ev.Severity),
		Outcome:     string(ev.Outcome),
		Source:      xmlSource{IP: ev.Source.IP, Country: ev.Source.Country, UserAgent: ev.Source.UserAgent},
		HTTP: xmlHTTP{
			Method: ev.HTTP.Method, Host: ev.HTTP.Host, Path: ev.HTTP.Path, Query: ev.HTTP.Query,
			Status: ev.HTTP.Status, RequestID: ev.HTTP.RequestID,
		},
		Rule:     ev.Rule,
		App:      ev.App,
		Warnings: ev.Warnings,
	}
	if a := ev.Actor; a.ID != "" || a.Name != "" || a.Type != "" || len(a.Roles) > 0 {
		x.Actor = &xmlActor{ID: a.ID, Name: a.Name, Type: a.Type, Roles: a.Roles}
	}
	if t := ev.Target; t != (event.Target{}) {
		x.Target = &xmlTarget{Type: t.Type, ID: t.ID, Name: t.Name}
	}
	if ev.HTTP.DurationMS != 0 {
		x.HTTP.DurationMS = strconv.FormatFloat(ev.HTTP.DurationMS, 'f', -1, 64)
	}
	for _, c := range ev.Changes {
		xc := xmlChange{Field: c.Field}
		if c.From != nil {
			s := string(c.From)
			xc.From = &s
		}
		if c.To != nil {
			s := string(c.To)
			xc.To = &s
		}
		x.Changes = append(x.Changes, xc)
	}
	return x
}
