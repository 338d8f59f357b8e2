package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

// FuzzParse: no rules file, however broken, may panic the loader; a file
// that loads must build events from an arbitrary exchange without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte("version: 1\nrules:\n  - {name: a, action: a.b, match: {path: \"/{x}/*/{y:.*}\"}, description: \"{{{a}}\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := Parse("fuzz.yaml", data)
		if err != nil {
			if _, ok := err.(Errors); !ok {
				t.Fatalf("error of type %T, want Errors", err)
			}
			return
		}
		x := sampleExchange("POST", "/a/b/c", `{"a":1}`, `{"id":2}`)
		for _, ev := range set.Build(x) {
			if _, err := json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzExtract: arbitrary bodies, content types and encodings never panic
// extraction, and every change value is valid JSON.
func FuzzExtract(f *testing.F) {
	set, err := Parse("fuzz.yaml", []byte(`version: 1
defaults:
  actor: {id: jwt.sub, name: request.body.user.name}
rules:
  - name: any
    match: {path: "/*"}
    action: thing.changed
    target: {id: response.body.id, name: "{request.body.0} {response.body.a.b}"}
    changes: [email, user, "a.#", password]
`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`{"email":"x","user":{"name":"n","token":"t"}}`, "application/json", `{"id":1}`, "")
	f.Add("email=a&user=b&password=c", "application/x-www-form-urlencoded", "[1,2", "gzip")
	f.Add("\x1f\x8b\x08\x00", "", `"str"`, "gzip")
	f.Add(`[{"a":[1,{"secret":2}]}]`, "text/plain", `{"a":{"b":null}}`, "")
	f.Add("--XX\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nbob@example.com\r\n--XX\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n\r\n\x89PNG\r\n--XX--\r\n",
		"multipart/form-data; boundary=XX", "{}", "")
	f.Add("--XX\r\nbroken", "multipart/form-data; boundary=XX", "", "")
	f.Fuzz(func(t *testing.T, reqBody, contentType, respBody, encoding string) {
		x := sampleExchange("PUT", "/things/1", reqBody, respBody)
		x.RequestHeader.Set("Content-Type", contentType)
		x.RequestHeader.Set("Content-Encoding", encoding)
		x.RequestHeader.Set("Authorization", "Bearer "+reqBody)
		for _, ev := range set.Build(x) {
			for _, c := range ev.Changes {
				if !json.Valid(c.To) {
					t.Fatalf("change %s: invalid JSON %q", c.Field, c.To)
				}
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{actor.name} created {target.name}", "{{x}}", "{", "}", "{jwt.}", "{request.body.a.b|@reverse}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tmpl, err := parseTemplate(text)
		if err != nil {
			return
		}
		b := builder{view: &view{set: &Set{}, x: sampleExchange("GET", "/", "", "")}, ev: &event.Event{}}
		_ = b.render(tmpl)
	})
}

func sampleExchange(method, path, reqBody, respBody string) *event.Exchange {
	x, err := readExchange(method+" "+path+" HTTP/1.1\nHost: a\nContent-Type: application/json\n\n"+reqBody,
		"HTTP/1.1 200 OK\nContent-Type: application/json\n\n"+respBody)
	if err != nil {
		// Inputs readExchange cannot frame (e.g. a body with a blank line
		// split differently) still get a usable exchange.
		x = &event.Exchange{Method: method, Path: path, RequestHeader: map[string][]string{}, ResponseHeader: map[string][]string{}}
	}
	x.RequestBody = capture(reqBody)
	x.ResponseBody = capture(respBody)
	return x
}
