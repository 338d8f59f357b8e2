package delivery

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/event/eventtest"
)

func TestRecordRoundTrip(t *testing.T) {
	evs := []event.Event{eventtest.Full(), eventtest.Minimal()}
	var data []byte
	for i := range evs {
		data = appendRecord(data, &evs[i])
	}
	payloads, n, err := decodeRecords(data, 0)
	if err != nil || n != len(data) || len(payloads) != 2 {
		t.Fatalf("decodeRecords = %d payloads, %d of %d bytes, %v", len(payloads), n, len(data), err)
	}
	for i, p := range payloads {
		var got event.Event
		if err := json.Unmarshal(p, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != evs[i].ID || !got.Time.Equal(evs[i].Time) || len(got.Changes) != len(evs[i].Changes) {
			t.Errorf("record %d: got %+v", i, got)
		}
		if tm := payloadTime(p); !tm.Equal(evs[i].Time) {
			t.Errorf("payloadTime = %v, want %v", tm, evs[i].Time)
		}
	}
	if payloads, _, _ := decodeRecords(data, 1); len(payloads) != 1 {
		t.Errorf("max 1: got %d", len(payloads))
	}
}

func TestDecodeRecordsStops(t *testing.T) {
	ev := eventtest.Minimal()
	one := appendRecord(nil, &ev)
	two := appendRecord(append([]byte(nil), one...), &ev)
	tests := []struct {
		name    string
		data    []byte
		records int
		short   bool // errShort rather than corrupt
	}{
		{"empty", nil, 0, false},
		{"whole", two, 2, false},
		{"short header", two[:len(one)+5], 1, true},
		{"short payload", two[:len(two)-1], 1, true},
		{"zero length", append(append([]byte(nil), one...), make([]byte, 16)...), 1, false},
		{"huge length", append(append([]byte(nil), one...), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0), 1, false},
		{"bad crc", func() []byte { d := append([]byte(nil), two...); d[len(one)+4] ^= 1; return d }(), 1, false},
	}
	for _, tc := range tests {
		payloads, n, err := decodeRecords(tc.data, 0)
		if len(payloads) != tc.records || n != tc.records*len(one) {
			t.Errorf("%s: %d records over %d bytes, want %d", tc.name, len(payloads), n, tc.records)
		}
		var ce *corruptError
		switch {
		case tc.short && err != errShort:
			t.Errorf("%s: err %v, want errShort", tc.name, err)
		case !tc.short && n < len(tc.data) && !errors.As(err, &ce):
			t.Errorf("%s: err %v, want a corruptError", tc.name, err)
		}
	}
}

// FuzzDecodeRecords: whatever the bytes, decoding never panics, never
// reads past them, and returns only records whose checksum holds.
func FuzzDecodeRecords(f *testing.F) {
	ev := eventtest.Full()
	good := appendRecord(nil, &ev)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(append([]byte(nil), good...), good[:9]...))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		payloads, n, err := decodeRecords(data, 0)
		if n < 0 || n > len(data) {
			t.Fatalf("covered %d of %d bytes", n, len(data))
		}
		if err == nil && n != len(data) {
			t.Fatalf("no error, yet %d of %d bytes left", len(data)-n, len(data))
		}
		off := 0
		for _, p := range payloads {
			length := binary.LittleEndian.Uint32(data[off:])
			sum := binary.LittleEndian.Uint32(data[off+4:])
			if int(length) != len(p) || crc32.Checksum(p, castagnoli) != sum || &data[off+headerSize] != &p[0] {
				t.Fatalf("record at %d does not match its header", off)
			}
			off += headerSize + len(p)
		}
		if off != n {
			t.Fatalf("records cover %d bytes, decodeRecords says %d", off, n)
		}
		_ = payloadTime(data) // never panics either
	})
}
