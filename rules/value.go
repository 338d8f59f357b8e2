package rules

import (
	"encoding/json"
	"unsafe"

	"github.com/tidwall/gjson"
)

// value is what a source yielded. Events carry ids and names as strings
// whatever their JSON type (str), and changes as JSON values (raw).
type value struct {
	ok  bool
	str string
	raw []byte // JSON; computed from str when nil
}

func stringValue(s string) value { return value{ok: true, str: s} }

// getJSON looks path up in data. The value is not copied out: its str and
// raw point into data (but for a string with escapes, which is unescaped
// into new memory), which saves two or three allocations per value. So
// data must never be written again. It never is: callers pass a captured
// body, which nothing writes to once the proxy has handed the exchange
// over, or decoded JWT claims, which the token caches share read-only. The
// event holds on to data for as long as it holds the value.
func getJSON(data []byte, path string) value {
	return jsonValue(gjson.Get(unsafe.String(unsafe.SliceData(data), len(data)), path))
}

var jsonNull = []byte("null")

// jsonValue turns a result into a value whose raw shares r.Raw's memory;
// nothing writes into a value's raw (cap is len, so even an append copies).
func jsonValue(r gjson.Result) value {
	if !r.Exists() {
		return value{}
	}
	raw := unsafe.Slice(unsafe.StringData(r.Raw), len(r.Raw))
	switch r.Type {
	case gjson.String:
		return value{ok: true, str: r.Str, raw: raw}
	case gjson.Null:
		return value{ok: true, str: "", raw: jsonNull[:4:4]}
	default: // numbers, booleans, objects and arrays read as their JSON text
		return value{ok: true, str: r.Raw, raw: raw}
	}
}

func (v value) json() []byte {
	if v.raw != nil {
		return v.raw
	}
	b, _ := json.Marshal(v.str) // a string always marshals
	return b
}
