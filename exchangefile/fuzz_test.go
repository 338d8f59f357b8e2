package exchangefile

import (
	"os"
	"strings"
	"testing"
)

// The readers take files from anywhere: whatever the input, they return
// exchanges that hold together or an error naming the file, never panic.

func FuzzReadText(f *testing.F) {
	for _, seed := range []string{
		"POST /users HTTP/1.1\nHost: a\nContent-Type: application/json\n\n{\"email\":\"b\"}\n\nHTTP/1.1 201 Created\n\n{\"id\":7}\n",
		"GET /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"POST /u HTTP/1.1\nTransfer-Encoding: chunked\n\n3;x\nabc\n0\nT: 1\n\nHTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n1\na\n0\n\n",
		"### one\nGET / HTTP/1.1\n\nupstream-error: timeout\n###\nHEAD / HTTP/1.0\n\nHTTP/1.1 304 x\nContent-Length: 5\n",
		"GET http://a:1/%41?b HTTP/2\nHTTP/1.1 2x1\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ReadEntries("f.txt", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.txt") {
				t.Errorf("error without the file's name: %v", err)
			}
			return
		}
		for _, e := range entries {
			checkExchange(t, e.Exchange)
		}
	})
}

func FuzzReadHAR(f *testing.F) {
	data, err := os.ReadFile("testdata/devtools.har")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-01-02T03:04:05Z","time":1.5,"request":{"method":"POST","url":"http://a/b?c","headers":[{"name":":path","value":"/b"}],"postData":{"params":[{"name":"x","value":"y"}]}},"response":{"status":0}}]}}`))
	f.Add([]byte(`{"log":{"entries":[{"request":{"method":"GET","url":"https://a"},"response":{"status":200,"content":{"text":"eyJpZCI6N30=","encoding":"base64"}}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		xs, err := ReadHAR("f.har", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.har") {
				t.Errorf("error without the file's name: %v", err)
			}
			return
		}
		for _, x := range xs {
			checkExchange(t, x)
		}
	})
}
