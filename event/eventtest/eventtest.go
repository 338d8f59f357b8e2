// Package eventtest holds events for tests of every package that encodes
// or stores them: one with every field set, one with only the required ones.
package eventtest

import (
	"encoding/json"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Full has every field set.
func Full() event.Event {
	return event.Event{
		ID:          "0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e0f",
		Time:        time.Date(2026, 11, 21, 23, 42, 15, 123456000, time.UTC),
		Action:      "user.created",
		Description: "alice created user bob@example.com",
		Area:        "users",
		Severity:    event.SeverityNotice,
		Outcome:     event.OutcomeSuccess,
		Actor:       event.Actor{ID: "42", Name: "alice", Type: "user", Roles: []string{"admin", "ops"}},
		Target:      event.Target{Type: "user", ID: "43", Name: "bob@example.com"},
		Changes: event.Changes{
			{Field: "email", To: json.RawMessage(`"bob@example.com"`)},
			{Field: "role", From: json.RawMessage(`"viewer"`), To: json.RawMessage(`"editor"`)},
			{Field: "password", To: json.RawMessage(`"[FILTERED]"`)},
			{Field: "limits", From: json.RawMessage(`{"max":1}`), To: json.RawMessage(`{"max":[2,3],"on":true,"x":null}`)},
		},
		Source:   event.Source{IP: "81.2.69.142", Country: "GB", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"},
		HTTP:     event.HTTP{Method: "POST", Host: "app.example.com", Path: "/api/users", Query: "notify=1", Status: 201, DurationMS: 12.345678, RequestID: "req-7f3a"},
		Rule:     "create-user",
		App:      "billing",
		Warnings: []string{"request body over capture limit"},
	}
}

// Minimal has only the required fields.
func Minimal() event.Event {
	return event.Event{
		ID:      "0192f8a4-6b2e-7c3d-9e4f-5a6b7c8d9e10",
		Time:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Action:  "user.login_failed",
		Outcome: event.OutcomeFailure,
		Source:  event.Source{IP: "2001:db8::1"},
		HTTP:    event.HTTP{Method: "POST", Path: "/login", Status: 401},
		Rule:    "login",
	}
}
