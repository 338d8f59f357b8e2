package format

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

// cefRecord is a parsed CEF line: the seven header fields after "CEF:0"
// and the extension.
type cefRecord struct {
	header [7]string // version, vendor, product, device version, signature id, name, severity
	ext    map[string]string
}

// parseCEF reads one CEF line as a strict reader would, honouring the
// escapes of the specification (and \n, \r in the header, which the
// format writes there too). Any other backslash sequence is an error, so
// that a value escaped wrongly does not parse back as itself by chance.
func parseCEF(line string) (cefRecord, error) {
	var r cefRecord
	if strings.ContainsAny(line, "\n\r") {
		return r, errors.New("raw line break")
	}
	rest, ok := strings.CutPrefix(line, "CEF:")
	if !ok {
		return r, errors.New("no CEF: prefix")
	}
	for i := range r.header {
		var field strings.Builder
		for {
			if rest == "" {
				return r, fmt.Errorf("header field %d not ended by |", i)
			}
			c := rest[0]
			rest = rest[1:]
			if c == '|' {
				break
			}
			if c == '\\' {
				if rest == "" {
					return r, errors.New("header ends in a backslash")
				}
				switch rest[0] {
				case '\\', '|':
					c = rest[0]
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				default:
					return r, fmt.Errorf("header: unknown escape \\%c", rest[0])
				}
				rest = rest[1:]
			}
			field.WriteByte(c)
		}
		r.header[i] = field.String()
	}
	var err error
	r.ext, err = parseCEFExtension(rest)
	return r, err
}

// parseCEFExtension reads key=value pairs separated by spaces. A key is a
// run of letters and digits before an unescaped '='; a value runs up to
// the space before the next key, spaces included.
func parseCEFExtension(s string) (map[string]string, error) {
	ext := map[string]string{}
	// keyAt returns the key starting at i and the index after its '=', or
	// "" when no key starts there.
	keyAt := func(i int) (string, int) {
		j := i
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_') {
			j++
		}
		if j == i || j == len(s) || s[j] != '=' {
			return "", 0
		}
		return s[i:j], j + 1
	}
	if s == "" {
		return ext, nil
	}
	key, i := keyAt(0)
	if key == "" {
		return nil, fmt.Errorf("extension does not start with a key: %q", s)
	}
	for {
		// The value ends at the first space followed by a key, skipping
		// escapes.
		end, next, nextKey := len(s), len(s), ""
		for j := i; j < len(s); j++ {
			if s[j] == '\\' {
				j++
				continue
			}
			if s[j] == '=' {
				return nil, fmt.Errorf("%s: unescaped '=' in value", key)
			}
			if s[j] == ' ' {
				if k, n := keyAt(j + 1); k != "" {
					end, next, nextKey = j, n, k
					break
				}
			}
		}
		v, err := cefUnescape(s[i:end])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if _, dup := ext[key]; dup {
			return nil, fmt.Errorf("%s twice", key)
		}
		ext[key] = v
		if nextKey == "" {
			return ext, nil
		}
		key, i = nextKey, next
	}
}

func cefUnescape(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			if i+1 == len(s) {
				return "", errors.New("value ends in a backslash")
			}
			i++
			switch s[i] {
			case '\\', '=':
				c = s[i]
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			default:
				return "", fmt.Errorf("unknown escape \\%c", s[i])
			}
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// utf8Clean is s as the formats write it: each byte that is not UTF-8
// becomes U+FFFD (as converting to runes does).
func utf8Clean(s string) string { return string([]rune(s)) }

func TestCEFEscaping(t *testing.T) {
	for _, tt := range []struct {
		in, header, ext string
	}{
		{"plain", "plain", "plain"},
		{`a|b`, `a\|b`, `a|b`},
		{`a=b`, `a=b`, `a\=b`},
		{`back\slash`, `back\\slash`, `back\\slash`},
		{`\|`, `\\\|`, `\\|`},
		{`\=`, `\\=`, `\\\=`},
		{"two\nlines\r\n", `two\nlines\r\n`, `two\nlines\r\n`},
		{`not a newline: \n`, `not a newline: \\n`, `not a newline: \\n`},
		{"bad \xff byte", "bad \uFFFD byte", "bad \uFFFD byte"},
		{"tab\tand spaces  ", "tab\tand spaces  ", "tab\tand spaces  "},
	} {
		if got := string(appendCEF(nil, tt.in, '|')); got != tt.header {
			t.Errorf("header %q: got %q, want %q", tt.in, got, tt.header)
		}
		if got := string(appendCEF(nil, tt.in, '=')); got != tt.ext {
			t.Errorf("extension %q: got %q, want %q", tt.in, got, tt.ext)
		}
	}
}

func TestCEFSeverityAndSource(t *testing.T) {
	for _, tt := range []struct {
		severity, ip string
		wantSev      string
		wantKey      string // the key the IP goes to
		wantIP       string
	}{
		{"debug", "10.0.0.1", "1", "src", "10.0.0.1"},
		{"", "10.0.0.1", "3", "src", "10.0.0.1"},
		{"info", "::ffff:10.0.0.1", "3", "src", "10.0.0.1"},
		{"notice", "2001:db8::1", "4", "c6a2", "2001:db8::1"},
		{"warning", "fe80::1%eth0", "6", "c6a2", "fe80::1%eth0"},
		{"error", "not an ip", "8", "shost", "not an ip"},
		{"critical", "", "10", "", ""},
	} {
		ev := eventtest.Minimal()
		ev.Severity = event.Severity(tt.severity)
		ev.Source.IP = tt.ip
		r, err := parseCEF(string(cefFormat{}.Append(nil, &ev)))
		if err != nil {
			t.Fatal(err)
		}
		if r.header[6] != tt.wantSev {
			t.Errorf("severity %q: CEF severity %s, want %s", tt.severity, r.header[6], tt.wantSev)
		}
		for _, k := range []string{"src", "c6a2", "shost"} {
			if want := map[bool]string{true: tt.wantIP}[k == tt.wantKey]; r.ext[k] != want {
				t.Errorf("ip %q: %s=%q, want %q", tt.ip, k, r.ext[k], want)
			}
		}
	}
}

// FuzzCEF checks that any action, description and actor name make one
// line that reads back as what went in.
func FuzzCEF(f *testing.F) {
	f.Add("user.created", "alice created bob", "alice")
	f.Add("a|b", `c\d=e`, "f\ng\rh")
	f.Add(`\`, `|`, `=`)
	f.Add("", "", "")
	f.Add("x", "trailing backslash\\", "name ending in space ")
	f.Add("x", " k=v", "cs1=rule")
	f.Add("\xff", "\xe2\x80", "\u2028")
	f.Fuzz(func(t *testing.T, action, desc, name string) {
		ev := eventtest.Full()
		ev.Action, ev.Description, ev.Actor.Name = action, desc, name
		line := string(cefFormat{}.Append(nil, &ev))
		r, err := parseCEF(line)
		if err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		wantName := desc
		if wantName == "" {
			wantName = action
		}
		if r.header[4] != utf8Clean(action) || r.header[5] != utf8Clean(wantName) || r.ext["suser"] != utf8Clean(name) {
			t.Errorf("read back action %q, name %q, suser %q\nwant %q, %q, %q\nline %q",
				r.header[4], r.header[5], r.ext["suser"], utf8Clean(action), utf8Clean(wantName), utf8Clean(name), line)
		}
		if r.ext["externalId"] != ev.ID || r.ext["cs1"] != ev.Rule {
			t.Errorf("other fields lost: %q", line)
		}
	})
}
