package output

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/auditproxy/auditproxy/event"
)

// fakeES implements POST /_bulk the way Elasticsearch documents it (Bulk
// API): NDJSON of action and document lines; create of an _id that exists
// fails that item with 409 version_conflict_engine_exception; the reply is
// 200 with "errors" and one item per action, in order, with status and
// error. It ignores filter_path and sends the full item shape. fail, when
// set, makes the item for an event id fail with the given status, type and
// reason instead.
type fakeES struct {
	mu   sync.Mutex
	docs map[string]map[string]json.RawMessage // index -> _id -> document
	fail func(id string) (status int, typ, reason string)
}

type esFailure struct {
	status      int
	typ, reason string
}

func newFakeES() *fakeES { return &fakeES{docs: map[string]map[string]json.RawMessage{}} }

func (f *fakeES) handle(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":"no handler found for uri [`+r.URL.Path+`]","status":400}`, http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
		esError(w, 406, "media_type_header_exception", "Content-Type header ["+ct+"] is not supported")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	type item struct {
		Index   string          `json:"_index"`
		ID      string          `json:"_id"`
		Version int             `json:"_version,omitempty"`
		Result  string          `json:"result,omitempty"`
		Status  int             `json:"status"`
		Error   json.RawMessage `json:"error,omitempty"`
	}
	var items []map[string]item
	failed := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			esError(w, 400, "x_content_parse_exception", "[1:2] Malformed action/metadata line")
			return
		}
		meta, ok := action["create"]
		if !ok || meta.Index == "" || meta.ID == "" || !sc.Scan() {
			esError(w, 400, "illegal_argument_exception", "Malformed action/metadata line, expected create with _index and _id")
			return
		}
		doc := append(json.RawMessage(nil), sc.Bytes()...)
		var obj map[string]any
		it := item{Index: meta.Index, ID: meta.ID}
		status, typ, reason := 0, "", ""
		if f.fail != nil {
			status, typ, reason = f.fail(meta.ID)
		}
		switch {
		case status != 0:
		case json.Unmarshal(doc, &obj) != nil:
			status, typ, reason = 400, "document_parsing_exception", "[1:1] failed to parse: not a JSON object"
		case f.docs[meta.Index][meta.ID] != nil:
			status, typ, reason = 409, "version_conflict_engine_exception", fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", meta.ID)
		default:
			if f.docs[meta.Index] == nil {
				f.docs[meta.Index] = map[string]json.RawMessage{}
			}
			f.docs[meta.Index][meta.ID] = doc
			it.Version, it.Result, it.Status = 1, "created", 201
		}
		if status != 0 {
			failed = true
			it.Status = status
			it.Error, _ = json.Marshal(map[string]any{"type": typ, "reason": reason, "index": meta.Index, "shard": "0", "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA"})
		}
		items = append(items, map[string]item{"create": it})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"took": 3, "errors": failed, "items": items})
}

// esError writes Elasticsearch's error reply shape.
func esError(w http.ResponseWriter, status int, typ, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	cause := map[string]any{"type": typ, "reason": reason}
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason}, "status": status})
}

func (f *fakeES) ids(index string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id := range f.docs[index] {
		ids = append(ids, id)
	}
	return ids
}

