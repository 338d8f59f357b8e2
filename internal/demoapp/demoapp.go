// Package demoapp is a small "legacy" web app that `auditproxy demo` runs on
// loopback behind the proxy, so a new user can watch audit events appear
// with nothing else installed. It looks like the apps auditproxy is made
// for: JSON and form bodies, a session cookie and a JWT, numeric ids in
// paths, admin-only endpoints, and no audit log of its own. rules.yaml at the
// repository root audits it.
//
// State lives in memory and is lost when the process exits. The package uses
// the standard library only.
package demoapp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The seeded accounts, so the demo command can print ready-to-paste curl
// lines. Log in with the email as "username".
const (
	AliceEmail    = "alice@example.com" // id 1, role admin
	AlicePassword = "alice-password"
	BobEmail      = "bob@example.com" // id 2, role user
	BobPassword   = "bob-password"
)

const (
	roleAdmin = "admin"
	roleUser  = "user"

	sessionCookie = "sid"
	tokenTTL      = 12 * time.Hour
	maxBodyBytes  = 1 << 20
)

// user is one account. The password hash is unexported so it never reaches
// a response.
type user struct {
	ID           int    `json:"id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Role         string `json:"role"`
	passwordHash [sha256.Size]byte
}

type project struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	OwnerID     int    `json:"owner_id"`
}

// settings are the site-wide settings. SMTPPassword is returned to admins as
// is, like many legacy apps do; it is the field that shows off redaction in
// the audit events.
type settings struct {
	SiteName     string `json:"site_name"`
	AllowSignup  bool   `json:"allow_signup"`
	SMTPHost     string `json:"smtp_host"`
	SMTPPassword string `json:"smtp_password"`
}

// app holds all state behind one mutex: requests are tiny, so finer locking
// would buy nothing but bugs. Values (not pointers) are stored so a copy
// taken under the lock can be encoded after it is released.
type app struct {
	secret []byte // signs JWTs; random per New, so tokens die with the process

	mu            sync.Mutex
	users         map[int]user
	lastUserID    int            // ids are never reused, as in a database
	sessions      map[string]int // sid cookie -> user id
	projects      map[int]project
	lastProjectID int
	settings      settings
}

// New returns the demo app with alice (admin), bob (user) and one project
// seeded. It is safe for concurrent use.
func New() http.Handler {
	return newApp().routes()
}

func newApp() *app {
	secret := make([]byte, 32)
	rand.Read(secret) // never fails (crypto/rand panics instead)
	a := &app{
		secret:   secret,
		users:    map[int]user{},
		sessions: map[string]int{},
		projects: map[int]project{},
		settings: settings{
			SiteName:     "Acme Intranet",
			AllowSignup:  true,
			SMTPHost:     "smtp.example.com",
			SMTPPassword: "smtp-secret",
		},
	}
	a.insertUser(map[string]string{"email": AliceEmail, "name": "Alice", "role": roleAdmin, "password": AlicePassword}, false)
	a.insertUser(map[string]string{"email": BobEmail, "name": "Bob", "role": roleUser, "password": BobPassword}, false)
	a.projects[1] = project{ID: 1, Name: "Website relaunch", Description: "New public website", OwnerID: 1}
	a.lastProjectID = 1
	return a
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", index)

	mux.HandleFunc("POST /signup", a.signup)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)

	mux.HandleFunc("GET /users", a.adminOnly(a.listUsers))
	mux.HandleFunc("POST /users", a.adminOnly(a.createUser))
	mux.HandleFunc("GET /users/{id}", a.authed(a.getUser))
	mux.HandleFunc("PUT /users/{id}", a.authed(a.putUser))
	mux.HandleFunc("PATCH /users/{id}", a.authed(a.patchUser))
	mux.HandleFunc("DELETE /users/{id}", a.adminOnly(a.deleteUser))

	mux.HandleFunc("GET /projects", a.authed(a.listProjects))
	mux.HandleFunc("POST /projects", a.authed(a.createProject))
	mux.HandleFunc("GET /projects/{id}", a.authed(a.getProject))
	mux.HandleFunc("PUT /projects/{id}", a.authed(a.putProject))
	mux.HandleFunc("DELETE /projects/{id}", a.authed(a.deleteProject))

	mux.HandleFunc("GET /settings", a.adminOnly(a.getSettings))
	mux.HandleFunc("PUT /settings", a.adminOnly(a.putSettings))
	return mux
}

const indexText = `auditproxy demo app: a small "legacy" app for auditproxy to audit.

POST   /signup         {"email","name","password"}  (JSON or form)
POST   /login          {"username","password"}      -> token, and a sid cookie
POST   /logout
GET    /users          admin
POST   /users          admin: {"email","name","password","role"}
GET    /users/{id}     yourself or admin
PUT    /users/{id}     yourself or admin: {"email","name"[,"password","role"]}
PATCH  /users/{id}     yourself or admin: any of email, name, password, role
DELETE /users/{id}     admin
GET    /projects
POST   /projects       {"name"[,"description"]}
GET    /projects/{id}
PUT    /projects/{id}  owner or admin: {"name"[,"description"]}
DELETE /projects/{id}  owner or admin
GET    /settings       admin
PUT    /settings       admin: any of site_name, allow_signup, smtp_host, smtp_password

Authenticate with "Authorization: Bearer <token>" or the sid cookie.
Seeded users: alice@example.com / alice-password (admin), bob@example.com / bob-password.
`

func index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, indexText)
}

// hashPassword is deliberately simple: a real app would use bcrypt or argon2,
// which are not in the standard library. The demo only needs to avoid keeping
// plain text around.
func hashPassword(p string) [sha256.Size]byte {
	return sha256.Sum256([]byte(p))
}

// emailTaken reports whether a user other than except has email. The caller
// holds a.mu.
func (a *app) emailTaken(email string, except int) bool {
	for _, u := range a.users {
		if u.ID != except && u.Email == email {
			return true
		}
	}
	return false
}

// statusError is a failure that knows its HTTP status.
type statusError struct {
	status int
	msg    string
}

func (e statusError) Error() string { return e.msg }

// fail writes err as the response: a statusError with its status, any other
// error as 400, because the only other errors come from reading bad input.
func fail(w http.ResponseWriter, err error) {
	var se statusError
	if errors.As(err, &se) {
		writeError(w, se.status, se.msg)
		return
	}
	writeError(w, http.StatusBadRequest, err.Error())
}

// writeJSON writes v as the response with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes {"error": msg}, the one error shape of the app.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// fields is a decoded request body: a JSON object, or a form whose values are
// all strings. Legacy apps accept both, so this one does too.
type fields map[string]any

// readFields decodes the body by its Content-Type: forms as forms, anything
// else as a JSON object.
func readFields(w http.ResponseWriter, r *http.Request) (fields, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(maxBodyBytes)
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			return nil, errors.New("malformed form body")
		}
		f := fields{}
		for k, v := range r.PostForm {
			f[k] = v[0]
		}
		return f, nil
	}
	dec := json.NewDecoder(r.Body)
	var f fields
	if err := dec.Decode(&f); err != nil || f == nil {
		return nil, errors.New("body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body must be a single JSON object")
	}
	return f, nil
}

// str returns the string field key; present is false when the body does not
// have it, and err is set when it has it with another type.
func (f fields) str(key string) (s string, present bool, err error) {
	v, ok := f[key]
	if !ok {
		return "", false, nil
	}
	s, ok = v.(string)
	if !ok {
		return "", true, errors.New(key + " must be a string")
	}
	return s, true, nil
}

// pathID reads the {id} path segment. Ids that cannot exist are reported as
// not found, the same as ids that do not exist.
func pathID(w http.ResponseWriter, r *http.Request, what string) (int, bool) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, what+" not found")
		return 0, false
	}
	return id, true
}
