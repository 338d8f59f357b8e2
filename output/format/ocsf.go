package format

import (
	"math"

	"github.com/auditproxy/auditproxy/event"
)

func init() { Register(ocsfFormat{}) }

// ocsfFormat is one OCSF 1.1 API Activity event (class 6003, category 6,
// Application Activity) per audit event, as Amazon Security Lake and other
// OCSF stores take it. Empty fields are left out, but for the objects the
// class requires (actor, api, metadata, src_endpoint).
//
//	OCSF attribute                   from the native event
//	activity_id, activity_name       http.method: POST 1 Create, GET and HEAD 2 Read,
//	                                 PUT and PATCH 3 Update, DELETE 4 Delete, else 99 Other
//	category_uid, category_name      6, "Application Activity"
//	class_uid, class_name            6003, "API Activity"
//	type_uid, type_name              600300 + activity_id, "API Activity: <activity_name>"
//	time                             time, in milliseconds since the epoch
//	duration                         http.duration_ms, rounded to milliseconds
//	severity_id, severity            severity: debug and info 1 Informational, notice 2 Low,
//	                                 warning 3 Medium, error 4 High, critical 5 Critical
//	status_id, status                outcome: 1 Success, 2 Failure, else 0 Unknown
//	message                          description
//	metadata.uid                     id
//	metadata.product                 {name: "auditproxy", vendor_name: "auditproxy"}
//	metadata.version                 "1.1.0", the OCSF schema version
//	actor.user.uid, .name            actor.id, actor.name
//	actor.user.type, .type_id        actor.type; type_id 1 for user, 2 admin, 3 system or
//	                                 service, else 99 (Other)
//	api.operation                    action
//	api.request.uid                  http.request_id
//	api.response.code                http.status
//	http_request.http_method         http.method
//	http_request.url.hostname, .port http.host
//	http_request.url.path            http.path
//	http_request.url.query_string    http.query
//	http_request.user_agent          source.user_agent
//	src_endpoint.ip                  source.ip
//	src_endpoint.location.country    source.country
//	resources[0].uid, .name, .type   target.id, target.name, target.type
//	unmapped.rule, .area, .app       rule, area, app
//	unmapped.changes                 changes, as in the native event
//	unmapped.actor_roles             actor.roles (OCSF's user has no roles)
//	unmapped.warnings                warnings
type ocsfFormat struct{}

func (ocsfFormat) Name() string        { return "ocsf" }
func (ocsfFormat) ContentType() string { return "application/json" }

const (
	ocsfClass    = 6003
	ocsfCategory = 6
)

var ocsfActivities = [...]struct {
	id   int64
	name string
}{
	activityOther:  {99, "Other"},
	activityCreate: {1, "Create"},
	activityRead:   {2, "Read"},
	activityUpdate: {3, "Update"},
	activityDelete: {4, "Delete"},
}

func (ocsfFormat) Append(dst []byte, ev *event.Event) []byte {
	act := ocsfActivities[methodActivity(ev.HTTP.Method)]
	w := newJSONWriter(dst)
	w.int("activity_id", act.id)
	w.str("activity_name", act.name)
	w.int("category_uid", ocsfCategory)
	w.str("category_name", "Application Activity")
	w.int("class_uid", ocsfClass)
	w.str("class_name", "API Activity")
	w.int("type_uid", ocsfClass*100+act.id)
	w.key("type_name")
	w.b = append(w.b, `"API Activity: `...)
	w.b = append(w.b, act.name...)
	w.b = append(w.b, '"')

	w.int("time", ev.Time.UnixMilli())
	if _, ok := durationNS(ev); ok {
		w.int("duration", int64(math.Round(ev.HTTP.DurationMS)))
	}
	sevID, sev := ocsfSeverity(severity(ev))
	w.int("severity_id", sevID)
	w.str("severity", sev)
	statusID, status := ocsfStatus(ev.Outcome)
	w.int("status_id", statusID)
	w.str("status", status)
	w.str("message", ev.Description)

	w.open("metadata")
	w.str("uid", ev.ID)
	w.open("product")
	w.str("name", "auditproxy")
	w.str("vendor_name", "auditproxy")
	w.close()
	w.str("version", "1.1.0")
	w.closeKeep()

	w.open("actor")
	w.open("user")
	w.str("uid", ev.Actor.ID)
	w.str("name", ev.Actor.Name)
	if ev.Actor.Type != "" {
		w.str("type", ev.Actor.Type)
		w.int("type_id", ocsfUserType(ev.Actor.Type))
	}
	w.close()
	w.closeKeep()

	w.open("api")
	w.str("operation", ev.Action)
	w.open("request")
	w.str("uid", ev.HTTP.RequestID)
	w.close()
	if ev.HTTP.Status != 0 {
		w.open("response")
		w.int("code", int64(ev.HTTP.Status))
		w.close()
	}
	w.closeKeep()

	w.open("http_request")
	w.str("http_method", ev.HTTP.Method)
	w.open("url")
	host, port := splitHost(ev.HTTP.Host)
	w.str("hostname", host)
	if port != 0 {
		w.int("port", int64(port))
	}
	w.str("path", ev.HTTP.Path)
	w.str("query_string", ev.HTTP.Query)
	w.close()
	w.str("user_agent", ev.Source.UserAgent)
	w.close()

	w.open("src_endpoint")
	w.str("ip", ev.Source.IP)
	w.open("location")
	w.str("country", ev.Source.Country)
	w.close()
	w.closeKeep()

	if ev.Target != (event.Target{}) {
		w.key("resources")
		w.b = append(w.b, '[')
		w.b = append(w.b, '{')
		w.first = true
		w.str("uid", ev.Target.ID)
		w.str("name", ev.Target.Name)
		w.str("type", ev.Target.Type)
		w.b = append(w.b, '}', ']')
		w.first = false
	}

	w.open("unmapped")
	w.str("rule", ev.Rule)
	w.str("area", ev.Area)
	w.str("app", ev.App)
	w.changes("changes", ev.Changes)
	w.strs("actor_roles", ev.Actor.Roles...)
	w.strs("warnings", ev.Warnings...)
	w.close()
	return w.done()
}

func ocsfSeverity(s event.Severity) (int64, string) {
	switch s {
	case event.SeverityNotice:
		return 2, "Low"
	case event.SeverityWarning:
		return 3, "Medium"
	case event.SeverityError:
		return 4, "High"
	case event.SeverityCritical:
		return 5, "Critical"
	}
	return 1, "Informational" // debug, info, and anything unknown
}

func ocsfStatus(o event.Outcome) (int64, string) {
	switch o {
	case event.OutcomeSuccess:
		return 1, "Success"
	case event.OutcomeFailure:
		return 2, "Failure"
	}
	return 0, "Unknown"
}

func ocsfUserType(t string) int64 {
	switch t {
	case "user":
		return 1
	case "admin":
		return 2
	case "system", "service":
		return 3
	}
	return 99
}
