package testserver

import (
	"encoding/json"
	"testing"
	"time"
)

// SyslogRecord is what a syslog daemon made of one message it received:
// the fields it parsed, as the daemon itself wrote them down (one JSON
// object per line of its output file). Tests compare these with what they
// sent, so that a message the daemon misreads fails even though its bytes
// arrived.
//
// Each daemon has its own ways, kept as they are: rsyslog keeps a leading
// BOM in Msg and writes "-" for a NILVALUE; syslog-ng drops the BOM and
// writes "" for a NILVALUE.
type SyslogRecord struct {
	PRI     string `json:"pri"`     // the PRI value, e.g. "134"
	Time    string `json:"time"`    // TIMESTAMP, RFC 3339 with microseconds
	Host    string `json:"host"`    // HOSTNAME
	Program string `json:"program"` // APP-NAME
	PID     string `json:"pid"`     // PROCID
	MsgID   string `json:"msgid"`   // MSGID
	// SData is the STRUCTURED-DATA as the daemon writes it back out
	// (rsyslog: as it arrived; syslog-ng: rebuilt from what it parsed).
	SData string `json:"sdata"`
	// Params are the SD-PARAMs by SD-ID and name, unescaped, for daemons
	// that parse structured data into fields (syslog-ng); nil for rsyslog.
	Params map[string]map[string]string `json:"params"`
	Msg    string                       `json:"msg"` // MSG
	Raw    string                       `json:"raw"` // the message as it arrived, without framing
}

// WaitForSyslogRecords waits until the output file of a syslog daemon
// started here holds at least n records and returns them all; it fails
// the test after timeout or on a line that is not a record.
func WaitForSyslogRecords(t testing.TB, path string, n int, timeout time.Duration) []SyslogRecord {
	t.Helper()
	lines := WaitForLines(t, path, n, timeout)
	recs := make([]SyslogRecord, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &recs[i]); err != nil {
			t.Fatalf("%s: line %d: %v: %q", path, i+1, err, l)
		}
	}
	return recs
}
