package demoapp

import (
	"errors"
	"maps"
	"net/http"
	"net/mail"
	"slices"
	"strconv"
	"strings"
)

// userFields are the user fields a client may send, each with its check,
// which returns the value to store. The order fixes which error a client
// sees first when several fields are wrong.
var userFields = []struct {
	name  string
	check func(string) (string, error)
}{
	{"email", checkEmail},
	{"name", checkName},
	{"role", checkRole},
	{"password", checkPassword},
}

// userInput reads and checks the user fields the body has; a missing field is
// an error only when it is required. The result maps field name to value.
func userInput(f fields, required ...string) (map[string]string, error) {
	in := map[string]string{}
	for _, uf := range userFields {
		s, present, err := f.str(uf.name)
		if err != nil {
			return nil, err
		}
		if !present {
			if slices.Contains(required, uf.name) {
				return nil, errors.New(uf.name + " is required")
			}
			continue
		}
		if in[uf.name], err = uf.check(s); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func checkEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s {
		return "", errors.New("email is not a valid address")
	}
	return s, nil
}

func checkName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 100 {
		return "", errors.New("name must be 1 to 100 characters")
	}
	return s, nil
}

func checkRole(s string) (string, error) {
	if s != roleAdmin && s != roleUser {
		return "", errors.New(`role must be "admin" or "user"`)
	}
	return s, nil
}

func checkPassword(s string) (string, error) {
	if len(s) < 8 {
		return "", errors.New("password must be at least 8 characters")
	}
	return s, nil
}

// apply copies checked input onto u.
func (u *user) apply(in map[string]string) {
	for k, v := range in {
		switch k {
		case "email":
			u.Email = v
		case "name":
			u.Name = v
		case "role":
			u.Role = v
		case "password":
			u.passwordHash = hashPassword(v)
		}
	}
}

// signup creates a plain user. A "role" in the body is ignored, not honoured:
// nobody signs themselves up as admin.
func (a *app) signup(w http.ResponseWriter, r *http.Request) {
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	in, err := userInput(f, "email", "name", "password")
	if err != nil {
		fail(w, err)
		return
	}
	in["role"] = roleUser
	u, err := a.insertUser(in, true)
	if err != nil {
		fail(w, err)
		return
	}
	created(w, "/users/", u.ID, u)
}

// createUser is the admin's way to add a user of any role.
func (a *app) createUser(w http.ResponseWriter, r *http.Request, _ user) {
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	in, err := userInput(f, "email", "name", "password")
	if err != nil {
		fail(w, err)
		return
	}
	if _, ok := in["role"]; !ok {
		in["role"] = roleUser
	}
	u, err := a.insertUser(in, false)
	if err != nil {
		fail(w, err)
		return
	}
	created(w, "/users/", u.ID, u)
}

// insertUser stores a new user from checked input. Signups are refused
// while the allow_signup setting is off.
func (a *app) insertUser(in map[string]string, signup bool) (user, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if signup && !a.settings.AllowSignup {
		return user{}, statusError{http.StatusForbidden, "signup is disabled"}
	}
	if a.emailTaken(in["email"], 0) {
		return user{}, statusError{http.StatusConflict, "email already registered"}
	}
	a.lastUserID++
	u := user{ID: a.lastUserID}
	u.apply(in)
	a.users[u.ID] = u
	return u, nil
}

func (a *app) listUsers(w http.ResponseWriter, r *http.Request, _ user) {
	a.mu.Lock()
	list := make([]user, 0, len(a.users))
	for _, id := range slices.Sorted(maps.Keys(a.users)) {
		list = append(list, a.users[id])
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// getUser shows a user to an admin or to the user themselves. Others get 403
// whether or not the id exists, so ids cannot be probed.
func (a *app) getUser(w http.ResponseWriter, r *http.Request, me user) {
	id, ok := pathID(w, r, "user")
	if !ok {
		return
	}
	if me.Role != roleAdmin && me.ID != id {
		writeError(w, http.StatusForbidden, "not allowed")
		return
	}
	a.mu.Lock()
	u, ok := a.users[id]
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// putUser replaces email and name; password and role change only when sent.
func (a *app) putUser(w http.ResponseWriter, r *http.Request, me user) {
	a.updateUser(w, r, me, "email", "name")
}

// patchUser changes whichever fields are sent.
func (a *app) patchUser(w http.ResponseWriter, r *http.Request, me user) {
	a.updateUser(w, r, me)
}

func (a *app) updateUser(w http.ResponseWriter, r *http.Request, me user, required ...string) {
	id, ok := pathID(w, r, "user")
	if !ok {
		return
	}
	if me.Role != roleAdmin && me.ID != id {
		writeError(w, http.StatusForbidden, "not allowed")
		return
	}
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	in, err := userInput(f, required...)
	if err != nil {
		fail(w, err)
		return
	}
	// A user may resend their own role (a PUT of the whole form does), but
	// only an admin may change one.
	if role, ok := in["role"]; ok && role != me.Role && me.Role != roleAdmin {
		writeError(w, http.StatusForbidden, "only admins can change roles")
		return
	}

	a.mu.Lock()
	u, ok := a.users[id]
	switch {
	case !ok:
		err = statusError{http.StatusNotFound, "user not found"}
	case in["email"] != "" && a.emailTaken(in["email"], id):
		err = statusError{http.StatusConflict, "email already registered"}
	default:
		u.apply(in)
		a.users[id] = u
	}
	a.mu.Unlock()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// deleteUser removes a user and their sessions; their tokens stop working
// because every request looks the user up. Admins cannot delete themselves,
// which keeps the demo from locking itself out.
func (a *app) deleteUser(w http.ResponseWriter, r *http.Request, me user) {
	id, ok := pathID(w, r, "user")
	if !ok {
		return
	}
	if id == me.ID {
		writeError(w, http.StatusConflict, "you cannot delete your own account")
		return
	}
	a.mu.Lock()
	_, ok = a.users[id]
	delete(a.users, id)
	maps.DeleteFunc(a.sessions, func(_ string, uid int) bool { return uid == id })
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "user not found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// created answers 201 with v and a Location of prefix+id, as REST apps do;
// rules can read it as response.header.Location.
func created(w http.ResponseWriter, prefix string, id int, v any) {
	w.Header().Set("Location", prefix+strconv.Itoa(id))
	writeJSON(w, http.StatusCreated, v)
}
