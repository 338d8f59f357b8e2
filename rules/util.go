package rules

import "net/http"

func cookieFrom(h http.Header, name string) (string, error) {
	r := http.Request{Header: h}
	c, err := r.Cookie(name)
	if err != nil {
		return "", err
	}
	return c.Value, nil
}

func canonicalHeader(name string) string { return http.CanonicalHeaderKey(name) }
