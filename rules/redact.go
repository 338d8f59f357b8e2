package rules

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/auditproxy/auditproxy/event"
)

// DefaultSensitive are the name fragments whose values are always shown as
// [FILTERED]. A name matches when, lowercased and without -, _, . and spaces,
// it contains a fragment: smtp_password, X-Api-Key, csrfToken, card_number.
var DefaultSensitive = []string{
	"password", "passwd", "pwd", "secret", "token", "apikey", "authorization",
	"cookie", "creditcard", "cardnumber", "ccnumber", "cvv", "cvc", "privatekey",
}

type redactor struct {
	fragments []string         // normalised
	values    []*regexp.Regexp // matches inside any text value become [FILTERED]
}

func newRedactor(extra []string, withDefaults bool, values []*regexp.Regexp) redactor {
	r := redactor{values: values}
	if withDefaults {
		r.fragments = append(r.fragments, DefaultSensitive...)
	}
	for _, e := range extra {
		if n := normalizeName(e); n != "" {
			r.fragments = append(r.fragments, n)
		}
	}
	return r
}

func normalizeName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// text replaces every match of a value pattern with [FILTERED].
func (r redactor) text(s string) string {
	for _, re := range r.values {
		s = re.ReplaceAllLiteralString(s, event.Filtered)
	}
	return s
}

func (r redactor) textNeeds(s string) bool {
	for _, re := range r.values {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// sensitive runs for every value extracted, so it compares in place:
// normalising the name first would allocate each time.
func (r redactor) sensitive(name string) bool {
	if name == "" {
		return false
	}
	for _, f := range r.fragments {
		if containsNormalized(name, f) {
			return true
		}
	}
	return false
}

// containsNormalized reports whether name, lowercased and without - _ .
// and spaces, contains frag (already normalised).
func containsNormalized(name, frag string) bool {
	for start := 0; start < len(name); start++ {
		i, j := start, 0
		for i < len(name) && j < len(frag) {
			c := name[i]
			if c == '-' || c == '_' || c == '.' || c == ' ' {
				i++
				continue
			}
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != frag[j] {
				break
			}
			i++
			j++
		}
		if j == len(frag) {
			return true
		}
	}
	return false
}

var filteredJSON = json.RawMessage(`"` + event.Filtered + `"`)

// json returns raw with the value of every sensitive key inside it, at any
// depth, replaced by "[FILTERED]". Key order is kept. Scalars come back as is.
func (r redactor) json(raw []byte) []byte {
	res := gjson.Parse(unsafe.String(unsafe.SliceData(raw), len(raw))) // read only, as getJSON
	if res.Type == gjson.String {
		if !r.textNeeds(res.Str) {
			return raw
		}
		b, _ := json.Marshal(r.text(res.Str))
		return b
	}
	if !res.IsObject() && !res.IsArray() {
		return raw
	}
	if !r.needs(res) {
		return raw
	}
	var b bytes.Buffer
	r.write(&b, res)
	return b.Bytes()
}

// needs reports whether any key under res is sensitive, so that the common
// case costs no rewriting.
func (r redactor) needs(res gjson.Result) bool {
	found := false
	res.ForEach(func(k, v gjson.Result) bool {
		switch {
		case k.Type == gjson.String && r.sensitive(k.Str):
			found = true
		case v.IsObject() || v.IsArray():
			found = r.needs(v)
		case v.Type == gjson.String:
			found = r.textNeeds(v.Str)
		}
		return !found
	})
	return found
}

func (r redactor) write(b *bytes.Buffer, res gjson.Result) {
	switch {
	case res.IsObject():
		b.WriteByte('{')
		first := true
		res.ForEach(func(k, v gjson.Result) bool {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(k.Raw)
			b.WriteByte(':')
			if r.sensitive(k.Str) {
				b.Write(filteredJSON)
			} else {
				r.write(b, v)
			}
			return true
		})
		b.WriteByte('}')
	case res.IsArray():
		b.WriteByte('[')
		first := true
		res.ForEach(func(_, v gjson.Result) bool {
			if !first {
				b.WriteByte(',')
			}
			first = false
			r.write(b, v)
			return true
		})
		b.WriteByte(']')
	case res.Type == gjson.String && r.textNeeds(res.Str):
		s, _ := json.Marshal(r.text(res.Str))
		b.Write(s)
	default:
		b.WriteString(res.Raw)
	}
}

// markSensitive decides, once at load, which of the set's sources are
// secrets by name (request.body.password, header.Authorization,
// jwt.api_key): the redactor is not consulted again for every value.
func (s *Set) markSensitive() {
	mark := func(src *source) {
		src.sensitive = s.redact.sensitive(src.leafName()) || (src.kind == srcJWT && s.redact.sensitive(src.key))
	}
	var markExpr func(e *expr)
	markTemplate := func(t *template) {
		if t == nil {
			return
		}
		for i := range t.parts {
			if t.parts[i].src != nil {
				mark(t.parts[i].src)
			}
		}
	}
	markExpr = func(e *expr) {
		if e.src != nil {
			mark(e.src)
		}
		markTemplate(e.tmpl)
		for i := range e.alts {
			markExpr(&e.alts[i])
		}
	}
	markParty := func(p *party) { markExpr(&p.id); markExpr(&p.name); markExpr(&p.typ) }
	markParty(&s.defaultActor)
	for _, r := range s.rules {
		markParty(&r.actor)
		markParty(&r.target)
		markTemplate(r.description)
		r.changes.sensitive = make([]bool, len(r.changes.fields))
		for i, f := range r.changes.fields {
			r.changes.sensitive[i] = s.redact.sensitive(f)
		}
		for i := range r.bind {
			markExpr(&r.bind[i].id)
			markExpr(&r.bind[i].name)
		}
	}
}
