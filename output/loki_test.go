package output

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// lokiPush is the JSON body of POST /loki/api/v1/push.
type lokiPush struct {
	Streams []struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	} `json:"streams"`
}

// fakeLoki answers like Loki's distributor: 204 for a valid push; 400 with
// a plain-text reason for a malformed one or for entries that go back in
// time within a stream (Loki with unordered_writes off); 401 "no org id"
// when it is multi-tenant and the tenant header is missing.
func fakeLoki(t *testing.T, tenant string, got *[]lokiPush) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		if r.URL.Path != "/loki/api/v1/push" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		if tenant != "" && r.Header.Get("X-Scope-OrgID") != tenant {
			http.Error(w, "no org id", http.StatusUnauthorized)
			return
		}
		var p lokiPush
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			http.Error(w, "loghttp.PushRequest: "+err.Error(), http.StatusBadRequest)
			return
		}
		for _, s := range p.Streams {
			if len(s.Stream) == 0 {
				http.Error(w, "error parsing labels {}: at least one label pair is required per stream", http.StatusBadRequest)
				return
			}
			last := int64(0)
			for _, v := range s.Values {
				ns, err := strconv.ParseInt(v[0], 10, 64)
				if err != nil {
					http.Error(w, "timestamp "+v[0]+": "+err.Error(), http.StatusBadRequest)
					return
				}
				if ns < last {
					http.Error(w, fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry out of order' for stream: %v,\ntotal ignored: 1 out of %d", time.Unix(0, ns), s.Stream, len(s.Values)), http.StatusBadRequest)
					return
				}
				last = ns
			}
		}
		*got = append(*got, p)
		w.WriteHeader(http.StatusNoContent)
	}
}

func TestLokiPush(t *testing.T) {
	var pushes []lokiPush
	fake := newFakeCollector(t, fakeLoki(t, "team-a", &pushes))
	s := openSink(t, "loki", map[string]any{"url": fake.URL + "/", "tenant_id": "team-a", "labels": map[string]any{"env": "prod"}})

	// Two apps, two severities, times going backwards: three streams, each
	// in time order.
	evs := batch("l", 6)
	base := evs[0].Time
	for i := range evs {
		evs[i].Time = base.Add(time.Duration(10-i) * time.Second)
	}
	evs[1].App, evs[3].App = "shop", "shop"
	evs[4].App, evs[4].Severity = "", ""
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(pushes) != 1 {
		t.Fatalf("%d pushes, want 1", len(pushes))
	}
	got := map[string][]string{}
	for _, st := range pushes[0].Streams {
		var labels []string
		for k, v := range st.Stream {
			labels = append(labels, k+"="+v)
		}
		sort.Strings(labels)
		key := strings.Join(labels, ",")
		for _, v := range st.Values {
			var ev event.Event
			if err := json.Unmarshal([]byte(v[1]), &ev); err != nil {
				t.Fatalf("line %q: %v", v[1], err)
			}
			if ns, _ := strconv.ParseInt(v[0], 10, 64); ns != ev.Time.UnixNano() {
				t.Errorf("entry %s: timestamp %s, want %d", ev.ID, v[0], ev.Time.UnixNano())
			}
			got[key] = append(got[key], ev.ID)
		}
	}
	want := map[string][]string{
		"app=billing,env=prod,job=auditproxy,severity=notice": {"l-5", "l-2", "l-0"},
		"app=shop,env=prod,job=auditproxy,severity=notice":    {"l-3", "l-1"},
		"env=prod,job=auditproxy,severity=info":               {"l-4"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("streams:\n%v\nwant\n%v", got, want)
	}
	if reqs := fake.requests(); reqs[0].path != "/loki/api/v1/push" {
		t.Errorf("pushed to %s", reqs[0].path)
	}
}

func TestLokiJobLabelCanBeSet(t *testing.T) {
	var pushes []lokiPush
	fake := newFakeCollector(t, fakeLoki(t, "", &pushes))
	s := openSink(t, "loki", map[string]any{"url": fake.URL + "/loki/api/v1/push", "labels": map[string]any{"job": "audit"}})
	if err := s.Write(context.Background(), batch("j", 2)); err != nil {
		t.Fatal(err)
	}
	if got := pushes[0].Streams[0].Stream["job"]; got != "audit" || len(pushes[0].Streams) != 1 || len(pushes[0].Streams[0].Values) != 2 {
		t.Errorf("job = %q, streams %+v", got, pushes[0].Streams)
	}
}

func TestLokiErrors(t *testing.T) {
	outOfOrder := "entry with timestamp 2026-11-21 23:42:15.123456 +0000 UTC ignored, reason: 'entry out of order' for stream: {app=\"billing\"},\ntotal ignored: 1 out of 3"
	tooOld := "entry for stream '{app=\"billing\"}' has timestamp too old: 2026-01-02T03:04:05Z, oldest acceptable timestamp is: 2026-11-14T23:42:15Z"
	for _, tt := range []struct {
		name      string
		reply     func(http.ResponseWriter, *http.Request, []byte)
		permanent bool
		after     time.Duration
		wantErr   string
	}{
		{"out of order", replyWith(400, outOfOrder+"\n"), true, 0, "400 Bad Request: entry with timestamp 2026-11-21 23:42:15.123456 +0000 UTC ignored, reason: 'entry out of order'"},
		{"too far behind", replyWith(400, tooOld), true, 0, "has timestamp too old"},
		{"no tenant", replyWith(401, "no org id\n"), true, 0, "401 Unauthorized: no org id"},
		{"rate limited", replyWith(429, "Ingestion rate limit exceeded for user team-a (limit: 4194304 bytes/sec) while attempting to ingest '500' lines totaling '425000' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased", "Retry-After", "10"), false, 10 * time.Second, "429 Too Many Requests: Ingestion rate limit exceeded"},
		{"ingester down", replyWith(500, "rpc error: code = Unavailable desc = connection refused"), false, 0, "500 Internal Server Error: rpc error"},
		{"overloaded", replyWith(503, "too many outstanding requests"), false, 0, "503 Service Unavailable"},
	} {
		fake := newFakeCollector(t, tt.reply)
		s := openSink(t, "loki", map[string]any{"url": fake.URL})
		err := s.Write(context.Background(), batch("e", 3))
		if err == nil || IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v (permanent %v), want %q (permanent %v)", tt.name, err, IsPermanent(err), tt.wantErr, tt.permanent)
		}
		if after, _ := RetryAfterOf(err); after != tt.after {
			t.Errorf("%s: retry after %v, want %v", tt.name, after, tt.after)
		}
	}
}

func TestLokiOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		labels  map[string]any
		wantErr string
	}{
		{map[string]any{"my-env": "x"}, `labels: "my-env" is not a Loki label name`},
		{map[string]any{"__name__": "x"}, `labels: "__name__" is not a Loki label name`},
		{map[string]any{"app": "x"}, "labels: app comes from each event"},
		{map[string]any{"severity": "x"}, "labels: severity comes from each event"},
		{map[string]any{"env": ""}, "labels: env is empty"},
	} {
		_, err := OpenSpec(Spec{Name: "loki", Type: "loki", Options: map[string]any{"url": "http://loki:3100", "labels": tt.labels}})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("labels %v: error %v, want %q", tt.labels, err, tt.wantErr)
		}
	}
}

func BenchmarkLokiSink(b *testing.B) {
	benchSink(b, "loki", map[string]any{"labels": map[string]any{"env": "prod"}}, replyWith(http.StatusNoContent, ""))
}
