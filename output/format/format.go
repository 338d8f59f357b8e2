// Package format maps the native audit event to the shapes other systems
// read: each Format is a pure function of one event, with no I/O and no
// state, so every sink can pair with any format.
package format

import (
	"fmt"
	"slices"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

// Format encodes one event as one record.
type Format interface {
	// Name is how configs name it: json, ecs, ocsf, cef, cloudevents, text.
	Name() string
	// ContentType of one record, for sinks that label what they send.
	ContentType() string
	// Append appends one record for ev to dst, without a trailing newline;
	// line-oriented sinks add it. It never fails: every event has a record.
	Append(dst []byte, ev *event.Event) []byte
}

var formats = map[string]Format{}

// Register makes a format available by name. It panics on a duplicate.
func Register(f Format) {
	if _, dup := formats[f.Name()]; dup {
		panic(fmt.Sprintf("format: %q registered twice", f.Name()))
	}
	formats[f.Name()] = f
}

// Get returns the named format; "" means json, the native one.
func Get(name string) (Format, error) {
	if name == "" {
		name = "json"
	}
	f, ok := formats[name]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return f, nil
}

// Names lists the registered formats, sorted.
func Names() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
