package rules

import (
	"net/http"

	"github.com/tidwall/gjson"
)

func cookieFrom(h http.Header, name string) (string, error) {
	r := http.Request{Header: h}
	c, err := r.Cookie(name)
	if err != nil {
		return "", err
	}
	return c.Value, nil
}

func gjsonGet(json []byte, path string) gjson.Result { return gjson.GetBytes(json, path) }

func canonicalHeader(name string) string { return http.CanonicalHeaderKey(name) }
