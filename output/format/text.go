package format

import "github.com/auditproxy/auditproxy/event"

func init() { Register(textFormat{}) }

// textTime is the text line's time: RFC 3339 with microseconds and a
// numeric zone, always +00:00.
const textTime = "2006-01-02T15:04:05.000000-07:00"

// textFormat is the mirror line, for people and grep, with the whole
// native event at its end so that nothing is lost:
//
//	[2026-11-21T23:42:15.123456+00:00] [billing].[notice]:[alice created user bob@example.com]{"id":...}
//
//	part         from the native event
//	time         time, in UTC
//	app          app, or "auditproxy" without one
//	severity     severity, or "info" without one
//	description  description, or action without one
//	{...}        the native event, as the json format writes it
//
// App, severity and description are escaped as in a JSON string, but for
// the double quote: a backslash as \\, newlines as \n and \r, other
// control characters as \u00XX, bytes that are not UTF-8 as \ufffd. So
// every record is one line, and no description can fake another line or
// steer a terminal.
type textFormat struct{}

func (textFormat) Name() string        { return "text" }
func (textFormat) ContentType() string { return "text/plain; charset=utf-8" }

func (textFormat) Append(dst []byte, ev *event.Event) []byte {
	dst = append(dst, '[')
	dst = ev.Time.UTC().AppendFormat(dst, textTime)
	dst = append(dst, "] ["...)
	app := ev.App
	if app == "" {
		app = "auditproxy"
	}
	dst = appendEscaped(dst, app, false)
	dst = append(dst, "].["...)
	dst = appendEscaped(dst, string(severity(ev)), false)
	dst = append(dst, "]:["...)
	desc := ev.Description
	if desc == "" {
		desc = ev.Action
	}
	dst = appendEscaped(dst, desc, false)
	dst = append(dst, ']')
	return appendNative(dst, ev)
}
