// Package enrich adds to an event what the rule does not know: its id and
// time, the client's address (resolved through trusted proxies), the
// client's country from a GeoIP database, the user agent and the HTTP facts
// of the request.
package enrich

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/oschwald/geoip2-golang"
)

// Config says what an Enricher may believe and where it looks things up.
type Config struct {
	// TrustedProxies are the peers whose X-Forwarded-For is believed, e.g. the
	// load balancer in front of the proxy. Empty means trust nobody: the
	// client is always the socket peer.
	TrustedProxies []netip.Prefix

	// GeoIPPath is a MaxMind or DB-IP database (.mmdb, Country or City).
	// Empty means no country is looked up.
	GeoIPPath string

	// App is copied into every event's App; empty leaves it out.
	App string
}

// Enricher fills in the parts of an event that come from the exchange and
// the environment. It is safe for concurrent use.
type Enricher struct {
	trusted []netip.Prefix
	geo     *geoip2.Reader // nil: no GeoIP database
	app     string
}

// New checks cfg and opens the GeoIP database, if any. Close releases it.
func New(cfg Config) (*Enricher, error) {
	e := &Enricher{app: cfg.App}
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("reading trusted proxies: invalid prefix %v", p)
		}
		// Client addresses are compared unmapped and without zone, so an
		// IPv4-mapped prefix (::ffff:10.0.0.0/104) is kept as the IPv4 one.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		e.trusted = append(e.trusted, p.Masked())
	}
	if cfg.GeoIPPath != "" {
		geo, err := openGeoIP(cfg.GeoIPPath)
		if err != nil {
			return nil, fmt.Errorf("opening geoip database %q: %w", cfg.GeoIPPath, err)
		}
		e.geo = geo
	}
	return e, nil
}

func openGeoIP(path string) (*geoip2.Reader, error) {
	r, err := geoip2.Open(path)
	if err != nil {
		if r != nil { // an unsupported database type: opened, then refused
			r.Close()
		}
		return nil, err
	}
	// geoip2 accepts databases (ASN, ISP, ...) that have no country; with
	// one of those every lookup would fail and every event lack a country.
	// Refuse it now rather than lose the country silently.
	var invalid geoip2.InvalidMethodError
	if _, err := r.Country(netip.MustParseAddr("1.1.1.1").AsSlice()); errors.As(err, &invalid) {
		r.Close()
		return nil, fmt.Errorf("a %s database has no country data", invalid.DatabaseType)
	}
	return r, nil
}

// Close releases the GeoIP database. The Enricher must not be used after.
func (e *Enricher) Close() error {
	if e.geo == nil {
		return nil
	}
	return e.geo.Close()
}

// Enrich fills in ev from x: ID (unless ev already has one, so enriching
// twice never changes an event's identity), Time, Source, HTTP and App.
// Source.IP is x.ClientIP when set, otherwise resolved as ClientIP does.
// Fields the rule sets (action, actor, changes ...) are left alone.
func (e *Enricher) Enrich(ev *event.Event, x *event.Exchange) {
	if ev.ID == "" {
		ev.ID = event.NewID()
	}
	ev.Time = x.Start.UTC()
	ip := x.ClientIP
	if ip == "" {
		ip = e.ClientIP(x)
	}
	ev.Source = event.Source{
		IP:        ip,
		Country:   e.country(ip),
		UserAgent: x.RequestHeader.Get("User-Agent"),
	}
	ev.HTTP = event.HTTP{
		Method:     x.Method,
		Host:       x.Host,
		Path:       x.Path,
		Query:      x.RawQuery,
		Status:     x.Status,
		DurationMS: float64(x.Duration) / float64(time.Millisecond),
		RequestID:  x.RequestID,
	}
	ev.App = e.app
}

// country returns the ISO 3166-1 alpha-2 code of ip's country, or "" when
// there is no database, ip is not an address, is private, loopback,
// link-local or otherwise not routed on the internet, or the database does
// not know it.
func (e *Enricher) country(ip string) string {
	if e.geo == nil {
		return ""
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return "" // no country to find, and no reason to ask
	}
	rec, err := e.geo.Country(a.AsSlice())
	if err != nil {
		return ""
	}
	return rec.Country.IsoCode
}
