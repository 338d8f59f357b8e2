package output

import (
	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

// AppendJSON appends ev as one line of native JSON; see format.AppendJSON.
func AppendJSON(dst []byte, ev *event.Event) []byte { return format.AppendJSON(dst, ev) }
