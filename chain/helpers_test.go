package chain

import (
	"encoding/json"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

func decode(t *testing.T, line string) event.Event {
	t.Helper()
	var ev event.Event
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func eventtestFull(desc string) event.Event {
	ev := eventtest.Full()
	ev.ID = event.NewID()
	ev.Description = desc
	return ev
}
