package format

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

func TestECSCategory(t *testing.T) {
	for _, tt := range []struct {
		action, area, method string
		status               int
		category             string
		types                []string
	}{
		{"user.login", "", "POST", 200, "authentication", []string{"start"}},
		{"user.login_failed", "", "POST", 401, "authentication", []string{"start"}},
		{"account.signed_in", "", "POST", 200, "authentication", []string{"start"}},
		{"user.logout", "", "POST", 200, "authentication", []string{"end"}},
		{"session.created", "", "POST", 201, "authentication", []string{"start"}},
		{"session.revoked", "", "DELETE", 204, "authentication", []string{"end"}},
		{"session.refreshed", "", "POST", 200, "authentication", []string{"start"}},
		{"user.created", "users", "POST", 201, "iam", []string{"creation", "user"}},
		{"user.password_reset_requested", "", "POST", 200, "iam", []string{"change", "user"}},
		{"member.removed", "", "POST", 200, "iam", []string{"deletion", "user"}},
		{"user.viewed", "", "GET", 200, "iam", []string{"info", "user"}},
		{"team.renamed", "", "PATCH", 200, "iam", []string{"change", "group"}},
		{"role.granted", "", "POST", 200, "iam", []string{"change"}},
		{"api_key.deleted", "", "DELETE", 204, "iam", []string{"deletion"}},
		{"invoice.voided", "users", "PUT", 200, "iam", []string{"change", "user"}}, // by area
		{"settings.updated", "", "PUT", 200, "configuration", []string{"change"}},
		{"webhook.created", "", "POST", 201, "configuration", []string{"creation"}},
		{"export", "settings", "GET", 200, "configuration", []string{"access"}},
		{"report.exported", "reports", "GET", 200, "web", []string{"access"}},
		{"report.exported", "reports", "GET", 502, "web", []string{"error"}},
		{"", "", "", 0, "web", []string{"access"}},
	} {
		ev := event.Event{Action: tt.action, Area: tt.area, HTTP: event.HTTP{Method: tt.method, Status: tt.status}}
		var got struct {
			Event struct {
				Category []string `json:"category"`
				Type     []string `json:"type"`
			} `json:"event"`
		}
		if err := json.Unmarshal(ecsFormat{}.Append(nil, &ev), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Event.Category, []string{tt.category}) || !reflect.DeepEqual(got.Event.Type, tt.types) {
			t.Errorf("%s (area %q, %s %d): category %v type %v, want [%s] %v",
				tt.action, tt.area, tt.method, tt.status, got.Event.Category, got.Event.Type, tt.category, tt.types)
		}
	}
}

// A target that is no user goes to auditproxy.target, a user to
// user.target; a host with a port is split.
func TestECSTargetAndURL(t *testing.T) {
	ev := eventtest.Minimal()
	ev.Target = event.Target{Type: "report", ID: "7"}
	ev.HTTP.Host = "[2001:db8::2]:8443"
	var got map[string]any
	if err := json.Unmarshal(ecsFormat{}.Append(nil, &ev), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"target": map[string]any{"type": "report", "id": "7"}}
	if !reflect.DeepEqual(got["auditproxy"], want) || got["user"] != nil {
		t.Errorf("auditproxy %v, user %v; want %v and no user", got["auditproxy"], got["user"], want)
	}
	if url := got["url"].(map[string]any); url["domain"] != "2001:db8::2" || url["port"] != 8443.0 {
		t.Errorf("url %v", url)
	}
}

func TestOCSFMapping(t *testing.T) {
	for _, tt := range []struct {
		method               string
		severity             event.Severity
		outcome              event.Outcome
		activity, sevID, sts float64
	}{
		{"POST", "", event.OutcomeSuccess, 1, 1, 1},
		{"GET", event.SeverityDebug, event.OutcomeFailure, 2, 1, 2},
		{"HEAD", event.SeverityNotice, event.OutcomeUnknown, 2, 2, 0},
		{"PUT", event.SeverityWarning, "", 3, 3, 0},
		{"PATCH", event.SeverityError, event.OutcomeSuccess, 3, 4, 1},
		{"DELETE", event.SeverityCritical, event.OutcomeSuccess, 4, 5, 1},
		{"OPTIONS", "odd", event.OutcomeSuccess, 99, 1, 1},
	} {
		ev := eventtest.Minimal()
		ev.HTTP.Method, ev.Severity, ev.Outcome = tt.method, tt.severity, tt.outcome
		var got map[string]any
		if err := json.Unmarshal(ocsfFormat{}.Append(nil, &ev), &got); err != nil {
			t.Fatal(err)
		}
		if got["activity_id"] != tt.activity || got["type_uid"] != 600300+tt.activity || got["class_uid"] != 6003.0 ||
			got["category_uid"] != 6.0 || got["severity_id"] != tt.sevID || got["status_id"] != tt.sts {
			t.Errorf("%s %q %q: activity %v type %v severity %v status %v", tt.method, tt.severity, tt.outcome,
				got["activity_id"], got["type_uid"], got["severity_id"], got["status_id"])
		}
		// The class requires these, even when they are empty.
		for _, k := range []string{"actor", "api", "metadata", "src_endpoint", "time"} {
			if _, ok := got[k]; !ok {
				t.Errorf("%s missing", k)
			}
		}
	}
}

func TestJSONWriterLeavesOutEmpty(t *testing.T) {
	w := newJSONWriter([]byte("x"))
	w.open("a")
	w.str("empty", "")
	w.open("b")
	w.close()
	w.close()
	w.str("k", "v")
	w.open("c")
	w.open("d")
	w.str("e", "f")
	w.close()
	w.open("g")
	w.close()
	w.close()
	w.open("h")
	w.closeKeep()
	if got, want := string(w.done()), `x{"k":"v","c":{"d":{"e":"f"}},"h":{}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestAppendEscaped(t *testing.T) {
	for _, tt := range []struct{ in, json, text string }{
		{`plain ü 🚀`, `plain ü 🚀`, `plain ü 🚀`},
		{`"q" \`, `\"q\" \\`, `"q" \\`},
		{"\n\r\t\x00\x1f\x7f", `\n\r\t\u0000\u001f\u007f`, `\n\r\t\u0000\u001f\u007f`},
		{"\u2028\u2029", `\u2028\u2029`, `\u2028\u2029`},
		{"a\xffb\xe2\x82", `a\ufffdb\ufffd\ufffd`, `a\ufffdb\ufffd\ufffd`},
	} {
		if got := string(appendEscaped(nil, tt.in, true)); got != tt.json {
			t.Errorf("json %q: got %s, want %s", tt.in, got, tt.json)
		}
		if got := string(appendEscaped(nil, tt.in, false)); got != tt.text {
			t.Errorf("text %q: got %s, want %s", tt.in, got, tt.text)
		}
		var back string
		if err := json.Unmarshal(appendJSONString(nil, tt.in), &back); err != nil || back != utf8Clean(tt.in) {
			t.Errorf("%q reads back as %q, %v", tt.in, back, err)
		}
	}
}
