package format

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden compares each format's record for the shared events with
// testdata/<format>-<event>.golden (the record and a newline). Run
// `go test -run Golden -update` after a deliberate change and read the
// diff.
func TestGolden(t *testing.T) {
	events := map[string]event.Event{"full": eventtest.Full(), "minimal": eventtest.Minimal()}
	for _, name := range Names() {
		f, _ := Get(name)
		for evName, ev := range events {
			t.Run(name+"-"+evName, func(t *testing.T) {
				got := f.Append([]byte("prefix"), &ev)
				if !bytes.HasPrefix(got, []byte("prefix")) {
					t.Fatalf("Append did not append: %q", got)
				}
				got = append(got[len("prefix"):], '\n')
				path := filepath.Join("testdata", name+"-"+evName+".golden")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs:\n got %s\nwant %s", path, got, want)
				}
			})
		}
	}
}

func TestNames(t *testing.T) {
	want := []string{"cef", "cloudevents", "ecs", "json", "ocsf", "text"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

// edgeEvent has values that escaping gets wrong: every special character
// of every format, line breaks, bytes that are not UTF-8, long strings,
// values that are not JSON.
func edgeEvent() event.Event {
	ev := eventtest.Full()
	long := strings.Repeat("long|=\\\"\n", 20000) // 180 kB
	ev.Action = `weird.act|on=\x`
	ev.Description = "pipe | equals = backslash \\ quote \" newline \n cr \r tab \t nul \x00 esc \x1b del \x7f bad \xff\xfe end \\"
	ev.Area = "a]rea\n"
	ev.Severity = "no-such-severity"
	ev.Outcome = "maybe"
	ev.Actor = event.Actor{ID: "=", Name: "bob \"the\" | builder\n", Type: "api_token", Roles: []string{"a,b", "c=d", "\xc3"}}
	ev.Target = event.Target{Type: "report|x", ID: "7/8", Name: long}
	ev.Changes = event.Changes{
		{Field: "pretty\n", From: json.RawMessage("{\n  \"a\": [1,\n 2]\n}"), To: json.RawMessage(`"x"`)},
		{Field: "broken", To: json.RawMessage(`{"unterminated`)},
		{Field: "bad utf8", To: json.RawMessage("\"\xff\"")},
		{Field: "unknown before", To: json.RawMessage(`null`)},
	}
	ev.Source = event.Source{IP: "not an ip", Country: "G\nB", UserAgent: "ua\u2028line\u2029sep"}
	ev.HTTP = event.HTTP{Method: "PROPFIND", Host: "[::1]:8443", Path: "/a b/c=d|e", Query: "x=1&y=\\", Status: 599, DurationMS: math.NaN(), RequestID: "r\x00"}
	ev.App = "my app/1"
	ev.Warnings = []string{"w1\n", "w2 = |"}
	return ev
}

// TestFormatsValid checks that every format writes one line of valid UTF-8
// that its readers take, for events with every field, with few, and with
// odd values.
func TestFormatsValid(t *testing.T) {
	var zero event.Event
	events := map[string]event.Event{"full": eventtest.Full(), "minimal": eventtest.Minimal(), "edge": edgeEvent(), "zero": zero}
	for _, name := range Names() {
		f, _ := Get(name)
		for evName, ev := range events {
			t.Run(name+"-"+evName, func(t *testing.T) {
				rec := f.Append(nil, &ev)
				if bytes.ContainsAny(rec, "\n\r") {
					t.Fatalf("record is not one line: %q", short(rec))
				}
				if !utf8.Valid(rec) {
					t.Errorf("record is not UTF-8: %q", short(rec))
				}
				checkRecord(t, name, rec, &ev)
			})
		}
	}
}

// checkRecord checks rec as its format's readers would, and that values
// read back as they went in.
func checkRecord(t *testing.T, name string, rec []byte, ev *event.Event) {
	t.Helper()
	switch name {
	case "cef":
		r, err := parseCEF(string(rec))
		if err != nil {
			t.Fatalf("CEF does not parse: %v\n%s", err, short(rec))
		}
		wantName := ev.Description
		if wantName == "" {
			wantName = ev.Action
		}
		request := ev.HTTP.Path
		if ev.HTTP.Query != "" {
			request += "?" + ev.HTTP.Query
		}
		for k, want := range map[string]string{
			"h:vendor": "auditproxy", "h:action": ev.Action, "h:name": wantName,
			"externalId": ev.ID, "suser": ev.Actor.Name, "suid": ev.Actor.ID, "request": request,
			"requestMethod": ev.HTTP.Method, "requestClientApplication": ev.Source.UserAgent,
			"cs1": ev.Rule, "cs2": ev.Area, "cs4": ev.HTTP.RequestID, "destinationServiceName": ev.App,
		} {
			got := r.ext[k]
			switch k {
			case "h:vendor":
				got = r.header[1]
			case "h:action":
				got = r.header[4]
			case "h:name":
				got = r.header[5]
			}
			if got != utf8Clean(want) {
				t.Errorf("%s: read back %q, want %q", k, short([]byte(got)), short([]byte(utf8Clean(want))))
			}
		}
		if len(ev.Changes) > 0 && r.ext["cs3"] != string(appendChanges(nil, ev.Changes)) {
			t.Errorf("cs3 (changes) reads back as %s", short([]byte(r.ext["cs3"])))
		}
		var target event.Target
		if cs5, ok := r.ext["cs5"]; ok {
			if err := json.Unmarshal([]byte(cs5), &target); err != nil {
				t.Errorf("cs5 (target): %v: %s", err, short([]byte(cs5)))
			}
		} else if ev.Target.Type == "user" {
			target = event.Target{Type: "user", ID: r.ext["duid"], Name: r.ext["duser"]}
		}
		if want := (event.Target{Type: utf8Clean(ev.Target.Type), ID: utf8Clean(ev.Target.ID), Name: utf8Clean(ev.Target.Name)}); target != want {
			t.Errorf("target reads back as %.200v, want %.200v", target, want)
		}
	case "text":
		checkText(t, rec, ev)
	default:
		var m map[string]any
		if err := json.Unmarshal(rec, &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, short(rec))
		}
		if name == "cloudevents" {
			checkCloudEvent(t, m, rec, ev)
		}
	}
}

// checkText reads the mirror line back: the part before the native event
// is escaped as a JSON string would be, but for quotes.
func checkText(t *testing.T, rec []byte, ev *event.Event) {
	t.Helper()
	native := appendNative(nil, ev)
	head, ok := bytes.CutSuffix(rec, native)
	if !ok {
		t.Fatalf("line does not end in the native event:\n%s", short(rec))
	}
	if bytes.ContainsAny(head, "\u2028\u2029") {
		t.Errorf("a line separator in %q", head)
	}
	var got string
	quoted := `"` + strings.ReplaceAll(string(head), `"`, `\"`) + `"`
	if err := json.Unmarshal([]byte(quoted), &got); err != nil {
		t.Fatalf("escapes do not read back: %v: %s", err, short(head))
	}
	app, sev, desc := ev.App, string(ev.Severity), ev.Description
	if app == "" {
		app = "auditproxy"
	}
	if sev == "" {
		sev = "info"
	}
	if desc == "" {
		desc = ev.Action
	}
	want := "[" + ev.Time.UTC().Format(textTime) + "] [" + app + "].[" + sev + "]:[" + desc + "]"
	if got != utf8Clean(want) {
		t.Errorf("head reads back as\n%q\nwant\n%q", short([]byte(got)), short([]byte(utf8Clean(want))))
	}
	var back event.Event
	if err := json.Unmarshal(native, &back); err != nil {
		t.Errorf("metadata is not the native event: %v", err)
	}
}

// checkCloudEvent checks the attributes the CloudEvents 1.0 specification
// requires or that we set, and that data is the native event.
func checkCloudEvent(t *testing.T, m map[string]any, rec []byte, ev *event.Event) {
	t.Helper()
	for _, attr := range []string{"specversion", "id", "source", "type", "time", "datacontenttype"} {
		if _, ok := m[attr].(string); !ok {
			t.Errorf("%s: %v, want a string", attr, m[attr])
		}
	}
	if m["specversion"] != "1.0" || !strings.HasPrefix(m["source"].(string), "/auditproxy") ||
		m["type"] != "com.auditproxy."+utf8Clean(ev.Action) || m["id"] != utf8Clean(ev.ID) {
		t.Errorf("attributes: %s", short(rec))
	}
	data, ok := m["data"].(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %s", short(rec))
	}
	var native map[string]any
	if err := json.Unmarshal(appendNative(nil, ev), &native); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(data, native) {
		t.Errorf("data is not the native event:\n got %.2000v\nwant %.2000v", data, native)
	}
}

// short cuts what a failure prints: the edge event has long strings.
func short(b []byte) string {
	if len(b) > 2000 {
		return string(b[:1000]) + " ... " + string(b[len(b)-1000:])
	}
	return string(b)
}

// FuzzJSONFormats checks that the JSON formats always write valid JSON
// on one line.
func FuzzJSONFormats(f *testing.F) {
	f.Add("user.created", "desc", "alice", "field", `{"a": 1}`, 1.5, "app")
	f.Add("\xff", "\n\r\t\"\\", "\u2028", "\x00", "{\n}", math.NaN(), "a/b c")
	f.Add("", "", "", "", "", 0.0, "")
	f.Add("a", "b", "c", "d", `"unterminated`, math.Inf(1), "\xc3")
	f.Fuzz(func(t *testing.T, action, desc, name, field, value string, duration float64, app string) {
		ev := eventtest.Full()
		ev.Action, ev.Description, ev.Actor.Name, ev.App = action, desc, name, app
		ev.Target.Type, ev.Source.IP, ev.HTTP.Host = name, desc, app
		ev.Changes = event.Changes{{Field: field, From: json.RawMessage(value), To: json.RawMessage(value)}}
		ev.HTTP.DurationMS = duration
		for _, name := range Names() {
			f, _ := Get(name)
			if !strings.Contains(f.ContentType(), "json") {
				continue
			}
			rec := f.Append(nil, &ev)
			if !json.Valid(rec) {
				t.Fatalf("%s: not JSON: %q", name, rec)
			}
			if bytes.ContainsAny(rec, "\n\r") {
				t.Fatalf("%s: not one line: %q", name, rec)
			}
		}
	})
}

// FuzzText checks that the mirror line is one line that reads back as the
// app, severity and description that went in, whatever they hold.
func FuzzText(f *testing.F) {
	f.Add("alice created bob", "billing", "notice")
	f.Add("line\nbreak\r\n \\n \"q\" ]{", "", "")
	f.Add("\xff\x00\x1b[31m\u2028", "a].[b", "x]:[y")
	f.Fuzz(func(t *testing.T, desc, app, sev string) {
		ev := eventtest.Minimal()
		ev.Description, ev.App, ev.Severity = desc, app, event.Severity(sev)
		rec := textFormat{}.Append(nil, &ev)
		if bytes.ContainsAny(rec, "\n\r") || !utf8.Valid(rec) {
			t.Fatalf("not one line of UTF-8: %q", rec)
		}
		checkText(t, rec, &ev)
	})
}

func BenchmarkFormats(b *testing.B) {
	ev := eventtest.Full()
	for _, name := range Names() {
		f, _ := Get(name)
		b.Run(name, func(b *testing.B) {
			buf := f.Append(nil, &ev)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = f.Append(buf[:0], &ev)
			}
		})
	}
}