func TestElasticsearchBulk(t *testing.T) {
	es := newFakeES()
	fake := newFakeCollector(t, es.handle)
	s := openSink(t, "elasticsearch", map[string]any{"url": fake.URL, "index": "audit-%Y.%m.%d", "api_key": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="})
	evs := batch("es", 4)
	evs[3].Time = evs[3].Time.Add(time.Hour) // 00:42 the next day
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if got := len(es.ids("audit-2026.11.21")); got != 3 {
		t.Errorf("audit-2026.11.21 has %d documents, want 3", got)
	}
	if got := es.ids("audit-2026.11.22"); len(got) != 1 || got[0] != "es-3" {
		t.Errorf("audit-2026.11.22 has %v, want [es-3]", got)
	}
	var doc event.Event
	json.Unmarshal(es.docs["audit-2026.11.21"]["es-0"], &doc)
	if doc.ID != "es-0" || doc.Action != "user.created" {
		t.Errorf("document es-0 = %+v", doc)
	}
	r := fake.requests()[0]
	if r.rawQuery != bulkFilter || r.header.Get("Authorization") != "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==" {
		t.Errorf("query %q, Authorization %q", r.rawQuery, r.header.Get("Authorization"))
	}

	// The same batch again, as after a lost reply: every item is a 409,
	// which means already delivered.
	if err := s.Write(context.Background(), evs); err != nil {
		t.Errorf("resent batch: %v, want nil (409 = already there)", err)
	}
}

func TestElasticsearchItemErrors(t *testing.T) {
	es := newFakeES()
	fake := newFakeCollector(t, es.handle)
	s := openSink(t, "elasticsearch", map[string]any{"url": fake.URL})
	evs := batch("mix", 7)
	// mix-3 is there already.
	if err := s.Write(context.Background(), evs[3:4]); err != nil {
		t.Fatal(err)
	}
	fails := map[string]esFailure{
		"mix-1": {400, "document_parsing_exception", "[1:245] failed to parse field [http.status] of type [long] in document with id 'mix-1'"},
		"mix-2": {429, "es_rejected_execution_exception", "rejected execution of coordinating operation [coordinating_and_primary_bytes=0]"},
		"mix-4": {503, "unavailable_shards_exception", "[auditproxy-2026.11.21][0] primary shard is not active"},
		"mix-6": {404, "index_not_found_exception", "no such index [auditproxy-2026.11.21]"},
	}
	es.fail = func(id string) (int, string, string) {
		f := fails[id]
		return f.status, f.typ, f.reason
	}
	err := s.Write(context.Background(), evs)
	var ie *ItemErrors
	if !errors.As(err, &ie) {
		t.Fatalf("Write = %v, want *ItemErrors", err)
	}
	got := map[int]string{}
	for _, it := range ie.Items {
		kind := "retry"
		if IsPermanent(it.Err) {
			kind = "permanent"
		}
		got[it.Index] = kind
		if f := fails[evs[it.Index].ID]; !strings.Contains(it.Err.Error(), f.typ+": "+f.reason) {
			t.Errorf("item %d: %q, want %q", it.Index, it.Err, f.typ+": "+f.reason)
		}
	}
	want := map[int]string{1: "permanent", 2: "retry", 4: "retry", 6: "permanent"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("failed items %v, want %v (0, 5 created; 3 a 409)", got, want)
	}
	if n := len(es.ids("auditproxy-2026.11.21")); n != 3 {
		t.Errorf("%d documents indexed, want 3 (mix-0, mix-3, mix-5)", n)
	}
	if !strings.Contains(err.Error(), "4 events not accepted (2 permanently)") {
		t.Errorf("error %q", err)
	}
}

func TestElasticsearchRequestErrors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		reply     func(http.ResponseWriter, *http.Request, []byte)
		permanent bool
		after     time.Duration
		wantErr   string
	}{
		{"too large", replyWith(413, ""), true, 0, "413 Request Entity Too Large: a batch of"},
		{"parse", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			esError(w, 400, "x_content_parse_exception", "[1:10] Unexpected character")
		}, true, 0, "400 Bad Request: x_content_parse_exception: [1:10] Unexpected character"},
		{"auth", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			esError(w, 401, "security_exception", "unable to authenticate with provided credentials and anonymous access is not allowed for this request")
		}, true, 0, "401 Unauthorized: security_exception: unable to authenticate"},
		{"circuit breaker", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			w.Header().Set("Retry-After", "5")
			esError(w, 429, "circuit_breaking_exception", "[parent] Data too large")
		}, false, 5 * time.Second, "429 Too Many Requests: circuit_breaking_exception: [parent] Data too large"},
		{"unavailable", func(w http.ResponseWriter, _ *http.Request, _ []byte) {
			esError(w, 503, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized]")
		}, false, 0, "503 Service Unavailable: cluster_block_exception"},
		{"proxy page", replyWith(502, "<html>Bad Gateway</html>"), false, 0, "502 Bad Gateway: <html>Bad Gateway</html>"},
		{"not bulk", replyWith(200, "<html>Kibana</html>"), false, 0, "reading the _bulk reply: not a bulk response: <html>Kibana</html>"},
		{"short reply", replyWith(200, `{"took":1,"errors":true,"items":[]}`), false, 0, "reading the _bulk reply: 0 items for 3 events"},
	} {
		fake := newFakeCollector(t, tt.reply)
		var log bytes.Buffer
		es, err := OpenElasticsearch(Spec{Name: "es", Type: "elasticsearch", Options: map[string]any{"url": fake.URL}})
		if err != nil {
			t.Fatal(err)
		}
		es.SetLogger(zerolog.New(&log))
		err = es.Write(context.Background(), batch("e", 3))
		if err == nil || IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v (permanent %v), want %q (permanent %v)", tt.name, err, IsPermanent(err), tt.wantErr, tt.permanent)
		}
		if after, _ := RetryAfterOf(err); after != tt.after {
			t.Errorf("%s: retry after %v, want %v", tt.name, after, tt.after)
		}
		if tt.name == "too large" && !strings.Contains(log.String(), "lower this output's batch size") {
			t.Errorf("413 logged %q, want advice on the batch size", log.String())
		}
	}
}

