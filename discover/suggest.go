package discover

import (
	"net/http"
	"slices"
	"strings"
)

// Suggestion is the rule suggested for an endpoint. Sources are spelled as
// in a rules file: jwt.sub, path.id, request.body.email.
type Suggestion struct {
	Action   string // e.g. user.created
	Status   string // status condition: 2xx, 3xx, [2xx, 3xx] or 4xx; "" for any status
	Severity string // "" for the rules' default
	Actor    Party
	Target   Party
	Changes  []string // request body fields, at most 10
	// IdentitySlot is set when a session cookie is the only sign of who
	// called: the slot (cookie.sid) that the actor's identity.id and
	// identity.name are looked up by. A session id is a secret and names a
	// session, not a user, so it is never the actor itself.
	IdentitySlot string
	// Bind is, for a login that sets (or carries) a session cookie, what
	// it teaches: that cookie stands for the user who logged in.
	Bind *Binding
	// Unbind lists, for a logout, the slots whose binding it ends.
	Unbind []string
	// Failure is, for logins, a second rule for failed attempts (4xx). It
	// goes before this one.
	Failure *Suggestion
	Notes   []string // what the reviewer should know about these guesses
}

// Binding is a rule's bind: entry: later requests carrying Slot's value
// (the one this exchange has at Key) are from the user ID and Name name.
type Binding struct{ Slot, Key, ID, Name string }

// Party is a suggested actor or target: Type is literal text, ID and Name
// are sources. Empty fields are left out.
type Party struct{ Type, ID, Name string }

func (p Party) empty() bool { return p == Party{} }

var verbs = map[string]string{
	http.MethodPost:   "created",
	http.MethodPut:    "updated",
	http.MethodPatch:  "updated",
	http.MethodDelete: "deleted",
}

func suggest(e *Endpoint) Suggestion {
	var s Suggestion
	switch {
	case logoutLike(e.words()) || e.Login && e.Method == http.MethodDelete:
		s.Action = "user.logged_out"
		s.Status = successStatus(e, &s)
		callerActor(e, &s)
		if s.IdentitySlot != "" {
			s.Unbind = []string{s.IdentitySlot}
		}
	case e.Login && !e.carriesJWT():
		suggestLogin(e, &s)
	default:
		if e.Login {
			s.Notes = append(s.Notes, "the path looks like a login, but the requests carry a JWT: taken as something a signed-in user does (a token refresh, a new API token)")
		}
		s.Action, s.Target.Type = restAction(e)
		s.Status = successStatus(e, &s)
		callerActor(e, &s)
		suggestTarget(e, &s)
		s.Changes = changes(e)
	}
	if e.BodyKinds["over the capture limit"] > 0 {
		s.Notes = append(s.Notes, "some request bodies were over the capture limit: fields may be missing")
	}
	return s
}

// successStatus suggests matching the successful answers when they are
// most of them. Legacy form apps answer a successful POST with a redirect,
// so 3xx counts as success too.
func successStatus(e *Endpoint, s *Suggestion) string {
	var ok2, ok3, all int
	for code, n := range e.Statuses {
		all += n
		switch code / 100 {
		case 2:
			ok2 += n
		case 3:
			ok3 += n
		}
	}
	switch {
	case (ok2+ok3)*2 < all:
		s.Notes = append(s.Notes, "most answers were failures, so there is no status condition: refused attempts are recorded too (outcome failure)")
		return ""
	case ok2 > 0 && ok3 > 0:
		return "[2xx, 3xx]"
	case ok3 > 0:
		return "3xx"
	}
	return "2xx"
}

