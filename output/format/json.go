package format

import "github.com/auditproxy/auditproxy/event"

func init() { Register(jsonFormat{}) }

// jsonFormat is the native event, exactly shared/event.schema.json.
type jsonFormat struct{}

func (jsonFormat) Name() string        { return "json" }
func (jsonFormat) ContentType() string { return "application/json" }

func (jsonFormat) Append(dst []byte, ev *event.Event) []byte {
	dst = AppendJSON(dst, ev)
	return dst[:len(dst)-1] // AppendJSON ends the line; a record does not
}
