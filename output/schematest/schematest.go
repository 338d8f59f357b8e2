// Package schematest checks, in tests, that JSON events have the shape of
// the event contract, shared/event.schema.json. The shared folder sits next
// to the repository (../shared from the directory holding go.mod); when it
// is missing the test is skipped, not failed.
package schematest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Path returns the path of event.schema.json, or skips the test when it
// cannot be found.
func Path(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("schematest: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("schematest: no go.mod above the working directory, so no ../shared/event.schema.json to validate against")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "event.schema.json")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("schematest: event schema not found next to the repository (%v); skipping validation", err)
	}
	return path
}

// schemas caches the compiled schema by path: compiling it is the slow part.
var schemas sync.Map // string -> func() (*jsonschema.Schema, error)

// Validate fails the test unless doc (one JSON object, e.g. a line a sink
// wrote) is a valid event. Formats (date-time) are checked too.
func Validate(t testing.TB, doc []byte) {
	t.Helper()
	path := Path(t)
	compile, _ := schemas.LoadOrStore(path, sync.OnceValues(func() (*jsonschema.Schema, error) {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		return c.Compile(path)
	}))
	sch, err := compile.(func() (*jsonschema.Schema, error))()
	if err != nil {
		t.Fatalf("schematest: compiling %s: %v", path, err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("schematest: not JSON: %v\n%s", err, doc)
	}
	if err := sch.Validate(v); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			t.Errorf("event does not match %s:\n%s\n%s", path, doc, verr.GoString())
			return
		}
		t.Errorf("event does not match %s: %v\n%s", path, err, doc)
	}
}
