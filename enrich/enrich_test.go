package enrich

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/enrich/geoiptest"
	"github.com/auditproxy/auditproxy/event"
)

var testNetworks = map[string]string{
	"81.2.69.0/24":  "GB",
	"2001:db8::/32": "JP",
	"10.0.0.0/8":    "XX", // private: present only to prove it is never looked up
	"127.0.0.0/8":   "XX",
	"fe80::/10":     "XX",
}

func TestCountry(t *testing.T) {
	dir := t.TempDir()
	dbs := map[string]string{
		"country": filepath.Join(dir, "country.mmdb"),
		"city":    filepath.Join(dir, "city.mmdb"),
	}
	geoiptest.Write(t, dbs["country"], testNetworks)
	geoiptest.WriteCity(t, dbs["city"], testNetworks)

	tests := []struct {
		ip, want string
	}{
		{"81.2.69.142", "GB"},
		{"::ffff:81.2.69.142", "GB"},
		{"2001:db8::1", "JP"},
		{"8.8.8.8", ""},         // unknown to the database
		{"2a00:1450::1", ""},    // unknown ipv6
		{"10.1.2.3", ""},        // private
		{"127.0.0.1", ""},       // loopback
		{"fe80::1", ""},         // link-local
		{"::", ""},              // unspecified
		{"not an ip", ""},       // garbage
		{"", ""},                // nothing
		{"81.2.69.142:443", ""}, // not a plain IP
	}
	for kind, path := range dbs {
		e, err := New(Config{GeoIPPath: path})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			if got := e.country(tt.ip); got != tt.want {
				t.Errorf("%s database: country(%q) = %q, want %q", kind, tt.ip, got, tt.want)
			}
		}
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}

func TestNewGeoIPErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	asn := filepath.Join(dir, "asn.mmdb")
	geoiptest.WriteType(t, asn, "GeoLite2-ASN", map[string]string{"81.2.69.0/24": "GB"})
	unknown := filepath.Join(dir, "unknown.mmdb")
	geoiptest.WriteType(t, unknown, "Acme-Things", map[string]string{"81.2.69.0/24": "GB"})

	for _, tt := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.mmdb"), "no such file"},
		{garbage, "invalid MaxMind DB"},
		{asn, "GeoLite2-ASN database has no country data"},
		{unknown, `"Acme-Things"`},
	} {
		_, err := New(Config{GeoIPPath: tt.path})
		if err == nil {
			t.Errorf("New(%s): no error", tt.path)
			continue
		}
		prefix := `opening geoip database "` + tt.path + `": `
		if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
			t.Errorf("New(%s) error = %q, want %q... containing %q", tt.path, msg, prefix, tt.want)
		}
	}
}

var uuidv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestEnrich(t *testing.T) {
	db := filepath.Join(t.TempDir(), "country.mmdb")
	geoiptest.Write(t, db, testNetworks)
	e, err := New(Config{TrustedProxies: mustPrefixes(t, "10.0.0.0/8"), GeoIPPath: db, App: "billing"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	start := time.Date(2026, 11, 21, 23, 42, 15, 123456789, time.FixedZone("CET", 3600))
	x := &event.Exchange{
		Start:    start,
		Duration: 12345678 * time.Nanosecond,
		Peer:     "10.0.0.5:33000",
		Method:   "POST",
		Host:     "app.example.com",
		Path:     "/users",
		RawQuery: "notify=1",
		RequestHeader: http.Header{
			"X-Forwarded-For": {"81.2.69.142"},
			"User-Agent":      {"curl/8.5.0"},
		},
		RequestID: "req-1",
		Status:    201,
	}
	ev := &event.Event{Action: "user.created", Rule: "create-user", Outcome: event.OutcomeSuccess}
	e.Enrich(ev, x)

	if !uuidv7.MatchString(ev.ID) {
		t.Errorf("ID = %q, want a UUIDv7", ev.ID)
	}
	if !ev.Time.Equal(start) || ev.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC", ev.Time, start.UTC())
	}
	wantSource := event.Source{IP: "81.2.69.142", Country: "GB", UserAgent: "curl/8.5.0"}
	if ev.Source != wantSource {
		t.Errorf("Source = %+v, want %+v", ev.Source, wantSource)
	}
	wantHTTP := event.HTTP{Method: "POST", Host: "app.example.com", Path: "/users", Query: "notify=1",
		Status: 201, DurationMS: 12.345678, RequestID: "req-1"}
	if ev.HTTP != wantHTTP {
		t.Errorf("HTTP = %+v, want %+v", ev.HTTP, wantHTTP)
	}
	if ev.App != "billing" || ev.Action != "user.created" || ev.Rule != "create-user" {
		t.Errorf("App, Action, Rule = %q, %q, %q; want billing, and the rule's fields untouched", ev.App, ev.Action, ev.Rule)
	}

	// An id already given stays; a resolved ClientIP is used as it is.
	id := ev.ID
	x.ClientIP = "2001:db8::7"
	e.Enrich(ev, x)
	if ev.ID != id {
		t.Errorf("second Enrich changed ID from %s to %s", id, ev.ID)
	}
	if ev.Source.IP != "2001:db8::7" || ev.Source.Country != "JP" {
		t.Errorf("Source = %+v, want x.ClientIP 2001:db8::7 in JP", ev.Source)
	}
}

func TestEnrichMinimal(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &event.Event{}
	e.Enrich(ev, &event.Exchange{Peer: "81.2.69.142:1", Method: "GET", Path: "/", Status: 200})
	if ev.Source != (event.Source{IP: "81.2.69.142"}) || ev.App != "" || ev.HTTP.DurationMS != 0 {
		t.Errorf("got Source %+v, App %q, DurationMS %v; want only the IP, no country without a database", ev.Source, ev.App, ev.HTTP.DurationMS)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close without database: %v", err)
	}
}

func TestEnrichConcurrent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "city.mmdb")
	geoiptest.WriteCity(t, db, testNetworks)
	e, err := New(Config{GeoIPPath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				ev := &event.Event{}
				e.Enrich(ev, &event.Exchange{Peer: "81.2.69.1:1"})
				if ev.Source.Country != "GB" {
					t.Errorf("Country = %q, want GB", ev.Source.Country)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkEnrich(b *testing.B) {
	db := filepath.Join(b.TempDir(), "city.mmdb")
	geoiptest.WriteCity(b, db, testNetworks)
	e, err := New(Config{TrustedProxies: mustPrefixes(b, "10.0.0.0/8"), GeoIPPath: db, App: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	x := &event.Exchange{Peer: "10.0.0.5:1", Method: "GET", Path: "/", Status: 200,
		RequestHeader: http.Header{"X-Forwarded-For": {"81.2.69.142, 10.0.0.9"}, "User-Agent": {"bench"}}}
	for b.Loop() {
		var ev event.Event
		e.Enrich(&ev, x)
	}
}
