package format

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/event"
)

// This file holds what the formats share: a JSON object writer that leaves
// out what is empty, string escaping, and small mappings of event fields.

// jsonWriter appends one JSON object to b. Most of an event is optional and
// every format leaves out what is empty, so empty strings are skipped and an
// object that got no member is taken back out when it ends. Keys are
// string literals that need no escaping.
type jsonWriter struct {
	b     []byte
	first bool // no member written yet in the innermost open object
	depth int
	// opens remembers, per open object, where its key started (to take it
	// back out when it stays empty) and first of the object around it.
	opens [6]struct {
		at    int
		first bool
	}
}

func newJSONWriter(dst []byte) jsonWriter {
	return jsonWriter{b: append(dst, '{'), first: true}
}

// done closes the outermost object and returns the buffer.
func (w *jsonWriter) done() []byte { return append(w.b, '}') }

func (w *jsonWriter) comma() {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
}

func (w *jsonWriter) key(k string) {
	w.comma()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// open starts the object k; close ends it, and drops it when it is empty.
func (w *jsonWriter) open(k string) {
	w.opens[w.depth].at, w.opens[w.depth].first = len(w.b), w.first
	w.depth++
	w.key(k)
	w.b = append(w.b, '{')
	w.first = true
}

func (w *jsonWriter) close() {
	w.depth--
	if w.first {
		w.b, w.first = w.b[:w.opens[w.depth].at], w.opens[w.depth].first
		return
	}
	w.b = append(w.b, '}')
}

// closeKeep ends the object k even when it is empty: for the objects a
// format requires.
func (w *jsonWriter) closeKeep() {
	w.depth--
	w.b = append(w.b, '}')
	w.first = false
}

// str writes k unless v is empty.
func (w *jsonWriter) str(k, v string) {
	if v != "" {
		w.key(k)
		w.b = appendJSONString(w.b, v)
	}
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

// time writes t as RFC 3339 in UTC with microseconds, as the native event.
func (w *jsonWriter) time(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = event.AppendTime(w.b, t)
	w.b = append(w.b, '"')
}

// strs writes k unless vs is empty.
func (w *jsonWriter) strs(k string, vs ...string) {
	if len(vs) == 0 {
		return
	}
	w.key(k)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, v)
	}
	w.b = append(w.b, ']')
}

// changes writes the native changes object ({"field":{"from":..,"to":..}})
// under k, unless there are none.
func (w *jsonWriter) changes(k string, cs event.Changes) {
	if len(cs) == 0 {
		return
	}
	w.key(k)
	w.b = appendChanges(w.b, cs)
}

// appendChanges appends the native changes object, as AppendJSON writes it:
// values that are not JSON become strings, so one bad value cannot break
// the record.
func appendChanges(dst []byte, cs event.Changes) []byte {
	dst = append(dst, '{')
	for i, c := range cs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, c.Field)
		dst = append(dst, ':', '{')
		if c.From != nil {
			dst = append(dst, `"from":`...)
			dst = appendRawJSON(dst, c.From)
			if c.To != nil {
				dst = append(dst, ',')
			}
		}
		if c.To != nil {
			dst = append(dst, `"to":`...)
			dst = appendRawJSON(dst, c.To)
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendRawJSON appends v, a JSON value from a request body, line-safe
// (see lineSafe).
func appendRawJSON(dst, v []byte) []byte { return append(dst, lineSafe(v)...) }

// lineSafe returns v, a JSON value as it came from a request body, such
// that it keeps a record one line of valid UTF-8 JSON: a value that is not
// JSON becomes a string (see validJSON), one with line breaks between its
// tokens (a pretty-printed body) is compacted, and bytes that are not UTF-8
// become U+FFFD. The common case returns v itself.
func lineSafe(v []byte) []byte {
	if plainScalar(v) {
		return v // the slow path below would return it unchanged too
	}
	v = validJSON(v)
	// Inside a valid JSON value a line break can only be whitespace
	// between tokens.
	if hasLineBreak(v) {
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			v = b.Bytes()
		}
	}
	if !utf8.Valid(v) {
		v = bytes.ToValidUTF8(v, []byte("\uFFFD"))
	}
	return v
}