func suggestLogin(e *Endpoint, s *Suggestion) {
	s.Action = "user.logged_in"
	var ok2, ok3 int
	for code, n := range e.Statuses {
		switch code / 100 {
		case 2:
			ok2 += n
		case 3:
			ok3 += n
		}
	}
	switch {
	case ok2 > 0 && ok3 > 0:
		s.Status = "[2xx, 3xx]"
		s.Notes = append(s.Notes, "answered both 2xx and 3xx: form logins often answer a failure with 200 (the form again) and a success with a redirect; if so, keep only 3xx")
	case ok3 > 0:
		s.Status = "3xx"
	default:
		s.Status = "2xx"
		if ok2 == 0 {
			s.Notes = append(s.Notes, "no successful login seen: the status of a success is a guess")
		}
	}

	user := loginName(e)
	switch {
	case user != "":
		s.Actor.Name = "request.body." + user
	case e.hasCredential("basic.user"):
		s.Actor.Name = "basic.user"
	case e.hasResponseKey("user.name"):
		s.Actor.Name = "response.body.user.name"
	}
	for _, k := range []string{"user.id", "user_id", "id"} {
		if e.hasResponseKey(k) {
			s.Actor.ID = "response.body." + k
			break
		}
	}
	if !s.Actor.empty() {
		// What the login teaches: the session cookie its answer sets, or
		// else the one the request already carried, is this user's.
		for _, c := range e.SetCookies {
			if sessionCookie(c) {
				s.Bind = &Binding{Slot: "cookie." + c, Key: "response.cookie." + c, ID: s.Actor.ID, Name: s.Actor.Name}
				break
			}
		}
		for _, c := range e.Credentials {
			if s.Bind == nil && strings.HasPrefix(c.Name, "cookie.") {
				s.Bind = &Binding{Slot: c.Name, Key: c.Name, ID: s.Actor.ID, Name: s.Actor.Name}
			}
		}
	}
	s.Failure = &Suggestion{Action: "user.login_failed", Status: "4xx", Severity: "warning"}
	if s.Actor.Name != "" {
		s.Failure.Actor = Party{Name: s.Actor.Name}
		s.Failure.Target = Party{Type: "user", Name: s.Actor.Name}
	}
	if e.Method == http.MethodGet {
		s.Notes = append(s.Notes, "a GET to a login-like path is often the login page or a token refresh, not a login: keep these rules only if it is one (an OAuth or SSO callback is)")
	}
	if s.Bind != nil {
		s.Notes = append(s.Notes, "bind: teaches auditproxy that the session cookie "+s.Bind.Slot+" is this user's, so later requests that carry only that cookie get an actor (identity.id, identity.name)")
	}
}

// loginName finds the field a login form sends the user name in: a usual
// name, or else one that says user, login or email (form_login).
func loginName(e *Endpoint) string {
	for _, want := range []string{"username", "user", "login", "email", "user_name", "userName", "uname", "log", "name", "user_login"} {
		for _, f := range e.Body {
			if strings.EqualFold(f.Name, want) && plainName(f.Name) {
				return f.Name
			}
		}
	}
	for _, f := range e.Body {
		w := word(f.Name)
		if plainName(f.Name) && !defaultRedact(f.Name) && (strings.Contains(w, "user") || strings.Contains(w, "login") || strings.Contains(w, "email")) {
			return f.Name
		}
	}
	return ""
}

// callerActor suggests where the actor comes from: a JWT's claims, Basic
// auth, or (in a comment only) a session cookie.
func callerActor(e *Endpoint, s *Suggestion) {
	for _, c := range []string{"jwt.sub", "jwt.user_id", "jwt.uid", "jwt.id"} {
		if e.hasCredential(c) {
			s.Actor.ID = c
			break
		}
	}
	for _, c := range []string{"jwt.name", "jwt.preferred_username", "jwt.username", "jwt.email", "jwt.login", "jwt.unique_name"} {
		if e.hasCredential(c) {
			s.Actor.Name = c
			break
		}
	}
	if !s.Actor.empty() {
		return
	}
	if e.hasCredential("basic.user") {
		s.Actor.Name = "basic.user"
		return
	}
	for _, c := range e.Credentials {
		if strings.HasPrefix(c.Name, "jwt.") {
			s.Notes = append(s.Notes, "requests carry a JWT, but with no claim named like a user id or name: pick one from the claims above")
			return
		}
	}
	for _, c := range e.Credentials {
		if strings.HasPrefix(c.Name, "cookie.") {
			s.IdentitySlot = c.Name
			s.Actor = Party{ID: "identity.id", Name: "identity.name"}
			s.Notes = append(s.Notes, "only the session cookie "+c.Name+" says who called: a secret that names a session, not a user, so the actor comes from identity learning (a login rule's bind:)")
			return
		}
	}
	if e.OpaqueBearer > 0 {
		s.Notes = append(s.Notes, "requests carry a bearer token that is not a JWT: auditproxy cannot tell whom it stands for")
		return
	}
	s.Notes = append(s.Notes, "no credentials seen: who called is unknown (is this endpoint public?)")
}

func suggestTarget(e *Endpoint, s *Suggestion) {
	switch {
	case slices.Contains(e.pattern, param):
		s.Target.ID = "path.id"
	case e.hasResponseKey("id"):
		s.Target.ID = "response.body.id"
	case s.Target.Type != "" && e.hasResponseKey(s.Target.Type+".id"):
		s.Target.ID = "response.body." + s.Target.Type + ".id"
	case e.hasResponseKey("data.id"):
		s.Target.ID = "response.body.data.id"
	default:
		// Form apps name what they change in the body: post_ID=12.
		for _, f := range e.Body {
			w := word(f.Name)
			if plainName(f.Name) && (w == "id" || strings.HasSuffix(w, "_id")) {
				s.Target.ID = "request.body." + f.Name
				if s.Target.Type == "" && w != "id" {
					s.Target.Type = strings.TrimSuffix(w, "_id")
				}
				break
			}
		}
	}
	for _, name := range []string{"email", "username", "name", "title", "login", "slug"} {
		if e.hasBodyField(name) {
			s.Target.Name = "request.body." + name
			return
		}
	}
	for _, name := range []string{"email", "username", "name", "title", "login", "slug"} {
		if e.hasResponseKey(name) {
			s.Target.Name = "response.body." + name
			return
		}
	}
}

