package demoapp

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// projectInput reads and checks a project body: name is required,
// description optional (and empty when absent, since PUT replaces).
func projectInput(f fields) (project, error) {
	name, _, err := f.str("name")
	if err != nil {
		return project{}, err
	}
	desc, _, err := f.str("description")
	if err != nil {
		return project{}, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return project{}, errors.New("name must be 1 to 100 characters")
	}
	if len(desc) > 1000 {
		return project{}, errors.New("description must be at most 1000 characters")
	}
	return project{Name: name, Description: desc}, nil
}

func (a *app) listProjects(w http.ResponseWriter, r *http.Request, _ user) {
	a.mu.Lock()
	list := make([]project, 0, len(a.projects))
	for _, id := range slices.Sorted(maps.Keys(a.projects)) {
		list = append(list, a.projects[id])
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// createProject makes the caller the owner.
func (a *app) createProject(w http.ResponseWriter, r *http.Request, me user) {
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	p, err := projectInput(f)
	if err != nil {
		fail(w, err)
		return
	}
	a.mu.Lock()
	a.lastProjectID++
	p.ID, p.OwnerID = a.lastProjectID, me.ID
	a.projects[p.ID] = p
	a.mu.Unlock()
	created(w, "/projects/", p.ID, p)
}

// getProject shows any project to any signed-in user.
func (a *app) getProject(w http.ResponseWriter, r *http.Request, _ user) {
	id, ok := pathID(w, r, "project")
	if !ok {
		return
	}
	a.mu.Lock()
	p, ok := a.projects[id]
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "project not found")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// ownedProject returns project id if me may change it: its owner or an admin.
// The caller holds a.mu.
func (a *app) ownedProject(id int, me user) (project, error) {
	p, ok := a.projects[id]
	if !ok {
		return project{}, statusError{http.StatusNotFound, "project not found"}
	}
	if p.OwnerID != me.ID && me.Role != roleAdmin {
		return project{}, statusError{http.StatusForbidden, "only the owner or an admin may change this project"}
	}
	return p, nil
}

func (a *app) putProject(w http.ResponseWriter, r *http.Request, me user) {
	id, ok := pathID(w, r, "project")
	if !ok {
		return
	}
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	in, err := projectInput(f)
	if err != nil {
		fail(w, err)
		return
	}
	a.mu.Lock()
	p, err := a.ownedProject(id, me)
	if err == nil {
		p.Name, p.Description = in.Name, in.Description
		a.projects[id] = p
	}
	a.mu.Unlock()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *app) deleteProject(w http.ResponseWriter, r *http.Request, me user) {
	id, ok := pathID(w, r, "project")
	if !ok {
		return
	}
	a.mu.Lock()
	_, err := a.ownedProject(id, me)
	if err == nil {
		delete(a.projects, id)
	}
	a.mu.Unlock()
	if err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) getSettings(w http.ResponseWriter, r *http.Request, _ user) {
	a.mu.Lock()
	s := a.settings
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, s)
}

// putSettings sets the settings the body names and keeps the others, the
// way a settings form that shows one section at a time needs it.
func (a *app) putSettings(w http.ResponseWriter, r *http.Request, _ user) {
	f, err := readFields(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	// Read, change and store under one lock so concurrent PUTs of different
	// settings do not undo each other.
	a.mu.Lock()
	s := a.settings
	err = applySettings(&s, f)
	if err == nil {
		a.settings = s
	}
	a.mu.Unlock()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// applySettings copies f onto s. Unknown names are rejected so that a typo
// does not look like success.
func applySettings(s *settings, f fields) error {
	for _, k := range slices.Sorted(maps.Keys(f)) {
		var err error
		switch k {
		case "site_name":
			s.SiteName, _, err = f.str(k)
		case "smtp_host":
			s.SMTPHost, _, err = f.str(k)
		case "smtp_password":
			s.SMTPPassword, _, err = f.str(k)
		case "allow_signup":
			var ok bool
			if s.AllowSignup, ok = f[k].(bool); !ok {
				err = errors.New("allow_signup must be true or false")
			}
		default:
			err = errors.New("unknown setting " + k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
