package api

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the tz parameter works in containers without /usr/share/zoneinfo
	"unicode/utf8"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/store"
)

// filterParams are the query parameters that every reading endpoint takes
// to select events.
var filterParams = []string{
	"actor", "action", "area", "target_type", "target_id", "target_name",
	"outcome", "country", "ip", "from", "to", "preset", "tz", "q",
}

// listParams may be given more than once, or as a comma list; actor may
// be given more than once, but a comma is part of a name ("Doe, Jane").
var listParams = []string{"action", "area", "country", "actor"}

// Presets, each a range of whole days in the tz parameter's zone (UTC by
// default), ending with today.
const (
	presetToday     = "today"
	presetYesterday = "yesterday"
	preset7d        = "last7d"
	preset28d       = "last28d"
)

// maxText bounds the free-text search; longer is certainly not typed by
// someone looking for an event.
const maxText = 500

// query is what a request asks for: the filter, the page, and the
// parameters as given, for the description of the recorded read.
type query struct {
	filter store.Filter
	page   store.Page
	params url.Values
}

// parseQuery reads the filter parameters of r, and the extra parameters
// the endpoint takes (limit, cursor, field, format), into a query for
// caller c. Any other parameter is an error: a typo such as "actors="
// must not silently widen the result. Errors name the parameter.
func (a *API) parseQuery(r *http.Request, c caller, extra ...string) (query, error) {
	values := r.URL.Query()
	if err := onlyParams(values, append(slices.Clone(filterParams), extra...)...); err != nil {
		return query{}, err
	}
	for k, vs := range values {
		if len(vs) > 1 && !slices.Contains(listParams, k) {
			return query{}, fmt.Errorf("%s: given %d times, want once", k, len(vs))
		}
	}
	q := query{params: values}
	f := &q.filter
	f.OwnActor = c.ownActor() // applied on top of everything else, whatever the params say
	for _, a := range values["actor"] {
		if a != "" && !slices.Contains(f.Actors, a) {
			f.Actors = append(f.Actors, a)
		}
	}
	f.Actions = splitList(values["action"])
	f.Areas = splitList(values["area"])
	f.Target = store.Target{Type: values.Get("target_type"), ID: values.Get("target_id"), Name: values.Get("target_name")}
	switch o := event.Outcome(values.Get("outcome")); o {
	case "", event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeUnknown:
		f.Outcome = string(o)
	default:
		return query{}, fmt.Errorf("outcome: %q is not one of success, failure, unknown", o)
	}
	for _, c := range splitList(values["country"]) {
		if c = strings.ToUpper(c); !slices.Contains(f.Countries, c) {
			f.Countries = append(f.Countries, c)
		}
	}
	if s := values.Get("ip"); s != "" {
		p, err := parseIP(s)
		if err != nil {
			return query{}, err
		}
		f.IP = &p
	}
	f.Text = strings.TrimSpace(values.Get("q"))
	if len(f.Text) > maxText {
		return query{}, fmt.Errorf("q: longer than %d bytes", maxText)
	}

	loc := time.UTC
	if tz := values.Get("tz"); tz != "" {
		var err error
		// "Local" would be the server's zone, which means nothing to the client.
		if loc, err = time.LoadLocation(tz); err != nil || tz == "Local" {
			return query{}, fmt.Errorf("tz: %q is not an IANA time zone name such as Europe/Berlin", tz)
		}
	}
	var err error
	if f.From, err = parseTime("from", values.Get("from"), loc, false); err != nil {
		return query{}, err
	}
	if f.To, err = parseTime("to", values.Get("to"), loc, true); err != nil {
		return query{}, err
	}
	if p := values.Get("preset"); p != "" {
		if values.Has("from") || values.Has("to") {
			return query{}, fmt.Errorf("preset: give either preset or from/to, not both")
		}
		if f.From, f.To, err = presetRange(p, a.now().In(loc)); err != nil {
			return query{}, err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return query{}, fmt.Errorf("from: %s is not before to (%s)", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	}

	if s := values.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		// The store would cap a bigger limit silently; saying so is kinder.
		if err != nil || n < 1 || n > store.MaxLimit {
			return query{}, fmt.Errorf("limit: %q is not a number from 1 to %d", s, store.MaxLimit)
		}
		q.page.Limit = n
	}
	q.page.Cursor = values.Get("cursor")
	return q, nil
}

// onlyParams returns an error naming the first parameter not in allowed.
func onlyParams(values url.Values, allowed ...string) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return fmt.Errorf("%s: this endpoint takes no parameters", k)
			}
			return fmt.Errorf("%s: unknown parameter (want one of %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// splitList flattens repeated and comma-separated values, without empties.
func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseIP reads an address (a /32 or /128) or a CIDR prefix.
func parseIP(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("ip: %q is not an address or CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ip: %q is not an address or CIDR prefix", s)
	}
	addr = addr.Unmap().WithZone("")
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// parseTime reads an RFC 3339 time or a date (2006-01-02) in loc. A date
// means the start of that day for from, and the end of it for to, so that
// from=2026-03-01&to=2026-03-01 is the whole first of March.
func parseTime(name, s string, loc *time.Location, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time (2026-03-01T12:00:00Z) nor a date (2026-03-01)", name, s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// presetRange returns [from, to) of a preset, in whole days of now's zone.
// AddDate keeps midnights right across daylight-saving changes, where a
// day is 23 or 25 hours long.
func presetRange(p string, now time.Time) (from, to time.Time, err error) {
	y, m, d := now.Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	tomorrow := today.AddDate(0, 0, 1)
	switch p {
	case presetToday:
		return today, tomorrow, nil
	case presetYesterday:
		return today.AddDate(0, 0, -1), today, nil
	case preset7d:
		return today.AddDate(0, 0, -6), tomorrow, nil
	case preset28d:
		return today.AddDate(0, 0, -27), tomorrow, nil
	}
	return from, to, fmt.Errorf("preset: %q is not one of today, yesterday, last7d, last28d", p)
}

// describe renders the filters as given, for a recorded read:
// " (action=user.created, preset=today)", or "" without filters.
func (q query) describe() string {
	var parts []string
	for _, k := range filterParams {
		vs := q.params[k]
		if len(vs) == 0 || k == "tz" && !q.params.Has("preset") && !q.params.Has("from") && !q.params.Has("to") {
			continue
		}
		parts = append(parts, k+"="+truncate(strings.Join(vs, ","), 100))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// truncate shortens s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
