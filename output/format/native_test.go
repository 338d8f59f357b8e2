package format

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
	"github.com/auditproxy/auditproxy/output/schematest"
	"github.com/rs/zerolog"
)

func fullEvent() event.Event    { return eventtest.Full() }
func minimalEvent() event.Event { return eventtest.Minimal() }

func TestAppendJSONGolden(t *testing.T) {
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{"full", fullEvent(), `{"id":"0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e0f","time":"2026-11-21T23:42:15.123456Z",` +
			`"action":"user.created","description":"alice created user bob@example.com","area":"users","severity":"notice",` +
			`"outcome":"success","actor":{"id":"42","name":"alice","type":"user","roles":["admin","ops"]},` +
			`"target":{"type":"user","id":"43","name":"bob@example.com"},` +
			`"changes":{"email":{"to":"bob@example.com"},"role":{"from":"viewer","to":"editor"},"password":{"to":"[FILTERED]"},` +
			`"limits":{"from":{"max":1},"to":{"max":[2,3],"on":true,"x":null}}},` +
			`"source":{"ip":"81.2.69.142","country":"GB","user_agent":"Mozilla/5.0 (X11; Linux x86_64)"},` +
			`"http":{"method":"POST","host":"app.example.com","path":"/api/users","query":"notify=1","status":201,"duration_ms":12.345678,"request_id":"req-7f3a"},` +
			`"rule":"create-user","app":"billing","warnings":["request body over capture limit"]}` + "\n"},
		{"minimal", minimalEvent(), `{"id":"0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e10","time":"2026-01-02T03:04:05.000000Z",` +
			`"action":"user.login_failed","outcome":"failure","actor":{},"source":{"ip":"2001:db8::1"},` +
			`"http":{"method":"POST","path":"/login","status":401},"rule":"login"}` + "\n"},
		{"time in another zone, nanoseconds cut", event.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.FixedZone("X", -3600))},
			`{"id":"","time":"2026-01-02T04:04:05.999999Z","action":"","outcome":"","actor":{},"source":{"ip":""},"http":{"method":"","path":"","status":0},"rule":""}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendJSON([]byte("prefix\n"), &tt.ev))
			if want := "prefix\n" + tt.want; got != want {
				t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestAppendJSONMatchesEncodingJSON checks the zerolog encoding against the
// struct tags of package event: for events whose times have all six
// fraction digits and whose strings need no HTML escaping, both write the
// same bytes.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, ev := range []event.Event{fullEvent(), {Time: time.Date(2026, 1, 2, 3, 4, 5, 100001000, time.UTC)}} {
		want, err := json.Marshal(&ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSON(nil, &ev); string(got) != string(want)+"\n" {
			t.Errorf("AppendJSON and encoding/json differ:\n got %s\nwant %s", got, want)
		}
	}
}

func TestAppendJSONRoundTrip(t *testing.T) {
	odd := minimalEvent()
	odd.Description = "quote \" backslash \\ newline \n tab \t nul \x00 <b>&amp; ünïcødé 🚀 \u2028"
	odd.Actor = event.Actor{Name: "a\"b"}
	odd.Target = event.Target{ID: "only the id"}
	odd.Changes = event.Changes{
		{Field: "weird \"field\"\n", From: json.RawMessage(`null`), To: json.RawMessage(`"x"`)},
		{Field: "spaced", To: json.RawMessage(`{ "a" : [ 1 , 2 ] }`)},
		{Field: "number", From: json.RawMessage(`1.5e300`), To: json.RawMessage(`-0`)},
	}
	odd.HTTP.DurationMS = 0.000001
	odd.Warnings = []string{"", "second"}

	for _, tt := range []struct {
		name string
		ev   event.Event
	}{
		{"full", fullEvent()},
		{"minimal", minimalEvent()},
		{"escapes, partial target, odd changes", odd},
	} {
		t.Run(tt.name, func(t *testing.T) {
			line := AppendJSON(nil, &tt.ev)
			if strings.Count(string(line), "\n") != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
			var got event.Event
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("decoding %s: %v", line, err)
			}
			assertSameEvent(t, got, tt.ev)
		})
	}
}

func assertSameEvent(t *testing.T, got, want event.Event) {
	t.Helper()
	if !got.Time.Equal(want.Time) {
		t.Errorf("time: got %v, want %v", got.Time, want.Time)
	}
	got.Time = want.Time
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
	}
}

func TestAppendJSONSchema(t *testing.T) {
	for _, ev := range []event.Event{fullEvent(), minimalEvent()} {
		schematest.Validate(t, AppendJSON(nil, &ev))
	}
}

// A value that is not JSON (a bug upstream) or a duration that is no number
// must not break the line: the rest of the event is worth keeping.
func TestAppendJSONBadValues(t *testing.T) {
	ev := minimalEvent()
	ev.Changes = event.Changes{
		{Field: "a", From: json.RawMessage(`{"unterminated`), To: json.RawMessage(``)},
		{Field: "b"},
	}
	ev.HTTP.DurationMS = math.NaN()
	line := AppendJSON(nil, &ev)
	want := `"changes":{"a":{"from":"{\"unterminated","to":""},"b":{}}`
	if !strings.Contains(string(line), want) || strings.Contains(string(line), "duration_ms") {
		t.Errorf("got %s\nwant %s and no duration_ms", line, want)
	}
	var got event.Event
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("decoding %s: %v", line, err)
	}
	schematest.Validate(t, line)
}