// restAction names what a request does, from its method and path:
// POST /users -> user.created, POST /orders/{id}/cancel -> order.cancel,
// and from the conditions of an RPC-style endpoint:
// ?module=API&method=UsersManager.addUser -> api.users_manager.add_user.
// It also returns the target type ("" when it cannot tell).
func restAction(e *Endpoint) (action, typ string) {
	if len(e.Conditions) > 0 {
		var parts []string
		if w := word(stripExt(lastLiteral(e.pattern))); w != "" && !genericEndpoint(w) {
			parts = append(parts, w) // post.php?action=trash -> post.trash
		}
		for _, c := range e.Conditions {
			for _, part := range strings.FieldsFunc(c.Value, func(r rune) bool { return r == '.' || r == '/' || r == ':' }) {
				if w := word(part); w != "" {
					parts = append(parts, w)
				}
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "."), ""
		}
	}
	p := e.pattern
	last := stripExt(lastLiteral(p))
	switch strings.ToLower(word(last)) {
	case "signup", "sign_up", "register", "registration":
		return "user.signed_up", "user"
	}
	verb := verbs[e.Method]
	if verb == "" {
		verb = word(e.Method)
	}
	if verb == "" {
		verb = "changed"
	}
	if n := len(p); n >= 3 && p[n-1] != param && p[n-1] != "" && !plural(p[n-1]) && p[n-2] == param && p[n-3] != param && plural(p[n-3]) {
		typ, act := singular(word(p[n-3])), word(stripExt(p[n-1]))
		if typ != "" && act != "" {
			return typ + "." + act, typ
		}
	}
	typ = singular(word(last))
	if typ == "" {
		typ = "resource"
	}
	return typ + "." + verb, typ
}

func lastLiteral(p pattern) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != param && p[i] != "" {
			return p[i]
		}
	}
	return ""
}

// genericEndpoint: the word of a path that is a front door for many
// actions (index.php, admin-ajax.php, /api, /rpc) says nothing about any.
func genericEndpoint(w string) bool {
	for _, g := range []string{"index", "api", "ajax", "rpc", "graphql", "service", "dispatch", "handler", "action", "gateway", "endpoint"} {
		if strings.Contains(w, g) {
			return true
		}
	}
	return false
}

// stripExt drops a file extension: index.php -> index.
func stripExt(s string) string {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || len(s)-i > 6 {
		return s
	}
	for _, r := range s[i+1:] {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return s
		}
	}
	return s[:i]
}

// changes suggests the request body fields to record, leaving out form
// plumbing (CSRF tokens, submit buttons), the fields the rule matches on,
// and names a source cannot spell plainly (user[email], a.b, which gjson
// reads as paths).
func changes(e *Endpoint) []string {
	var out []string
	for _, f := range e.Body {
		if len(out) == 10 {
			break
		}
		isCondition := slices.ContainsFunc(e.Conditions, func(c Condition) bool { return c.In != "query" && c.Name == f.Name })
		if plainName(f.Name) && !formPlumbing(f.Name) && !isCondition {
			out = append(out, f.Name)
		}
	}
	return out
}

func formPlumbing(name string) bool {
	n := strings.ToLower(name)
	if strings.Contains(n, "csrf") || strings.Contains(n, "xsrf") {
		return true
	}
	switch n {
	case "_token", "authenticity_token", "__requestverificationtoken", "_method", "utf8", "commit", "submit", "_wpnonce":
		return true
	}
	return false
}

// plainName: a field name a source reads literally both in JSON (as a gjson
// path) and in forms.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// words is the text that says whether an endpoint is a login: its
// template's literal segments and its conditions' values
// (/index.php?module=Login&action=logme).
func (e *Endpoint) words() string {
	w := e.pattern.literalPath()
	for _, c := range e.Conditions {
		w += " " + c.Value
	}
	return w
}

func (e *Endpoint) hasCredential(name string) bool {
	return slices.ContainsFunc(e.Credentials, func(f Field) bool { return f.Name == name })
}

func (e *Endpoint) carriesJWT() bool {
	return slices.ContainsFunc(e.Credentials, func(f Field) bool { return strings.HasPrefix(f.Name, "jwt.") })
}

func (e *Endpoint) hasBodyField(name string) bool {
	return slices.ContainsFunc(e.Body, func(f Field) bool { return f.Name == name })
}

func (e *Endpoint) hasResponseKey(key string) bool { return slices.Contains(e.ResponseKeys, key) }

func quoteAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = quoteSample(s)
	}
	return out
}
