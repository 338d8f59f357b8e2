package format

import "github.com/auditproxy/auditproxy/event"

func init() { Register(jsonFormat{}) }

// jsonFormat is the native event, exactly shared/event.schema.json.
type jsonFormat struct{}

func (jsonFormat) Name() string        { return "json" }
func (jsonFormat) ContentType() string { return "application/json" }

// Append writes what AppendJSON does, without its newline. A change value
// copied from a pretty-printed request body can hold line breaks, which
// AppendJSON keeps; a record must be one line, so they are compacted away
// here (see appendNative).
func (jsonFormat) Append(dst []byte, ev *event.Event) []byte {
	return appendNative(dst, ev)
}