// zerolog's global level is meant for logs; turning logs off must not turn
// audit events off.
func TestAppendJSONWithZerologDisabled(t *testing.T) {
	defer zerolog.SetGlobalLevel(zerolog.GlobalLevel())
	zerolog.SetGlobalLevel(zerolog.Disabled)

	for _, ev := range []event.Event{fullEvent(), minimalEvent()} {
		line := AppendJSON(nil, &ev)
		var got event.Event
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("decoding %q: %v", line, err)
		}
		assertSameEvent(t, got, ev)
		schematest.Validate(t, line)
	}
	ev := minimalEvent()
	ev.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	line := AppendJSON(nil, &ev)
	if !strings.Contains(string(line), `"warnings":["time not representable: 10000-01-01`) {
		t.Errorf("an unwritable time: got %s, want a warning", line)
	}
}

func ExampleAppendJSON() {
	ev := event.Event{
		ID:      "0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e0f",
		Time:    time.Date(2026, 11, 21, 23, 42, 15, 123456000, time.UTC),
		Action:  "user.updated",
		Outcome: event.OutcomeSuccess,
		Actor:   event.Actor{Name: "alice"},
		Changes: event.Changes{{Field: "email", From: json.RawMessage(`"a@example.com"`), To: json.RawMessage(`"b@example.com"`)}},
		Source:  event.Source{IP: "81.2.69.142"},
		HTTP:    event.HTTP{Method: "PATCH", Path: "/users/43", Status: 200},
		Rule:    "update-user",
	}
	fmt.Printf("%s", AppendJSON(nil, &ev))
	// Output:
	// {"id":"0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e0f","time":"2026-11-21T23:42:15.123456Z","action":"user.updated","outcome":"success","actor":{"name":"alice"},"changes":{"email":{"from":"a@example.com","to":"b@example.com"}},"source":{"ip":"81.2.69.142"},"http":{"method":"PATCH","path":"/users/43","status":200},"rule":"update-user"}
}

// TestAppendJSONOneLine: a change value from a pretty-printed body, or with
// bytes that are not UTF-8, never breaks the one-event-per-line promise.
func TestAppendJSONOneLine(t *testing.T) {
	ev := eventtest.Minimal()
	ev.Changes = event.Changes{
		{Field: "profile", To: json.RawMessage("{\n  \"a\": 1,\r\n  \"b\": [1,\n 2]\n}")},
		{Field: "name", To: json.RawMessage("\"bad \xff byte\"")},
	}
	line := AppendJSON(nil, &ev)
	if strings.Count(string(line), "\n") != 1 || !strings.HasSuffix(string(line), "\n") {
		t.Fatalf("not one line: %q", line)
	}
	var back event.Event
	if err := json.Unmarshal(line, &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, line)
	}
	if c, _ := back.Changes.Get("profile"); string(c.To) != `{"a":1,"b":[1,2]}` {
		t.Errorf("profile = %s", c.To)
	}
	if c, _ := back.Changes.Get("name"); string(c.To) != "\"bad \uFFFD byte\"" {
		t.Errorf("name = %s", c.To)
	}
}
