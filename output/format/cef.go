package format

import (
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/event"
)

func init() { Register(cefFormat{}) }

// cefFormat is one ArcSight Common Event Format line per event:
//
//	CEF:0|auditproxy|auditproxy|1.0|<action>|<description, or action>|<severity>|<extension>
//
// The severity is 0-10: debug 1, info 3, notice 4, warning 6, error 8,
// critical 10. The extension has standard keys where CEF has one and
// custom string (cs), number (cn) and float (cfp) fields, each with its
// label, for the rest. Empty values are left out:
//
//	key                       from the native event
//	rt                        time, in milliseconds since the epoch
//	externalId                id
//	outcome                   outcome
//	src                       source.ip when it is IPv4
//	c6a2 (Source IPv6 Address) source.ip when it is IPv6
//	shost                     source.ip when it is no IP address at all
//	suser, suid               actor.name, actor.id
//	spriv                     actor.roles, joined by commas
//	duser, duid               target.name, target.id when target.type is "user"
//	requestMethod             http.method
//	request                   http.path, and ?http.query when there is one
//	requestClientApplication  source.user_agent
//	dhost, dpt                http.host
//	destinationServiceName    app: the application behind the proxy
//	cn1 (httpStatus)          http.status
//	cfp1 (durationMs)         http.duration_ms
//	cs1 (rule)                rule
//	cs2 (area)                area
//	cs3 (changes)             changes, as compact native JSON
//	cs4 (requestId)           http.request_id
//	cs5 (target)              target as compact native JSON, when it is not a user
//	cs6 (sourceCountry)       source.country
//	msg                       warnings, joined by "; "
//
// deviceExternalId and dvchost are left to the collector: they name the
// machine that sends, which a pure mapping of the event cannot know.
//
// Escaping follows the CEF specification: in the header a backslash and a
// pipe are escaped with a backslash; in extension values a backslash and an
// equals sign are, and newlines are written as \n and \r. A newline in a
// header field is written as \n and \r too (the specification says nothing
// about it; as every backslash is escaped, the reading is unambiguous), so
// that a record is always one line. Bytes that are not UTF-8 become U+FFFD.
type cefFormat struct{}

func (cefFormat) Name() string        { return "cef" }
func (cefFormat) ContentType() string { return "text/plain; charset=utf-8" }

func (cefFormat) Append(dst []byte, ev *event.Event) []byte {
	dst = append(dst, "CEF:0|auditproxy|auditproxy|1.0|"...)
	dst = appendCEF(dst, ev.Action, '|')
	dst = append(dst, '|')
	name := ev.Description
	if name == "" {
		name = ev.Action
	}
	dst = appendCEF(dst, name, '|')
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, cefSeverity(severity(ev)), 10)
	dst = append(dst, '|')

	x := cefExt{b: dst}
	x.b = append(x.b, "rt="...)
	x.b = strconv.AppendInt(x.b, ev.Time.UnixMilli(), 10)
	x.str("externalId", ev.ID)
	x.str("outcome", string(ev.Outcome))
	switch ip, err := netip.ParseAddr(ev.Source.IP); {
	case err != nil:
		x.str("shost", ev.Source.IP)
	case ip.Is4():
		x.str("src", ev.Source.IP)
	case ip.Is4In6():
		x.str("src", ip.Unmap().String())
	default:
		x.str("c6a2Label", "Source IPv6 Address")
		x.str("c6a2", ev.Source.IP)
	}
	x.str("suser", ev.Actor.Name)
	x.str("suid", ev.Actor.ID)
	if len(ev.Actor.Roles) > 0 {
		x.key("spriv")
		for i, r := range ev.Actor.Roles {
			if i > 0 {
				x.b = append(x.b, ',')
			}
			x.b = appendCEF(x.b, r, '=')
		}
	}
	if userTarget(&ev.Target) {
		x.str("duser", ev.Target.Name)
		x.str("duid", ev.Target.ID)
	}
	x.str("requestMethod", ev.HTTP.Method)
	if ev.HTTP.Path != "" || ev.HTTP.Query != "" {
		x.key("request")
		x.b = appendCEF(x.b, ev.HTTP.Path, '=')
		if ev.HTTP.Query != "" {
			x.b = append(x.b, '?')
			x.b = appendCEF(x.b, ev.HTTP.Query, '=')
		}
	}
	x.str("requestClientApplication", ev.Source.UserAgent)
	host, port := splitHost(ev.HTTP.Host)
	x.str("dhost", host)
	if port != 0 {
		x.key("dpt")
		x.b = strconv.AppendUint(x.b, uint64(port), 10)
	}
	x.str("destinationServiceName", ev.App)
	if ev.HTTP.Status != 0 {
		x.str("cn1Label", "httpStatus")
		x.key("cn1")
		x.b = strconv.AppendInt(x.b, int64(ev.HTTP.Status), 10)
	}
	if d := ev.HTTP.DurationMS; d != 0 && !math.IsNaN(d) && !math.IsInf(d, 0) {
		x.str("cfp1Label", "durationMs")
		x.key("cfp1")
		x.b = strconv.AppendFloat(x.b, d, 'f', -1, 64)
	}
	x.labelled("cs1", "rule", ev.Rule)
	x.labelled("cs2", "area", ev.Area)
	if len(ev.Changes) > 0 {
		x.labelledJSON("cs3", "changes", func(b []byte) []byte { return appendChanges(b, ev.Changes) })
	}
	x.labelled("cs4", "requestId", ev.HTTP.RequestID)
	if ev.Target != (event.Target{}) && !userTarget(&ev.Target) {
		x.labelledJSON("cs5", "target", func(b []byte) []byte {
			t := newJSONWriter(b)
			t.str("type", ev.Target.Type)
			t.str("id", ev.Target.ID)
			t.str("name", ev.Target.Name)
			return t.done()
		})
	}
	x.labelled("cs6", "sourceCountry", ev.Source.Country)
	if len(ev.Warnings) > 0 {
		x.key("msg")
		for i, w := range ev.Warnings {
			if i > 0 {
				x.b = append(x.b, "; "...)
			}
			x.b = appendCEF(x.b, w, '=')
		}
	}
	return x.b
}