// plainScalar tells, in one pass over v, that it is a JSON value lineSafe
// keeps as it is: a string of printable ASCII without escapes, a number,
// true, false or null. Most change values are one, and this spares them
// encoding/json's validation (a scanner per value, per record written).
// False says nothing: the value goes the slow way.
func plainScalar(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '"':
		if len(v) < 2 || v[len(v)-1] != '"' {
			return false
		}
		for _, c := range v[1 : len(v)-1] {
			if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	case 't':
		return string(v) == "true"
	case 'f':
		return string(v) == "false"
	case 'n':
		return string(v) == "null"
	}
	return plainNumber(v)
}

// plainNumber tells whether v is exactly a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func plainNumber(v []byte) bool {
	i := 0
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && v[i] >= '1' && v[i] <= '9':
		i = digits(v, i)
	default:
		return false
	}
	if i < len(v) && v[i] == '.' {
		j := digits(v, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		j := digits(v, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(v)
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(v []byte, i int) int {
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	return i
}

// appendNative appends the native event as AppendJSON writes it, without
// the newline.
func appendNative(dst []byte, ev *event.Event) []byte {
	dst = AppendJSON(dst, ev)
	return dst[:len(dst)-1]
}

// hasLineBreak tells whether b holds a newline or carriage return (two
// vectorised scans, faster than bytes.ContainsAny).
func hasLineBreak(b []byte) bool {
	return bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

// appendJSONString appends s as a JSON string. Like encoding/json, it
// writes each byte that is not valid UTF-8 as U+FFFD and escapes U+2028
// and U+2029, so the record stays valid JSON (and valid JavaScript).
func appendJSONString(dst []byte, s string) []byte { return AppendJSONString(dst, s) }

// AppendJSONString is appendJSONString for sinks too, for a string or a
// record already encoded (no conversion, no allocation).
func AppendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s, true)
	return append(dst, '"')
}

const hex = "0123456789abcdef"

// plainByte[c] says that appendEscaped writes c as it is in every mode:
// printable ASCII but for the backslash, the double quote and DEL.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '\\' && c != '"'
	}
	return t
}()

// appendEscaped appends s with JSON's escapes: a backslash, control
// characters, U+2028 and U+2029, and (when quote is set) the double quote.
// Bytes that are not UTF-8 become U+FFFD. Without quote it makes a line of
// text that no character can break.
func appendEscaped[T string | []byte](dst []byte, s T, quote bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Most bytes are printable ASCII: skip them with one table look-up
		// each.
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '"' && !quote {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

func decodeRune[T string | []byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	panic("unreachable")
}

// activity is what an HTTP method does, by the four verbs most
// audit schemas know.
type activity int

const (
	activityOther activity = iota
	activityCreate
	activityRead
	activityUpdate
	activityDelete
)

func methodActivity(method string) activity {
	switch method {
	case "POST":
		return activityCreate
	case "GET", "HEAD":
		return activityRead
	case "PUT", "PATCH":
		return activityUpdate
	case "DELETE":
		return activityDelete
	}
	return activityOther
}

// durationNS is the request's duration in whole nanoseconds, and false
// when there is none (0, NaN, infinite, or past what an int64 holds).
func durationNS(ev *event.Event) (int64, bool) {
	d := ev.HTTP.DurationMS * 1e6
	if d == 0 || !(math.Abs(d) < math.MaxInt64/2) {
		return 0, false
	}
	return int64(math.Round(d)), true
}

// splitHost splits a Host header into name and port; port is 0 when it
// has none (or none that is a port number). It does what
// net.SplitHostPort does without allocating an error for the usual Host
// without a port.
func splitHost(host string) (name string, port uint16) {
	name, p := host, ""
	if rest, ok := strings.CutPrefix(host, "["); ok { // [IPv6] or [IPv6]:port
		if v6, after, ok := strings.Cut(rest, "]"); ok {
			name = v6
			p, _ = strings.CutPrefix(after, ":")
		}
	} else if strings.Count(host, ":") == 1 { // an IPv6 address without brackets has more
		name, p, _ = strings.Cut(host, ":")
	}
	if p == "" || strings.Trim(p, "0123456789") != "" {
		return name, 0
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return name, 0
	}
	return name, uint16(n)
}

// severity is ev's severity, info when it has none.
func severity(ev *event.Event) event.Severity {
	if ev.Severity == "" {
		return event.SeverityInfo
	}
	return ev.Severity
}

// userTarget tells whether the target is a user: ECS and CEF have fields
// for a user acted upon.
func userTarget(t *event.Target) bool { return t.Type == "user" }
