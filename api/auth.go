package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/identity"
	"github.com/tidwall/gjson"
)

// adminName is the actor recorded for reads made with an admin token.
const adminName = "admin"

// caller is who is asking.
type caller struct {
	// name is "admin" for an admin token, else the user's actor id or name.
	name  string
	admin bool
}

// maysee says whether the caller may read ev.
func (c caller) maysee(ev *event.Event) bool {
	return c.admin || ev.Actor.ID == c.name || ev.Actor.Name == c.name
}

// ownActor is the store.Filter.OwnActor for the caller: "" for an admin.
func (c caller) ownActor() string {
	if c.admin {
		return ""
	}
	return c.name
}

func (c caller) actor() event.Actor {
	if c.admin {
		return event.Actor{ID: adminName, Type: "admin"}
	}
	return event.Actor{ID: c.name, Type: "user"}
}

// userToken is a user token by its SHA-256, and whose it is.
type userToken struct {
	sum   [sha256.Size]byte
	actor string
}

// authenticator checks bearer tokens. Tokens are kept as SHA-256 sums and
// compared sum to sum with crypto/subtle, every one of them on every
// request: neither the position of the first differing byte nor a token's
// length shows in the time an answer takes.
type authenticator struct {
	admins []([sha256.Size]byte)
	users  []userToken
	jwt    *identity.Verifier
	claim  string
}

func newAuthenticator(cfg Config) (authenticator, error) {
	a := authenticator{jwt: cfg.JWT, claim: cfg.ActorClaim}
	if a.claim == "" {
		a.claim = "sub"
	}
	seen := map[[sha256.Size]byte]bool{}
	for i, t := range cfg.AdminTokens {
		if t == "" {
			return a, fmt.Errorf("configuring the query api: admin token %d is empty", i+1)
		}
		sum := sha256.Sum256([]byte(t))
		seen[sum] = true
		a.admins = append(a.admins, sum)
	}
	for t, actor := range cfg.UserTokens {
		if t == "" {
			return a, fmt.Errorf("configuring the query api: the user token of %q is empty", actor)
		}
		if actor == "" {
			return a, errors.New("configuring the query api: a user token belongs to no actor")
		}
		sum := sha256.Sum256([]byte(t))
		if seen[sum] {
			// Whose would it be? Refuse rather than pick one.
			return a, fmt.Errorf("configuring the query api: the user token of %q is also an admin token", actor)
		}
		a.users = append(a.users, userToken{sum, actor})
	}
	if len(a.admins) == 0 && len(a.users) == 0 && a.jwt == nil {
		return a, errors.New("configuring the query api: no admin tokens, user tokens or JWT verification: nobody could read the trail")
	}
	return a, nil
}

var errNoCredentials = errors.New("missing credentials: send Authorization: Bearer <token>")

// errBadCredentials is all a client learns about a refused token, whatever
// the reason.
var errBadCredentials = errors.New("invalid credentials")

// authenticate returns the caller the request's bearer token belongs to.
func (a *authenticator) authenticate(r *http.Request) (caller, error) {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return caller{}, errNoCredentials
	}
	if len(values) > 1 {
		return caller{}, errors.New("more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return caller{}, errNoCredentials
	}

	sum := sha256.Sum256([]byte(token))
	admin := 0
	for i := range a.admins {
		admin |= subtle.ConstantTimeCompare(sum[:], a.admins[i][:])
	}
	user := -1
	for i := range a.users {
		if subtle.ConstantTimeCompare(sum[:], a.users[i].sum[:]) == 1 {
			user = i // no break: every token costs the same
		}
	}
	switch {
	case admin == 1:
		return caller{name: adminName, admin: true}, nil
	case user >= 0:
		return caller{name: a.users[user].actor}, nil
	case a.jwt != nil && strings.Count(token, ".") == 2:
		return a.fromJWT(token)
	}
	return caller{}, errBadCredentials
}

// fromJWT verifies the app's own JWT and takes the user from its actor
// claim: the same identity the rules extract from the app's requests.
func (a *authenticator) fromJWT(token string) (caller, error) {
	claims, err := a.jwt.Verify(token)
	if err != nil {
		return caller{}, errBadCredentials
	}
	v := gjson.GetBytes(claims, a.claim)
	if v.Type != gjson.String && v.Type != gjson.Number || v.String() == "" {
		return caller{}, fmt.Errorf("invalid credentials: the jwt has no %q claim", a.claim)
	}
	return caller{name: v.String()}, nil
}

// credentialParams are query parameters that look like credentials. They
// are refused with a clear message, not ignored: a token in a URL ends up in
// logs and browser history, so it must not work even by accident.
var credentialParams = []string{"token", "access_token", "api_key", "apikey", "auth", "authorization", "bearer", "jwt", "key", "sig"}

func credentialsInURL(r *http.Request) error {
	q := r.URL.Query()
	for _, p := range credentialParams {
		if q.Has(p) {
			return fmt.Errorf("%s: credentials go in the Authorization header, never in the URL", p)
		}
	}
	return nil
}
