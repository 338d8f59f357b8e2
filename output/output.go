// Package output writes audit events somewhere: the Sink interface, the
// registry of sink kinds, the Spec that configures one output (from the
// config file's outputs: list or a --output flag), and the errors sinks
// return so that delivery knows what to retry.
package output

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Sink is where events go. Write returns nil only once every event has been
// accepted by the destination (for a file: handed to the operating system;
// for a collector: acknowledged). On error the caller may retry, and
// downstream deduplicates by event id. Errors say what to retry:
// Permanent(err) for a batch the destination will never take, *ItemErrors
// for a batch taken in part, RetryAfter(err, d) for a destination asking to
// wait. Implementations are safe for concurrent use.
type Sink interface {
	Write(ctx context.Context, events []event.Event) error
	Close() error
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("sink closed")

// Kind is one registered sink type.
type Kind struct {
	// Open builds a sink from its spec. Validation of the spec's options
	// happens here too, with messages naming the option.
	Open func(Spec) (Sink, error)
	// FlagArg names the option that the short flag form KIND:ARG sets
	// (file:PATH sets "path"); "" when the kind takes no argument.
	FlagArg string
	// Local destinations (stdout, files) write to this machine and buffer
	// in memory by default; others (collectors) buffer on disk by default,
	// so that an outage fills the disk, not the memory, and a restart
	// loses nothing.
	Local bool
	// BatchEvents and BatchWait are the kind's defaults for batch.max_events
	// and batch.max_wait, for destinations that take large batches far
	// better than small ones (a database: one transaction per batch).
	// 0: the defaults of every kind.
	BatchEvents int
	BatchWait   time.Duration
}

// IsLocal reports whether the kind writes to this machine (see Kind.Local).
func IsLocal(kind string) bool { return kinds[kind].Local }

// KindOf returns the registered kind of that name (the zero Kind when none).
func KindOf(kind string) Kind { return kinds[kind] }

// IsCollector reports whether the kind is registered and sends to another
// machine (not Local).
func IsCollector(kind string) bool {
	k, ok := kinds[kind]
	return ok && !k.Local
}

// kinds maps a sink type to its Kind. It is filled by init functions, one
// per sink file, and only read afterwards.
var kinds = map[string]Kind{}

// Register makes a sink type available. It panics when the type is already
// registered: two sinks answering to one name is a programming error. Call
// it from init.
func Register(kind string, k Kind) {
	if _, dup := kinds[kind]; dup {
		panic(fmt.Sprintf("output: sink kind %q registered twice", kind))
	}
	kinds[kind] = k
}

// Kinds lists the registered sink types, sorted.
func Kinds() []string {
	ks := make([]string, 0, len(kinds))
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// OpenSpec builds the sink a spec describes.
func OpenSpec(s Spec) (Sink, error) {
	k, ok := kinds[s.Type]
	if !ok {
		return nil, fmt.Errorf("opening output %q: unknown type %q (known: %s)", s.Name, s.Type, strings.Join(Kinds(), ", "))
	}
	sink, err := k.Open(s)
	if err != nil {
		return nil, fmt.Errorf("opening output %q: %w", s.Name, err)
	}
	return sink, nil
}

// Open builds the sink that a flag names, in the form KIND or KIND:ARG,
// e.g. "stdout" or "file:/var/log/audit.jsonl".
func Open(flag string) (Sink, error) {
	s, err := ParseFlag(flag)
	if err != nil {
		return nil, fmt.Errorf("opening output %q: %w", flag, err)
	}
	sink, err := kinds[s.Type].Open(s)
	if err != nil {
		return nil, fmt.Errorf("opening output %q: %w", flag, err)
	}
	return sink, nil
}

// ParseFlag turns the short flag form KIND[:ARG] into a Spec.
func ParseFlag(flag string) (Spec, error) {
	kind, arg, hasArg := strings.Cut(flag, ":")
	k, ok := kinds[kind]
	if !ok {
		return Spec{}, fmt.Errorf("unknown type %q (known: %s)", kind, strings.Join(Kinds(), ", "))
	}
	s := Spec{Name: kind, Type: kind}
	switch {
	case hasArg && k.FlagArg == "":
		return Spec{}, fmt.Errorf("%s takes no argument", kind)
	case hasArg:
		s.Options = map[string]any{k.FlagArg: arg}
	}
	return s, nil
}
