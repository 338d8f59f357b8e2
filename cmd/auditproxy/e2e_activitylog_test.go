package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/output"
)

// TestActivityLog: events written by a store output are readable through
// the query API on the admin listener, with a token, and reading them is
// itself recorded in the trail.
func TestActivityLog(t *testing.T) {
	up := issueUpstream(t)
	db := filepath.Join(t.TempDir(), "events.db")
	h := startProxy(t, up.URL, issueRules, func(c *config) {
		var st output.Spec
		st.Type, st.Options = "store", map[string]any{"path": db}
		c.Outputs = append(c.Outputs, st)
		c.Admin = "127.0.0.1:0"
		c.ActivityLog = &activityLogConfig{Path: db, AdminTokens: []string{"tok-admin"}, UserTokens: map[string]string{"tok-mallory": "mallory"}}
	})
	do(t, "POST", h.URL+"/login", `{"username":"mallory"}`, nil)
	do(t, "POST", h.URL+"/login", `{"username":"eve"}`, nil)
	addr := regexp.MustCompile(`"admin":"([^"]+)"`).FindStringSubmatch(h.logText())
	if addr == nil {
		t.Fatalf("admin address not logged:\n%s", h.logText())
	}
	get := func(token string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", "http://"+addr[1]+"/api/v1/events?action=user.login_failed", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	var body map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for {
		var code int
		code, body = get("tok-admin")
		if evs, _ := body["events"].([]any); code == 200 && len(evs) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if evs, _ := body["events"].([]any); len(evs) != 2 {
		t.Fatalf("admin sees %v", body)
	}
	_, mine := get("tok-mallory")
	if evs, _ := mine["events"].([]any); len(evs) != 1 || !strings.Contains(func() string { b, _ := json.Marshal(evs); return string(b) }(), "mallory") {
		t.Errorf("mallory sees %v, want only her own event", mine)
	}
	var viewed int
	for _, ev := range h.events() {
		if ev["action"] == "auditlog.viewed" {
			viewed++
		}
	}
	if viewed == 0 {
		t.Error("reading the trail was not recorded as auditlog.viewed")
	}
}