func TestElasticsearchAuth(t *testing.T) {
	for _, tt := range []struct {
		opts map[string]any
		want string
	}{
		{map[string]any{"api_key": "id1:secret1"}, "ApiKey " + base64.StdEncoding.EncodeToString([]byte("id1:secret1"))},
		{map[string]any{"api_key": "ZW5jb2RlZA=="}, "ApiKey ZW5jb2RlZA=="},
		{map[string]any{"username": "elastic", "password": "changeme"}, "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:changeme"))},
	} {
		es := newFakeES()
		fake := newFakeCollector(t, es.handle)
		tt.opts["url"] = fake.URL
		if err := openSink(t, "elasticsearch", tt.opts).Write(context.Background(), batch("a", 1)); err != nil {
			t.Fatal(err)
		}
		if got := fake.requests()[0].header.Get("Authorization"); got != tt.want {
			t.Errorf("%v: Authorization %q, want %q", tt.opts, got, tt.want)
		}
	}
	_, err := OpenSpec(Spec{Name: "es", Type: "elasticsearch", Options: map[string]any{"url": "http://es:9200", "api_key": "k", "username": "u", "password": "p"}})
	if err == nil || !strings.Contains(err.Error(), "api_key: the Authorization header is already set") {
		t.Errorf("api_key with username: %v", err)
	}
}

func TestElasticsearchIndexPattern(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	for pattern, want := range map[string]string{
		"audit":               "audit",
		"audit-%Y.%m.%d":      "audit-2026.03.04",
		"audit-%Y.%m.%d.%H":   "audit-2026.03.04.04", // UTC
		"logs-audit-%Y%%":     "logs-audit-2026%",
		"auditproxy-%Y-%m-%d": "auditproxy-2026-03-04",
	} {
		if err := checkIndexPattern(pattern); err != nil {
			t.Errorf("checkIndexPattern(%q): %v", pattern, err)
		}
		if got := string(indexName(nil, pattern, at)); got != want {
			t.Errorf("indexName(%q) = %q, want %q", pattern, got, want)
		}
	}
	for pattern, wantErr := range map[string]string{
		"audit-%y":               "only %Y, %m, %d, %H and %% may follow %",
		"audit-%":                "only %Y",
		"Audit":                  "lowercase",
		"audit log":              "lowercase, without",
		"audit/x":                "lowercase, without",
		"_audit":                 "do not start with - _ or +",
		"-%Y":                    "do not start with",
		"..":                     "are not . or ..",
		strings.Repeat("a", 256): "at most 255 bytes",
	} {
		_, err := OpenSpec(Spec{Name: "es", Type: "elasticsearch", Options: map[string]any{"url": "http://es:9200", "index": pattern}})
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("index %q: error %v, want %q", pattern, err, wantErr)
		}
	}
	_, err := OpenSpec(Spec{Name: "es", Type: "elasticsearch", Format: "test-text", Options: map[string]any{"url": "http://es:9200"}})
	if err == nil || !strings.Contains(err.Error(), "format: elasticsearch indexes JSON documents, but test-text writes text") {
		t.Errorf("text format: %v", err)
	}
}

func TestElasticsearchHourlyIndexAcrossBatch(t *testing.T) {
	es := newFakeES()
	fake := newFakeCollector(t, es.handle)
	s := openSink(t, "elasticsearch", map[string]any{"url": fake.URL, "index": "a-%Y%m%d%H"})
	evs := batch("h", 3)
	evs[1].Time = evs[1].Time.Add(-time.Hour)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if len(es.ids("a-2026112123")) != 2 || len(es.ids("a-2026112122")) != 1 {
		t.Errorf("indices %v", es.docs)
	}
}

func BenchmarkElasticsearchSink(b *testing.B) {
	benchSink(b, "elasticsearch", map[string]any{"index": "audit-%Y.%m.%d"}, replyWith(http.StatusOK, `{"errors":false,"items":[]}`))
}

// FuzzElasticsearchReply feeds arbitrary _bulk replies to the reader: it
// never panics, and whatever it reports names events of the batch.
func FuzzElasticsearchReply(f *testing.F) {
	f.Add([]byte(`{"errors":false}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}}]}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"create":{"status":400,"error":"old style"}},{"create":{"status":503,"error":{"type":"x","reason":"y","caused_by":{"type":"z","reason":"w"}}}}]}`), 2)
	f.Add([]byte(`{"errors":true,"items":[{"create":{},"index":{"status":500}}]}`), 1)
	f.Add([]byte(`<html>`), 1)
	es := &Elasticsearch{httpClient: &httpClient{}}
	f.Fuzz(func(t *testing.T, body []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		err := es.itemErrors(body, n)
		var ie *ItemErrors
		if errors.As(err, &ie) {
			for _, it := range ie.Items {
				if it.Index < 0 || it.Index >= n || it.Err == nil {
					t.Fatalf("item %d (of %d): %v", it.Index, n, it.Err)
				}
			}
		}
	})
}
