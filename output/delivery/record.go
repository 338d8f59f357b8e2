package delivery

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output"
)

// A record is one event in a segment file of the disk buffer:
//
//	[length uint32 LE][crc uint32 LE][payload: length bytes]
//
// The payload is the event's native JSON line (output.AppendJSON, newline
// included, so a segment reads almost like a JSON-lines file) and crc is
// its CRC-32C. Records follow each other with nothing in between.
const (
	headerSize = 8
	// maxRecord bounds a record's length: a header claiming more is
	// damage, not an event (captured bodies are bounded far below this).
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends ev as one record.
func appendRecord(dst []byte, ev *event.Event) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	dst = output.AppendJSON(dst, ev)
	payload := dst[start+headerSize:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, castagnoli))
	return dst
}

// errShort says that data ends inside a record: more may follow (a reader
// that read a chunk), or the tail was torn (at the end of a file).
var errShort = errors.New("record cut short")

// corruptError says why the bytes at Offset are not a record.
type corruptError struct {
	Offset int
	Why    string
}

func (e *corruptError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Why) }

// decodeRecords splits data into at most max payloads (max <= 0: all). It
// stops at the first record that is not whole and intact and returns the
// payloads before it, the bytes they cover (n), and why it stopped: nil
// (data used up, or max reached), errShort (data ends inside a record), or
// a *corruptError (a bad length or checksum). Payloads alias data. It never
// panics, whatever data holds.
func decodeRecords(data []byte, max int) (payloads [][]byte, n int, err error) {
	for n < len(data) && (max <= 0 || len(payloads) < max) {
		rest := data[n:]
		if len(rest) < headerSize {
			return payloads, n, errShort
		}
		length := binary.LittleEndian.Uint32(rest)
		if length == 0 || length > maxRecord {
			return payloads, n, &corruptError{n, fmt.Sprintf("bad record length %d", length)}
		}
		if uint64(len(rest)) < headerSize+uint64(length) {
			return payloads, n, errShort
		}
		payload := rest[headerSize : headerSize+length]
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(rest[4:]) {
			return payloads, n, &corruptError{n, "checksum mismatch"}
		}
		payloads = append(payloads, payload)
		n += headerSize + int(length)
	}
	return payloads, n, nil
}

// payloadTime reads the event time out of a record's payload without
// decoding all of it: drops and age checks need only the time. The native
// encoding writes "time" right after "id"; anything else falls back to a
// full decode. It returns the zero time when there is none.
func payloadTime(p []byte) time.Time {
	const key = `,"time":"`
	head := p[:min(len(p), 256)]
	if i := bytes.Index(head, []byte(key)); i >= 0 {
		v := p[i+len(key):]
		if j := bytes.IndexByte(v, '"'); j > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(v[:j])); err == nil {
				return t
			}
		}
	}
	var ev struct {
		Time time.Time `json:"time"`
	}
	_ = json.Unmarshal(p, &ev)
	return ev.Time
}
