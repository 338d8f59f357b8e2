package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Opener opens a store: location is the engine's own address (a file path
// for sqlite, a DSN for postgres).
type Opener func(ctx context.Context, location string) (Store, error)

// engines maps an engine name to its Opener. The engines live in their own
// packages (store/sqlite, store/postgres), which import this one for its
// types, so this package cannot import them: they register here from init
// instead, and the store output finds them by name.
var engines = map[string]Opener{}

// RegisterEngine makes an engine available to the store output. It panics
// on a duplicate name. Call it from init.
func RegisterEngine(name string, open Opener) {
	if _, dup := engines[name]; dup {
		panic(fmt.Sprintf("store: engine %q registered twice", name))
	}
	engines[name] = open
}

// OpenEngine opens a store with the named engine.
func OpenEngine(ctx context.Context, name, location string) (Store, error) {
	open, ok := engines[name]
	if !ok {
		known := make([]string, 0, len(engines))
		for n := range engines {
			known = append(known, n)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("opening %s store: engine not built in (import _ \"github.com/auditproxy/auditproxy/store/%s\"; built in: %s)", name, name, strings.Join(known, ", "))
	}
	return open(ctx, location)
}
