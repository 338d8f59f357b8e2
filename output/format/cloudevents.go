package format

import (
	"net/url"

	"github.com/auditproxy/auditproxy/event"
)

func init() { Register(cloudEventsFormat{}) }

// cloudEventsFormat is one CloudEvents 1.0 event in the JSON structured
// mode per audit event, its data the native event itself:
//
//	attribute        from the native event
//	specversion      "1.0"
//	id               id
//	source           "/auditproxy/" + app (path-escaped), or "/auditproxy" without one
//	type             "com.auditproxy." + action
//	time             time, RFC 3339 in UTC with microseconds
//	subject          target.type + "/" + target.id, or the one of them that is set
//	datacontenttype  "application/json"
//	data             the native event, as a JSON object (not a string)
//
// Consumers deduplicate on source and id together, as the specification
// says; the id alone is unique already.
type cloudEventsFormat struct{}

func (cloudEventsFormat) Name() string        { return "cloudevents" }
func (cloudEventsFormat) ContentType() string { return "application/cloudevents+json" }

func (cloudEventsFormat) Append(dst []byte, ev *event.Event) []byte {
	w := newJSONWriter(dst)
	w.str("specversion", "1.0")
	w.key("id")
	w.b = appendJSONString(w.b, ev.ID) // required, even when empty
	w.key("source")
	if ev.App == "" {
		w.b = append(w.b, `"/auditproxy"`...)
	} else {
		w.b = append(w.b, `"/auditproxy/`...)
		w.b = appendEscaped(w.b, url.PathEscape(ev.App), true)
		w.b = append(w.b, '"')
	}
	w.key("type")
	w.b = append(w.b, `"com.auditproxy.`...)
	w.b = appendEscaped(w.b, ev.Action, true)
	w.b = append(w.b, '"')
	w.time("time", ev.Time)
	switch t := &ev.Target; {
	case t.Type != "" && t.ID != "":
		w.key("subject")
		w.b = append(w.b, '"')
		w.b = appendEscaped(w.b, t.Type, true)
		w.b = append(w.b, '/')
		w.b = appendEscaped(w.b, t.ID, true)
		w.b = append(w.b, '"')
	case t.Type != "":
		w.str("subject", t.Type)
	default:
		w.str("subject", t.ID)
	}
	w.str("datacontenttype", "application/json")
	w.key("data")
	w.b = appendNative(w.b, ev)
	return w.done()
}
