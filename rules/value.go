package rules

import (
	"encoding/json"

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

func jsonValue(r gjson.Result) value {
	if !r.Exists() {
		return value{}
	}
	switch r.Type {
	case gjson.String:
		return value{ok: true, str: r.Str, raw: []byte(r.Raw)}
	case gjson.Null:
		return value{ok: true, str: "", raw: []byte("null")}
	default: // numbers, booleans, objects and arrays read as their JSON text
		return value{ok: true, str: r.Raw, raw: []byte(r.Raw)}
	}
}

func (v value) json() []byte {
	if v.raw != nil {
		return v.raw
	}
	b, _ := json.Marshal(v.str) // a string always marshals
	return b
}
