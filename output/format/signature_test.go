package format

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/auditproxy/auditproxy/output/schematest"
)

// TestAppendJSONChainFields: seq, prev_hash, hash and a checkpoint's
// signature are written last, in that order, as encoding/json writes them,
// and the line is a valid event.
func TestAppendJSONChainFields(t *testing.T) {
	ev := fullEvent()
	ev.Seq, ev.PrevHash, ev.Hash, ev.Signature = 7, "ab12", "cd34", "c2lnbmF0dXJl"
	got := AppendJSON(nil, &ev)
	want, _ := json.Marshal(&ev)
	if string(got) != string(want)+"\n" {
		t.Errorf("AppendJSON and encoding/json differ:\n got %s\nwant %s", got, want)
	}
	if !strings.HasSuffix(string(got), `"seq":7,"prev_hash":"ab12","hash":"cd34","signature":"c2lnbmF0dXJl"}`+"\n") {
		t.Errorf("chain fields not last, in order: %s", got)
	}
	schematest.Validate(t, got)
}
