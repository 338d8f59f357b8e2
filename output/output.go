// Package output writes audit events somewhere: the Sink interface, the
// registry of sink kinds that the command line names (stdout, file:PATH),
// and the native JSON-lines encoding that every sink shares.
package output

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

// Sink is where events go. Write returns nil only once every event has been
// handed to the destination (for a file: to the operating system); on error
// the caller may retry the whole batch, and downstream deduplicates by id.
// Implementations are safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, events []event.Event) error
	Close() error
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink closed")

// Opener builds a sink from the argument of its spec: the part after
// "kind:", "" when there is none.
type Opener func(arg string) (Sink, error)

// kinds maps a sink kind to its Opener. It is filled by init functions, one
// per sink file, and only read afterwards.
var kinds = map[string]Opener{}

// Register makes a sink kind available to Open. It panics when kind is
// already registered: two sinks answering to one name is a programming
// error. Call it from init.
func Register(kind string, open Opener) {
	if _, dup := kinds[kind]; dup {
		panic(fmt.Sprintf("output: sink kind %q registered twice", kind))
	}
	kinds[kind] = open
}

// Kinds lists the registered sink kinds, sorted.
func Kinds() []string {
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Open builds the sink that spec names, in the command line's form KIND or
// KIND:ARG, e.g. "stdout" or "file:/var/log/audit.jsonl".
func Open(spec string) (Sink, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	open, ok := kinds[kind]
	if !ok {
		return nil, fmt.Errorf("opening output %q: unknown kind %q (known: %s)", spec, kind, strings.Join(Kinds(), ", "))
	}
	s, err := open(arg)
	if err != nil {
		return nil, fmt.Errorf("opening output %q: %w", spec, err)
	}
	return s, nil
}
