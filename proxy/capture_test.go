package proxy

import (
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

func TestCapture(t *testing.T) {
	const limit = 10
	body := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	for _, tc := range []struct {
		name   string
		limit  int64
		writes []int // lengths of consecutive writes taken from body
		want   event.Body
	}{
		{"nothing", limit, nil, event.Body{Captured: true}},
		{"zero-length write", limit, []int{0}, event.Body{Captured: true}},
		{"one byte", limit, []int{1}, event.Body{Captured: true, Data: body[:1], Size: 1}},
		{"limit-1", limit, []int{limit - 1}, event.Body{Captured: true, Data: body[:limit-1], Size: limit - 1}},
		{"exactly limit", limit, []int{limit}, event.Body{Captured: true, Data: body[:limit], Size: limit}},
		{"limit+1", limit, []int{limit + 1}, event.Body{Captured: true, Data: body[:limit], Truncated: true, Size: limit + 1}},
		{"limit, then empty", limit, []int{limit, 0}, event.Body{Captured: true, Data: body[:limit], Size: limit}},
		{"limit, then one", limit, []int{limit, 1}, event.Body{Captured: true, Data: body[:limit], Truncated: true, Size: limit + 1}},
		{"straddling the limit", limit, []int{7, 7}, event.Body{Captured: true, Data: body[:limit], Truncated: true, Size: 14}},
		{"many small writes to the limit", limit, []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, event.Body{Captured: true, Data: body[:limit], Size: limit}},
		{"many small writes past it", limit, []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}, event.Body{Captured: true, Data: body[:limit], Truncated: true, Size: 36}},
		{"size only", 0, []int{5, 5}, event.Body{Captured: true, Truncated: true, Size: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := capture{limit: tc.limit}
			off := 0
			for _, n := range tc.writes {
				c.write(body[off : off+n])
				off += n
				if int64(cap(c.data)) > tc.limit {
					t.Fatalf("after %d bytes the buffer holds %d, past the limit %d", off, cap(c.data), tc.limit)
				}
			}
			if got := c.result(true); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("writes %v, limit %d: got %+v, want %+v", tc.writes, tc.limit, got, tc.want)
			}
		})
	}
}

func TestCaptureNotWanted(t *testing.T) {
	c := capture{}
	c.write([]byte("counted, not kept"))
	if got, want := c.result(false), (event.Body{Size: 17}); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestCaptureSizing checks the buffer is sized by the body, not the limit.
func TestCaptureSizing(t *testing.T) {
	small := bytes.Repeat([]byte("x"), 200)
	big := bytes.Repeat([]byte("y"), 100_000)
	for _, tc := range []struct {
		name     string
		expect   int64 // declared length, -1 unknown
		writes   [][]byte
		wantCap  int
		wantSize int64
	}{
		{"small body, length unknown", -1, [][]byte{small}, minCapture, 200},
		{"small body, length declared", 200, [][]byte{small}, 200, 200},
		{"small body, declared, in pieces", 200, [][]byte{small[:50], small[50:]}, 200, 200},
		{"declared, never sent (HEAD)", 100_000, nil, 0, 0},
		{"big body, declared past the limit", 100_000, [][]byte{big}, 64 << 10, 100_000},
		{"big body in pieces, length unknown", -1, [][]byte{big[:1000], big[1000:5000], big[5000:]}, 64 << 10, 100_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := capture{limit: 64 << 10}
			c.expect(tc.expect)
			for _, p := range tc.writes {
				c.write(p)
			}
			if cap(c.data) != tc.wantCap || c.size != tc.wantSize {
				t.Errorf("buffer %d bytes for %d written, want %d for %d", cap(c.data), c.size, tc.wantCap, tc.wantSize)
			}
		})
	}
}

func TestTeeBodySeal(t *testing.T) {
	tb := &teeBody{ReadCloser: io.NopCloser(strings.NewReader("abcdef")), buf: capture{limit: 100}}
	p := make([]byte, 3)
	io.ReadFull(tb, p)
	got := tb.seal().result(true)
	rest, _ := io.ReadAll(tb)
	if string(rest) != "def" {
		t.Errorf("after seal the body read %q, want %q: it must keep streaming", rest, "def")
	}
	if want := body("abc"); !reflect.DeepEqual(got, want) {
		t.Errorf("sealed capture %+v, want %+v", got, want)
	}
	if string(got.Data) != "abc" || got.Size != 3 {
		t.Errorf("reads after seal changed the capture: %+v", got)
	}
}

func TestHasToken(t *testing.T) {
	for _, tc := range []struct {
		values []string
		token  string
		want   bool
	}{
		{[]string{"Upgrade"}, "upgrade", true},
		{[]string{"keep-alive, Upgrade"}, "upgrade", true},
		{[]string{"keep-alive", " upgrade "}, "upgrade", true},
		{[]string{"upgraded"}, "upgrade", false},
		{[]string{"trailers, deflate"}, "trailers", true},
		{[]string{""}, "trailers", false},
		{nil, "trailers", false},
	} {
		if got := hasToken(tc.values, tc.token); got != tc.want {
			t.Errorf("hasToken(%q, %q) = %v, want %v", tc.values, tc.token, got, tc.want)
		}
	}
}

func TestRemoveHopByHop(t *testing.T) {
	h := http.Header{
		"Connection":        {"close, X-A", "x-b"},
		"X-A":               {"1"},
		"X-B":               {"1"},
		"Keep-Alive":        {"timeout=5"},
		"Te":                {"trailers"},
		"Trailer":           {"X-Sum"},
		"Transfer-Encoding": {"chunked"},
		"Upgrade":           {"h2c"},
		"Proxy-Connection":  {"keep-alive"},
		"Proxy-Status":      {"x"},
		"X-Kept":            {"1"},
		"Proxyish":          {"1"},
	}
	removeHopByHop(h)
	want := http.Header{"X-Kept": {"1"}, "Proxyish": {"1"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("left %v, want %v", h, want)
	}
}
