package proxy

import (
	"net/http"
	"net/url"
	"strings"
)

// normalizingRedirect computes Exchange.NormalizingRedirect once the
// response is written. The app sees the request at the upstream's path
// (with the upstream's prefix), while its Location is passed to the client
// unchanged, so both readings of the request URL are tried.
func (p *Proxy) normalizingRedirect(rec *recording) bool {
	x := &rec.x
	if !isRedirect(x.Status) || x.UpstreamError != "" {
		return false
	}
	loc := x.ResponseHeader.Get("Location")
	if loc == "" {
		return false
	}
	client := url.URL{Scheme: "http", Host: x.Host, Path: x.Path, RawQuery: x.RawQuery}
	if rec.https {
		client.Scheme = "https"
	}
	hosts := [...]string{x.Host, p.upstream.Host}
	if isNormalizingRedirect(x.Status, loc, &client, hosts[:]) {
		return true
	}
	if !p.joinPath && p.upstream.RawQuery == "" {
		return false // the upstream saw the same path and query
	}
	up := client
	p.pointAtUpstream(&up)
	return isNormalizingRedirect(x.Status, loc, &up, hosts[:])
}

func isRedirect(status int) bool {
	switch status {
	// Not 303: See Other after a POST is the app's answer (post/redirect/
	// get), the request was handled; treating it as a retry would lose the
	// event.
	case http.StatusMovedPermanently, http.StatusFound,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// isNormalizingRedirect reports whether a redirect with status to location,
// answering a request for req (an absolute URL), sends the client to the
// same resource under a normalised name: the same path and query with a
// trailing slash added or removed, on any host of the app; or the very same
// path and query on another scheme, port or host of the app. appHosts are
// the app's host names ("host" or "host:port"; ports are ignored), req's
// own host among them. A redirect to the very URL requested (the
// post/redirect/get pattern's "303 See Other" back to a form) is not one.
func isNormalizingRedirect(status int, location string, req *url.URL, appHosts []string) bool {
	if !isRedirect(status) {
		return false
	}
	ref, err := url.Parse(location)
	if err != nil {
		return false
	}
	to := req.ResolveReference(ref)
	if to.Scheme != "http" && to.Scheme != "https" || to.RawQuery != req.RawQuery || !sameApp(to.Host, appHosts) {
		return false
	}
	from, path := orRoot(req.Path), orRoot(to.Path)
	switch {
	case path == from+"/" || path+"/" == from:
		return true
	case path == from:
		// The same path: normalising only if it moves to another origin.
		return to.Scheme != req.Scheme || !strings.EqualFold(to.Host, req.Host)
	}
	return false
}

func orRoot(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// sameApp reports whether host ("host" or "host:port") names one of hosts,
// ignoring ports.
func sameApp(host string, hosts []string) bool {
	name := hostname(host)
	for _, h := range hosts {
		if strings.EqualFold(name, hostname(h)) {
			return true
		}
	}
	return false
}

// hostname is host without its port, and without brackets for IPv6.
func hostname(host string) string {
	return (&url.URL{Host: host}).Hostname()
}
