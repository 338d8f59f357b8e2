package rules

import (
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// bearerToken returns the credential of an "Authorization: Bearer x" or
// "Authorization: Token x" header (scheme word in any case).
func bearerToken(h http.Header) string {
	auth := h.Get("Authorization")
	scheme, cred, ok := strings.Cut(auth, " ")
	if !ok || !(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
		return ""
	}
	return strings.TrimSpace(cred)
}

// jwtClaims decodes the payload of a compact JWS without verifying it: the
// claims say who the client claims to be, which is what an audit trail of an
// app that does its own verification records. It returns nil for anything
// that is not a three-part token with a JSON object payload.
func jwtClaims(token string) []byte {
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return nil
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return nil
	}
	payload = strings.TrimRight(payload, "=")
	claims, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	if !gjson.ValidBytes(claims) || !gjson.ParseBytes(claims).IsObject() {
		return nil
	}
	return claims
}

// basicUser returns the user name of an "Authorization: Basic" header.
func basicUser(h http.Header) string {
	r := http.Request{Header: h}
	user, _, ok := r.BasicAuth()
	if !ok {
		return ""
	}
	return user
}
