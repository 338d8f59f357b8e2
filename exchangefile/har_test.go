package exchangefile

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadHARDevtoolsExport(t *testing.T) {
	data, err := os.ReadFile("testdata/devtools.har")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := ReadEntries("devtools.har", data)
	if err != nil {
		t.Fatal(err)
	}
	const bearer = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsIm5hbWUiOiJhbGljZSJ9.c2lnbmF0dXJl"
	want := []struct {
		describe string
		start    string
		duration time.Duration
	}{{
		// HTTP/2: pseudo-headers dropped; content-encoding dropped, as
		// the text is already decoded.
		describe: `GET app.example /api/users?page=2&q=b%C3%B6b map[Accept:[application/json] Accept-Encoding:[gzip, deflate, br, zstd] Authorization:[` + bearer + `] User-Agent:[Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36]] "" -> 200 map[Content-Type:[application/json; charset=utf-8] Date:[Sat, 21 Nov 2026 23:42:15 GMT] Vary:[Accept-Encoding]] "{\"users\":[{\"id\":7,\"email\":\"bob@example.com\"}],\"page\":2}"`,
		start:    "2026-11-21T23:42:15.123Z",
		duration: 41270 * time.Microsecond,
	}, {
		// base64 content; Host and Transfer-Encoding out of the header.
		describe: `POST app.example /api/users map[Accept:[application/json] Authorization:[` + bearer + `] Connection:[keep-alive] Content-Length:[61] Content-Type:[application/json] Origin:[https://app.example] X-Request-Id:[0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b]] "{\"email\":\"bob@example.com\",\"role\":\"admin\",\"password\":\"s3cret\"}" -> 201 map[Content-Type:[application/json] Location:[/api/users/7]] "{\"id\":7,\"email\":\"bob@example.com\"}"`,
		start:    "2026-11-21T23:42:16.004Z",
		duration: 12500 * time.Microsecond,
	}, {
		// Firefox: a form as params, no text.
		describe: `POST app.example /login map[Content-Length:[31] Content-Type:[application/x-www-form-urlencoded] User-Agent:[Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0]] "username=alice&password=wrong+%26+bad" -> 401 map[Content-Length:[24] Content-Type:[text/html]] "<p>Wrong credentials</p>"`,
		start:    "2026-11-21T23:42:17.25Z",
		duration: 8 * time.Millisecond,
	}, {
		// Refused: status 0.
		describe: `DELETE app.example /api/users/7 map[Authorization:[` + bearer + `]] "" -> 502 unreachable`,
		start:    "2026-11-21T23:42:18.5Z",
		duration: 3100 * time.Microsecond,
	}}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d", len(entries), len(want))
	}
	for i, e := range entries {
		x := e.Exchange
		checkExchange(t, x)
		if got := describe(x); got != want[i].describe {
			t.Errorf("entry %d:\n got: %s\nwant: %s", i, got, want[i].describe)
		}
		start, _ := time.Parse(time.RFC3339Nano, want[i].start)
		if !x.Start.Equal(start) || x.Duration != want[i].duration {
			t.Errorf("entry %d: start %v, duration %v; want %v, %v", i, x.Start, x.Duration, start, want[i].duration)
		}
		if wantPos := "devtools.har: log.entries[" + string(rune('0'+i)) + "]"; e.Pos != wantPos {
			t.Errorf("entry %d: pos %q, want %q", i, e.Pos, wantPos)
		}
	}
	if id := entries[1].Exchange.RequestID; id != "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b" {
		t.Errorf("request id %q", id)
	}
}

func TestReadHARDefaults(t *testing.T) {
	// The least a HAR entry can say: no time, no headers, a postData with
	// its type only in mimeType.
	xs, err := Read("min.har", []byte(`{"log":{"entries":[{"request":{"method":"PUT","url":"http://app.example?x=1","postData":{"mimeType":"application/json","text":"{}"}},"response":{"status":204}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	x := xs[0]
	checkExchange(t, x)
	want := `PUT app.example /?x=1 map[Content-Type:[application/json]] "{}" -> 204 map[] ""`
	if got := describe(x); got != want || !x.Start.IsZero() || x.Duration != 0 {
		t.Errorf("got %s (start %v, duration %v)\nwant %s", got, x.Start, x.Duration, want)
	}
}

func TestReadHARErrors(t *testing.T) {
	entry := func(request, response string) string {
		return `{"log":{"entries":[{"request":` + request + `,"response":` + response + `}]}}`
	}
	for _, tc := range []struct{ file, want string }{
		{"{\n  \"log\": {\n    \"entries\": [,]\n  }\n}", `x.har:3:17: reading HAR: invalid character ',' looking for beginning of value`},
		{"{\"log\":{\"entries\":[\n{\"time\":\"12\"}]}}", `x.har:2:12: reading HAR: log.entries.time: want number, got string`},
		{`{"log":{"entries":{}}}`, `x.har:1:19: reading HAR: log.entries: want array, got object`},
		{`{"entries":[]}`, `x.har: reading HAR: no "log" object: not a HAR file`},
		{`{"log":{"entries":[]}}`, `x.har: no exchanges in file`},
		{`{"log":`, `x.har:1:7: reading HAR: unexpected end of JSON input`},
		{entry(`{"method":"GET","url":"/relative"}`, `{"status":200}`), `x.har: log.entries[0]: request.url: "/relative" is not an absolute URL`},
		{entry(`{"method":"GET","url":"http://a b/"}`, `{"status":200}`), `x.har: log.entries[0]: request.url: parse "http://a b/": invalid character " " in host name`},
		{entry(`{"method":"","url":"http://a/"}`, `{"status":200}`), `x.har: log.entries[0]: request.method: invalid method ""`},
		{entry(`{"method":"GET","url":"http://a/"}`, `{"status":42}`), `x.har: log.entries[0]: response.status: 42 is not an HTTP status`},
		{entry(`{"method":"GET","url":"http://a/"}`, `{"status":200,"content":{"text":"!!","encoding":"base64"}}`), `x.har: log.entries[0]: response.content.text: base64: illegal base64 data at input byte 0`},
		{`{"log":{"entries":[{"startedDateTime":"yesterday","request":{"method":"GET","url":"http://a/"},"response":{"status":200}}]}}`, `x.har: log.entries[0]: startedDateTime: parsing time "yesterday" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "yesterday" as "2006"`},
	} {
		_, err := ReadHAR("x.har", []byte(tc.file))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ReadHAR(%s):\n got: %v\nwant: %s", tc.file, err, tc.want)
		}
	}
}

func TestReadDetectsFormat(t *testing.T) {
	har := " \n" + `{"log":{"entries":[{"request":{"method":"GET","url":"http://a/"},"response":{"status":200}}]}}`
	text := "GET / HTTP/1.1\nHost: a\n\nHTTP/1.1 200 OK\n"
	for _, data := range []string{har, text} {
		xs, err := Read("f", []byte(data))
		if err != nil {
			t.Fatalf("Read(%q): %v", data, err)
		}
		if got := describe(xs[0]); got != `GET a / map[] "" -> 200 map[] ""` {
			t.Errorf("Read(%q) = %s", data, got)
		}
	}
	if _, err := Read("f", []byte("{nope")); err == nil || !strings.Contains(err.Error(), "reading HAR") {
		t.Errorf("a file starting with { is read as HAR: %v", err)
	}
}
