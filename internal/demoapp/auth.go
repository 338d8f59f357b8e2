package demoapp

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// claims are the JWT claims the app issues. auditproxy's rules read them
// (jwt.sub, jwt.name) without verifying, so they carry the names an audit
// event wants, not just the id.
type claims struct {
	Sub  string `json:"sub"` // the user id, as a string like most issuers write it
	Name string `json:"name"`
	Role string `json:"role"`
	IAT  int64  `json:"iat"`
	Exp  int64  `json:"exp"`
}

// jwtHeader is the only header the app writes or accepts. Comparing it
// byte for byte rejects "alg":"none" and every other algorithm with no
// parsing at all.
var jwtHeader = b64([]byte(`{"alg":"HS256","typ":"JWT"}`))

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signToken returns an HS256 JWT for c.
func signToken(secret []byte, c claims) string {
	payload, _ := json.Marshal(c)
	unsigned := jwtHeader + "." + b64(payload)
	return unsigned + "." + b64(hmacSHA256(secret, unsigned))
}

func hmacSHA256(secret []byte, s string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// verifyToken checks the signature and expiry of tok and returns its claims.
func verifyToken(secret []byte, tok string, now time.Time) (claims, error) {
	header, rest, _ := strings.Cut(tok, ".")
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || header != jwtHeader {
		return claims{}, errors.New("malformed token")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, hmacSHA256(secret, header+"."+payload)) {
		return claims{}, errors.New("bad signature")
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return claims{}, errors.New("malformed token")
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return claims{}, errors.New("malformed token")
	}
	if now.Unix() >= c.Exp {
		return claims{}, errors.New("token expired")
	}
	return c, nil
}

// tokenFor issues a JWT for u.
func (a *app) tokenFor(u user) string {
	now := time.Now()
	return signToken(a.secret, claims{
		Sub:  strconv.Itoa(u.ID),
		Name: u.Name,
		Role: u.Role,
		IAT:  now.Unix(),
		Exp:  now.Add(tokenTTL).Unix(),
	})
}

// currentUser finds who is calling: a Bearer token wins over the cookie,
// and a bad token is not rescued by a good cookie, so a client always learns
// that its token is wrong. The user is looked up on every request, so a
// deleted user's tokens stop working and a role change applies at once,
// whatever role the token claims.
func (a *app) currentUser(r *http.Request) (user, bool) {
	id, sid := 0, ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return user{}, false
		}
		c, err := verifyToken(a.secret, strings.TrimSpace(tok), time.Now())
		if err != nil {
			return user{}, false
		}
		if id, err = strconv.Atoi(c.Sub); err != nil {
			return user{}, false
		}
	} else if ck, err := r.Cookie(sessionCookie); err == nil {
		sid = ck.Value
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if sid != "" {
		id = a.sessions[sid]
	}
	u, ok := a.users[id]
	return u, ok
}

// authed lets h run only for an authenticated caller.
func (a *app) authed(h func(http.ResponseWriter, *http.Request, user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok := a.currentUser(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "authentication required")
			return
		}
		h(w, r, u)
	}
}

// adminOnly lets h run only for an authenticated admin.
func (a *app) adminOnly(h func(http.ResponseWriter, *http.Request, user)) http.HandlerFunc {
	return a.authed(func(w http.ResponseWriter, r *http.Request, u user) {
		if u.Role != roleAdmin {
			writeError(w, http.StatusForbidden, "admin only")
			return
		}
		h(w, r, u)
	})
}

// login answers {"username","password"}, username being the email.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	username, _, err1 := f.str("username")
	password, _, err2 := f.str("password")
	if err := cmp.Or(err1, err2); err != nil {
		fail(w, err)
		return
	}
	email := strings.ToLower(strings.TrimSpace(username))
	hash := hashPassword(password)

	a.mu.Lock()
	var found user
	ok := false
	for _, u := range a.users {
		if u.Email == email {
			found, ok = u, subtle.ConstantTimeCompare(u.passwordHash[:], hash[:]) == 1
			break
		}
	}
	sid := ""
	if ok {
		sid = rand.Text() // 128 random bits
		a.sessions[sid] = found.ID
	}
	a.mu.Unlock()

	if !ok {
		writeError(w, http.StatusUnauthorized, "invalid credentials")
		return
	}
	// Secure is off because the demo serves plain HTTP on loopback.
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	writeJSON(w, http.StatusOK, map[string]any{"token": a.tokenFor(found), "user": found})
}

// logout ends the cookie session, if any, and always answers 204: logging
// out twice is not an error. A JWT cannot be revoked; it simply expires.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		a.mu.Lock()
		delete(a.sessions, ck.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	w.WriteHeader(http.StatusNoContent)
}
