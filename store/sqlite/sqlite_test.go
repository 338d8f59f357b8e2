package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/auditproxy/auditproxy/store"
	"github.com/auditproxy/auditproxy/store/sqlite"
	"github.com/auditproxy/auditproxy/store/storetest"
)

func open(t *testing.T) store.Store {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}
