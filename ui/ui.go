// Package ui is the web viewer of the activity log: static HTML, CSS and
// vanilla JavaScript embedded in the binary (no framework, no CDN, works
// offline) that read the query API of package api, and the embeddable
// widget that a signed link opens.
//
// Routes (GET and HEAD):
//
//	/            redirects to /ui/
//	/ui/         the viewer; assets under /ui/
//	/ui/widget   the widget: ?actor=…&exp=…&sig=… as made by api.WidgetLink
//
// Mount the handler for both, e.g. on the admin server:
//
//	h := ui.Handler(a)
//	srv.Handle("GET /ui/", h)
//	srv.Handle("GET /{$}", h)
//
// The viewer never holds a credential in a URL: the token the user types
// stays in sessionStorage and goes out as an Authorization header.
package ui

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/api"
	"github.com/auditproxy/auditproxy/event"
)

//go:embed static
var static embed.FS

//go:embed widget.html
var widgetHTML string

var widgetPage = template.Must(template.New("widget").Funcs(template.FuncMap{
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}).Parse(widgetHTML))

// widgetEvents is how many events the widget shows.
const widgetEvents = 20

// viewerCSP keeps the viewer to its own files: no inline script or style,
// no other origin, no framing. Event data is only ever set as text, and
// this makes any slip there inert.
const viewerCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the viewer and the widget, reading through a.
func Handler(a *api.API) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // not reached: the directory is embedded
	}
	assets := http.StripPrefix("/ui/", http.FileServerFS(files))

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	mux.Handle("GET /ui/", viewerHeaders(assets))
	mux.Handle("GET /ui/widget", widget(a))
	return mux
}

// viewerHeaders are the headers of every page and file but the widget.
func viewerHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", viewerCSP)
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		// The files change with the binary; revalidating them is cheap.
		hdr.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// widget serves /ui/widget: a compact, server-rendered list of one actor's
// recent events, for an iframe in the app's own pages. It may be framed by
// the origins api.Config.WidgetFrameAncestors names, and by no other.
func widget(a *api.API) http.Handler {
	ancestors := strings.Join(a.WidgetFrameAncestors(), " ")
	if ancestors == "" {
		ancestors = "'self'"
	}
	csp := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors " + ancestors
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", csp)
		hdr.Set("X-Content-Type-Options", "nosniff")
		// The link is a credential: it must not leave in a Referer, nor
		// be kept by a cache.
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cache-Control", "no-store")
		actor, events, err := a.WidgetEvents(r, widgetEvents)
		switch {
		case errors.Is(err, api.ErrWidgetLink):
			http.Error(w, "This link is invalid or has expired.", http.StatusForbidden)
			return
		case err != nil:
			http.Error(w, "The activity log cannot be read right now.", http.StatusInternalServerError)
			return
		}
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		widgetPage.Execute(w, struct {
			Actor  string
			Events []event.Event
		}{actor, events})
	})
}