// cefExt appends extension fields, each after a space.
type cefExt struct{ b []byte }

func (x *cefExt) key(k string) {
	x.b = append(x.b, ' ')
	x.b = append(x.b, k...)
	x.b = append(x.b, '=')
}

// str writes k=v unless v is empty.
func (x *cefExt) str(k, v string) {
	if v != "" {
		x.key(k)
		x.b = appendCEF(x.b, v, '=')
	}
}

// labelled writes a custom field and its label, unless v is empty.
func (x *cefExt) labelled(k, label, v string) {
	if v != "" {
		x.b = append(x.b, ' ')
		x.b = append(x.b, k...)
		x.b = append(x.b, "Label="...)
		x.b = append(x.b, label...)
		x.str(k, v)
	}
}

// labelledJSON writes a custom field and its label, the value a JSON
// text that appendJSON appends. The JSON is written past the end of the
// record, escaped after it, and the escaped copy moved back over it: no
// buffer of its own to allocate.
func (x *cefExt) labelledJSON(k, label string, appendJSON func([]byte) []byte) {
	start := len(x.b)
	x.b = appendJSON(x.b)
	end := len(x.b)
	// Escaping reads x.b[start:end] while appending; should x.b move, the
	// old array still holds the JSON.
	x.b = append(x.b, ' ')
	x.b = append(x.b, k...)
	x.b = append(x.b, "Label="...)
	x.b = append(x.b, label...)
	x.key(k)
	x.b = appendCEF(x.b, x.b[start:end], '=')
	x.b = x.b[:start+copy(x.b[start:], x.b[end:])]
}

// appendCEF appends s escaped for CEF: a backslash, special ('|' in the
// header, '=' in the extension) and newlines. Bytes that are not UTF-8
// become U+FFFD.
func appendCEF[S string | []byte](dst []byte, s S, special byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			// At most UTFMax bytes: converting them to a string does not
			// allocate when s is a []byte.
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r == utf8.RuneError && size == 1 {
				dst = append(append(dst, s[start:i]...), "\uFFFD"...)
				start = i + 1
			}
			i += size
			continue
		}
		if c != '\\' && c != special && c != '\n' && c != '\r' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', c)
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

func cefSeverity(s event.Severity) int64 {
	switch s {
	case event.SeverityDebug:
		return 1
	case event.SeverityNotice:
		return 4
	case event.SeverityWarning:
		return 6
	case event.SeverityError:
		return 8
	case event.SeverityCritical:
		return 10
	}
	return 3 // info, and anything unknown
}
