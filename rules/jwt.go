package rules

import (
	"net/http"
)

// basicUser returns the user name of an "Authorization: Basic" header.
func basicUser(h http.Header) string {
	r := http.Request{Header: h}
	user, _, ok := r.BasicAuth()
	if !ok {
		return ""
	}
	return user
}
