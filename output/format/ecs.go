package format

import (
	"net/netip"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

func init() { Register(ecsFormat{}) }

// ecsVersion is the Elastic Common Schema version the records follow.
const ecsVersion = "8.11.0"

// ecsFormat is one Elastic Common Schema 8.x document per event, ready for
// an Elasticsearch index or data stream. Empty fields are left out.
//
//	ECS field                      from the native event
//	@timestamp                     time (UTC, microseconds)
//	ecs.version                    "8.11.0"
//	event.id                       id
//	event.kind                     "event"
//	event.category, event.type     action and area (see below)
//	event.action                   action
//	event.outcome                  outcome: success, failure, else unknown
//	event.severity                 severity as a syslog code: debug 7, info 6,
//	                               notice 5, warning 4, error 3, critical 2
//	event.duration                 http.duration_ms in nanoseconds
//	event.dataset                  "auditproxy.audit"
//	message                        description
//	log.level                      severity (info when empty)
//	user.id, user.name, user.roles actor.id, actor.name, actor.roles
//	user.target.id, .name          target.id, target.name when target.type is "user"
//	source.ip                      source.ip when it is an IP address,
//	source.address                 else source.ip as it is
//	source.geo.country_iso_code    source.country
//	user_agent.original            source.user_agent
//	http.request.method, .id       http.method, http.request_id
//	http.response.status_code      http.status
//	url.domain, url.port           http.host
//	url.path, url.query            http.path, http.query
//	service.name                   app
//	rule.name                      rule
//	auditproxy.area                area
//	auditproxy.actor_type          actor.type (ECS has no field for it)
//	auditproxy.target.*            target, when it is not a user
//	auditproxy.changes             changes, as in the native event
//	auditproxy.warnings            warnings
//
// event.category is one of authentication, iam, configuration and web.
// It is decided by the action's object (its first dotted part, "user" in
// user.created) or the area, and its verb (the last dotted part):
//
//   - authentication when the verb says login or logout (login,
//     login_failed, signed_in, logout, ...) or the object is a session or
//     auth; event.type start for a login (failed or not), end for a logout,
//     else info.
//   - iam when the object or area is a user, account, member, group, team,
//     role, permission, token or API key; event.type the change (creation,
//     deletion, change, or info for a read) and, for users and groups,
//     "user" or "group".
//   - configuration when the object or area is settings, config,
//     preferences, features, integrations or webhooks; event.type the
//     change, or access for a read.
//   - web otherwise; event.type error for a 5xx status, else access.
//
// The change is read from the verb's words (created, added, invited:
// creation; deleted, removed, revoked: deletion; updated, changed, renamed,
// reset, enabled, granted ...: change), and where they say nothing from the method (POST
// creation, PUT and PATCH change, DELETE deletion, GET and HEAD a read).
type ecsFormat struct{}

func (ecsFormat) Name() string        { return "ecs" }
func (ecsFormat) ContentType() string { return "application/json" }

func (ecsFormat) Append(dst []byte, ev *event.Event) []byte {
	w := newJSONWriter(dst)
	w.time("@timestamp", ev.Time)
	w.open("ecs")
	w.str("version", ecsVersion)
	w.close()

	category, typ, subtype := ecsCategory(ev)
	w.open("event")
	w.str("id", ev.ID)
	w.str("kind", "event")
	w.strs("category", category)
	if subtype != "" {
		w.strs("type", typ, subtype)
	} else {
		w.strs("type", typ)
	}
	w.str("action", ev.Action)
	w.str("outcome", ecsOutcome(ev.Outcome))
	w.int("severity", syslogSeverity(severity(ev)))
	if ns, ok := durationNS(ev); ok {
		w.int("duration", ns)
	}
	w.str("dataset", "auditproxy.audit")
	w.close()

	w.str("message", ev.Description)
	w.open("log")
	w.str("level", string(severity(ev)))
	w.close()

	w.open("user")
	w.str("id", ev.Actor.ID)
	w.str("name", ev.Actor.Name)
	w.strs("roles", ev.Actor.Roles...)
	if userTarget(&ev.Target) {
		w.open("target")
		w.str("id", ev.Target.ID)
		w.str("name", ev.Target.Name)
		w.close()
	}
	w.close()

	w.open("source")
	// A value that is no IP would make Elasticsearch reject the whole
	// document (source.ip is of type ip); source.address takes anything.
	if _, err := netip.ParseAddr(ev.Source.IP); err == nil {
		w.str("ip", ev.Source.IP)
	} else {
		w.str("address", ev.Source.IP)
	}
	w.open("geo")
	w.str("country_iso_code", ev.Source.Country)
	w.close()
	w.close()

	w.open("user_agent")
	w.str("original", ev.Source.UserAgent)
	w.close()

	w.open("http")
	w.open("request")
	w.str("method", ev.HTTP.Method)
	w.str("id", ev.HTTP.RequestID)
	w.close()
	if ev.HTTP.Status != 0 {
		w.open("response")
		w.int("status_code", int64(ev.HTTP.Status))
		w.close()
	}
	w.close()

	w.open("url")
	domain, port := splitHost(ev.HTTP.Host)
	w.str("domain", domain)
	if port != 0 {
		w.int("port", int64(port))
	}
	w.str("path", ev.HTTP.Path)
	w.str("query", ev.HTTP.Query)
	w.close()

	w.open("service")
	w.str("name", ev.App)
	w.close()
	w.open("rule")
	w.str("name", ev.Rule)
	w.close()

	w.open("auditproxy")
	w.str("area", ev.Area)
	w.str("actor_type", ev.Actor.Type)
	if !userTarget(&ev.Target) {
		w.open("target")
		w.str("type", ev.Target.Type)
		w.str("id", ev.Target.ID)
		w.str("name", ev.Target.Name)
		w.close()
	}
	w.changes("changes", ev.Changes)
	w.strs("warnings", ev.Warnings...)
	w.close()
	return w.done()
}

func ecsOutcome(o event.Outcome) string {
	switch o {
	case event.OutcomeSuccess, event.OutcomeFailure:
		return string(o)
	}
	return string(event.OutcomeUnknown)
}

// syslogSeverity is the RFC 5424 severity code of s.
func syslogSeverity(s event.Severity) int64 {
	switch s {
	case event.SeverityDebug:
		return 7
	case event.SeverityNotice:
		return 5
	case event.SeverityWarning:
		return 4
	case event.SeverityError:
		return 3
	case event.SeverityCritical:
		return 2
	}
	return 6 // info, and anything unknown
}

// The objects (first part of the action, or the area) that decide the
// category.
var (
	ecsUsers  = []string{"user", "users", "account", "accounts", "member", "members"}
	ecsGroups = []string{"group", "groups", "team", "teams"}
	ecsIAM    = []string{"role", "roles", "permission", "permissions", "token", "tokens", "api_key", "api_keys", "apikey", "apikeys"}
	ecsConfig = []string{"setting", "settings", "config", "configuration", "preference", "preferences",
		"feature", "features", "integration", "integrations", "webhook", "webhooks"}
	ecsSession = []string{"session", "sessions", "auth", "authentication"}

	ecsLogin  = []string{"login", "log_in", "logged_in", "signin", "sign_in", "signed_in"}
	ecsLogout = []string{"logout", "log_out", "logged_out", "signout", "sign_out", "signed_out"}

	ecsCreation = []string{"create", "created", "add", "added", "invite", "invited", "register", "registered", "new"}
	ecsDeletion = []string{"delete", "deleted", "remove", "removed", "destroy", "destroyed", "purge", "purged", "revoke", "revoked"}
	ecsChange   = []string{"update", "updated", "change", "changed", "edit", "edited", "modify", "modified",
		"rename", "renamed", "set", "reset", "enable", "enabled", "disable", "disabled", "grant", "granted",
		"assign", "assigned", "unassign", "unassigned", "move", "moved"}
)

// ecsCategory returns event.category and event.type (one or two values)
// by the rules in ecsFormat's documentation.
func ecsCategory(ev *event.Event) (category, typ, subtype string) {
	object, _, _ := strings.Cut(ev.Action, ".")
	verb := strings.ToLower(ev.Action[strings.LastIndexByte(ev.Action, '.')+1:])
	is := func(objects []string) bool {
		return anyFold(objects, object) || anyFold(objects, ev.Area)
	}
	switch {
	case containsAny(verb, ecsLogin):
		return "authentication", "start", ""
	case containsAny(verb, ecsLogout):
		return "authentication", "end", ""
	case is(ecsSession):
		switch ecsChangeType(ev, "info") {
		case "creation":
			return "authentication", "start", ""
		case "deletion":
			return "authentication", "end", ""
		}
		return "authentication", "info", ""
	case is(ecsUsers):
		return "iam", ecsChangeType(ev, "info"), "user"
	case is(ecsGroups):
		return "iam", ecsChangeType(ev, "info"), "group"
	case is(ecsIAM):
		return "iam", ecsChangeType(ev, "info"), ""
	case is(ecsConfig):
		return "configuration", ecsChangeType(ev, "access"), ""
	case ev.HTTP.Status >= 500:
		return "web", "error", ""
	}
	return "web", "access", ""
}

// ecsChangeType reads creation, deletion or change from the action's verb,
// else from the method; read is what a read (or anything else) is.
func ecsChangeType(ev *event.Event, read string) string {
	verb := ev.Action[strings.LastIndexByte(ev.Action, '.')+1:]
	// The verb's words from the last: user.password_reset_requested says
	// what happened last.
	for rest := verb; rest != ""; {
		i := strings.LastIndexByte(rest, '_')
		word := rest[i+1:]
		switch {
		case anyFold(ecsCreation, word):
			return "creation"
		case anyFold(ecsDeletion, word):
			return "deletion"
		case anyFold(ecsChange, word):
			return "change"
		}
		rest = rest[:max(i, 0)]
	}
	switch methodActivity(ev.HTTP.Method) {
	case activityCreate:
		return "creation"
	case activityUpdate:
		return "change"
	case activityDelete:
		return "deletion"
	}
	return read
}

func anyFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
