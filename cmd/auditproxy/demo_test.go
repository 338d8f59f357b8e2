package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/internal/demoapp"
)

// TestDemoRulesCoverTheSampleApp drives every activity of the sample app
// through the proxy with the repository's rules.yaml and checks the trail:
// one event per activity, in order, with the right actor.
func TestDemoRulesCoverTheSampleApp(t *testing.T) {
	app := httptest.NewServer(demoapp.New())
	defer app.Close()
	rulesYAML, err := os.ReadFile("../../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := startProxy(t, app.URL, string(rulesYAML), nil)

	var bobCookie string
	login := func(user, pw string) string {
		resp, body := do(t, "POST", h.URL+"/login", `{"username":"`+user+`","password":"`+pw+`"}`, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("login %s: %d %s", user, resp.StatusCode, body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "sid" && user == demoapp.BobEmail {
				bobCookie = "sid=" + c.Value
			}
		}
		var out struct{ Token string }
		json.Unmarshal([]byte(body), &out)
		return out.Token
	}
	steps := []struct {
		method, path, body string
		as                 string // "alice", "bob" (bearer), "bob-cookie" or "" for no credentials
		status             int
		action             string // "" for no event
	}{
		{"POST", "/signup", `{"email":"carol@example.com","name":"Carol","password":"carol-password"}`, "", 201, "user.signed_up"},
		{"POST", "/login", `{"username":"alice@example.com","password":"nope"}`, "", 401, "user.login_failed"},
		{"GET", "/users", "", "alice", 200, ""},
		{"PUT", "/settings", `{"site_name":"Bob's"}`, "bob", 403, "access.denied"},
		{"POST", "/users", `{"email":"dave@example.com","name":"Dave","role":"user","password":"dave-password"}`, "alice", 201, "user.created"},
		{"PUT", "/users/2", `{"email":"bob@example.com","name":"Robert"}`, "alice", 200, "user.updated"},
		{"PATCH", "/users/2", `{"role":"admin"}`, "alice", 200, "user.updated"},
		{"DELETE", "/users/3", "", "alice", 204, "user.deleted"},
		{"POST", "/projects", `{"name":"Audit","description":"x"}`, "alice", 201, "project.created"},
		{"POST", "/projects", `{"name":"Bob's","description":"y"}`, "bob-cookie", 201, "project.created"},
		{"PUT", "/projects/1", `{"name":"Relaunch"}`, "alice", 200, "project.updated"},
		{"DELETE", "/projects/1", "", "alice", 204, "project.deleted"},
		{"PUT", "/settings", `{"site_name":"Acme","smtp_password":"hunter22"}`, "alice", 200, "settings.updated"},
		{"POST", "/logout", "", "alice", 204, "user.logged_out"},
	}
	alice := login(demoapp.AliceEmail, demoapp.AlicePassword)
	bob := login(demoapp.BobEmail, demoapp.BobPassword)
	wantActions := []string{"user.logged_in", "user.logged_in"}
	for _, s := range steps {
		hdr := map[string]string{}
		switch s.as {
		case "alice":
			hdr["Authorization"] = "Bearer " + alice
		case "bob":
			hdr["Authorization"] = "Bearer " + bob
		case "bob-cookie":
			hdr["Cookie"] = bobCookie
		}
		resp, body := do(t, s.method, h.URL+s.path, s.body, hdr)
		if resp.StatusCode != s.status {
			t.Fatalf("%s %s as %q: got %d %s, want %d", s.method, s.path, s.as, resp.StatusCode, body, s.status)
		}
		if s.action != "" {
			wantActions = append(wantActions, s.action)
		}
	}
	evs := h.events()
	var got []string
	for _, ev := range evs {
		got = append(got, ev["action"].(string))
	}
	if strings.Join(got, " ") != strings.Join(wantActions, " ") {
		t.Fatalf("actions\n got: %v\nwant: %v", got, wantActions)
	}
	for _, ev := range evs {
		actor := ev["actor"].(map[string]any)
		switch ev["action"] {
		case "user.login_failed":
			if actor["name"] != demoapp.AliceEmail {
				t.Errorf("login_failed actor = %v", actor)
			}
		case "user.created", "user.updated", "project.deleted", "settings.updated":
			if actor["id"] != "1" || actor["name"] == nil {
				t.Errorf("%s actor = %v, want alice (id 1)", ev["action"], actor)
			}
		case "project.created":
			if tg := ev["target"].(map[string]any); tg["name"] == "Bob's" && (actor["id"] != "2" || actor["name"] != "Bob") {
				t.Errorf("cookie-only request: actor = %v, want bob learned from his login", actor)
			}
		}
		if ev["action"] == "settings.updated" {
			ch, _ := json.Marshal(ev["changes"])
			if !strings.Contains(string(ch), `"smtp_password":{"to":"[FILTERED]"}`) || strings.Contains(string(ch), "hunter22") {
				t.Errorf("settings changes = %s, want smtp_password filtered", ch)
			}
		}
	}
}
