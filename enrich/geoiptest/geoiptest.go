// Package geoiptest writes small GeoIP databases for tests. They have the
// metadata and record shape of MaxMind's GeoLite2 Country and City databases
// (country.iso_code, registered_country.iso_code, ...), so the code under test
// reads them exactly as it would read the real files.
package geoiptest

import (
	"net"
	"os"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Write writes a "GeoLite2-Country" database to path that maps each network
// (CIDR, IPv4 or IPv6) to an ISO 3166-1 alpha-2 code, e.g.
// {"81.2.69.0/24": "GB", "2001:db8::/32": "JP"}. Addresses outside every
// network have no record. Networks should not overlap: maps have no order,
// so which one wins would be left to chance. Reserved ranges (private, documentation) may be
// used: tests need them to prove that the caller never looks them up.
func Write(t testing.TB, path string, networks map[string]string) {
	t.Helper()
	write(t, path, "GeoLite2-Country", networks, nil)
}

// WriteCity is Write for a "GeoLite2-City" database: each record also has a
// city and a location, as in MaxMind's City databases.
func WriteCity(t testing.TB, path string, networks map[string]string) {
	t.Helper()
	write(t, path, "GeoLite2-City", networks, mmdbtype.Map{
		"city":     mmdbtype.Map{"geoname_id": mmdbtype.Uint32(1), "names": mmdbtype.Map{"en": mmdbtype.String("Testville")}},
		"location": mmdbtype.Map{"latitude": mmdbtype.Float64(51.5), "longitude": mmdbtype.Float64(-0.1), "time_zone": mmdbtype.String("Europe/London")},
	})
}

// WriteType writes a database of any type (e.g. "GeoLite2-ASN") whose
// records are the same country records; for testing how a reader treats a
// database type it does not expect.
func WriteType(t testing.TB, path, databaseType string, networks map[string]string) {
	t.Helper()
	write(t, path, databaseType, networks, nil)
}

func write(t testing.TB, path, databaseType string, networks map[string]string, extra mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            databaseType,
		Description:             map[string]string{"en": "auditproxy test database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true,
		RecordSize:              24,
	})
	if err != nil {
		t.Fatalf("geoiptest: creating %s tree: %v", databaseType, err)
	}
	for cidr, code := range networks {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatalf("geoiptest: network %q: %v", cidr, err)
		}
		country := mmdbtype.Map{
			"geoname_id": mmdbtype.Uint32(1),
			"iso_code":   mmdbtype.String(code),
			"names":      mmdbtype.Map{"en": mmdbtype.String("Country " + code)},
		}
		record := mmdbtype.Map{
			"continent":          mmdbtype.Map{"code": mmdbtype.String("EU"), "geoname_id": mmdbtype.Uint32(2)},
			"country":            country,
			"registered_country": country,
		}
		for k, v := range extra {
			record[mmdbtype.String(k)] = v
		}
		if err := tree.Insert(network, record); err != nil {
			t.Fatalf("geoiptest: inserting %s: %v", cidr, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("geoiptest: %v", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		t.Fatalf("geoiptest: writing %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("geoiptest: writing %s: %v", path, err)
	}
}
