package schematest

import (
	"fmt"
	"testing"
)

// recorder notes failures instead of failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestValidate(t *testing.T) {
	const valid = `{"id":"x","time":"2026-11-21T23:42:15.123456Z","action":"a","outcome":"success","actor":{},` +
		`"source":{"ip":"192.0.2.1"},"http":{"method":"GET","path":"/","status":200},"rule":"r"}`
	Validate(t, []byte(valid))

	for _, bad := range []string{
		`{}`,
		`{"id":"x","time":"yesterday","action":"a","outcome":"success","actor":{},"source":{"ip":"192.0.2.1"},"http":{"method":"GET","path":"/","status":200},"rule":"r"}`,
		`{"id":"x","time":"2026-11-21T23:42:15Z","action":"a","outcome":"maybe","actor":{},"source":{"ip":"192.0.2.1"},"http":{"method":"GET","path":"/","status":200},"rule":"r"}`,
		`{"id":"x","time":"2026-11-21T23:42:15Z","action":"a","outcome":"success","actor":{},"source":{},"http":{"method":"GET","path":"/","status":"200"},"rule":"r"}`,
	} {
		r := &recorder{TB: t}
		Validate(r, []byte(bad))
		if len(r.errors) == 0 {
			t.Errorf("Validate accepted %s", bad)
		}
	}
}
