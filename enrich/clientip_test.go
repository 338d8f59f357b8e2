package enrich

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/auditproxy/auditproxy/event"
)

func mustPrefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestClientIP(t *testing.T) {
	e, err := New(Config{TrustedProxies: mustPrefixes(t, "10.0.0.0/8", "fd00::/8", "::ffff:192.168.0.0/112")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		peer string
		xff  []string // X-Forwarded-For values, in header order
		want string
	}{
		{"untrusted ipv4 peer", "203.0.113.7:5555", nil, "203.0.113.7"},
		{"untrusted ipv6 peer", "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"ipv4-mapped peer", "[::ffff:203.0.113.7]:80", nil, "203.0.113.7"},
		{"zone dropped", "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"peer without port", "203.0.113.7", nil, "203.0.113.7"},
		{"unix socket peer kept as is", "@", nil, "@"},
		{"empty peer", "", nil, ""},

		{"spoofed xff from untrusted peer", "203.0.113.7:1", []string{"1.2.3.4"}, "203.0.113.7"},
		{"trusted peer without xff", "10.0.0.1:1", nil, "10.0.0.1"},
		{"trusted peer, one hop", "10.0.0.1:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written entries left of the first untrusted are ignored", "10.0.0.1:1",
			[]string{"6.6.6.6, 198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"chain across several header values", "10.0.0.1:1",
			[]string{"6.6.6.6", "198.51.100.1", "10.0.0.3, 10.0.0.2"}, "198.51.100.1"},
		{"ipv6 chain", "[fd00::1]:1", []string{"2001:db8::9, fd00::2"}, "2001:db8::9"},
		{"ipv4-mapped trusted peer matches ipv4 prefix", "[::ffff:10.1.2.3]:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"mapped prefix in config", "192.168.1.1:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"mapped entry unmapped", "10.0.0.1:1", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"entries with ports", "10.0.0.1:1", []string{"[2001:db8::9]:4711, 10.0.0.2:80"}, "2001:db8::9"},
		{"tabs and spaces", "10.0.0.1:1", []string{" \t198.51.100.1\t,10.0.0.2 "}, "198.51.100.1"},
		{"all trusted: leftmost", "10.0.0.1:1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},

		{"malformed entry stops at the peer", "10.0.0.1:1", []string{"198.51.100.1, garbage"}, "10.0.0.1"},
		{"malformed entry stops at last good address", "10.0.0.1:1", []string{"198.51.100.1, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"empty entry is malformed", "10.0.0.1:1", []string{"198.51.100.1,"}, "10.0.0.1"},
		{"empty header value is malformed", "10.0.0.1:1", []string{"198.51.100.1", ""}, "10.0.0.1"},
		{"hostname is malformed", "10.0.0.1:1", []string{"evil.example.com"}, "10.0.0.1"},
		{"unknown is malformed", "10.0.0.1:1", []string{"unknown"}, "10.0.0.1"},
		{"cidr is malformed", "10.0.0.1:1", []string{"198.51.100.0/24"}, "10.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &event.Exchange{Peer: tt.peer, RequestHeader: http.Header{}}
			for _, v := range tt.xff {
				x.RequestHeader.Add("X-Forwarded-For", v)
			}
			if got := e.ClientIP(x); got != tt.want {
				t.Errorf("ClientIP(peer %q, X-Forwarded-For %q) = %q, want %q", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}

func TestClientIPTrustsNobodyByDefault(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	x := &event.Exchange{Peer: "127.0.0.1:9", RequestHeader: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
	if got := e.ClientIP(x); got != "127.0.0.1" {
		t.Errorf("ClientIP = %q, want the peer 127.0.0.1", got)
	}
}

func TestNewRejectsInvalidPrefix(t *testing.T) {
	_, err := New(Config{TrustedProxies: []netip.Prefix{{}}})
	if err == nil {
		t.Fatal("New accepted a zero prefix")
	}
}

// FuzzClientIP feeds the X-Forwarded-For walk arbitrary headers and peers.
// It must never panic, and the client is always a plain, valid IP, or the
// peer itself when the peer is no IP.
func FuzzClientIP(f *testing.F) {
	for _, s := range []struct{ peer, xff string }{
		{"10.0.0.1:1", "198.51.100.1, 10.0.0.2"},
		{"10.0.0.1:1", "garbage, 10.0.0.2"},
		{"[fd00::1]:1", "[2001:db8::9%eth0]:4711,fd00::2"},
		{"10.0.0.1:1", ",,,"},
		{"10.0.0.1:1", "::ffff:10.0.0.9, ::ffff:1.2.3.4"},
		{"203.0.113.7:1", "1.2.3.4"},
		{"@", "1.2.3.4"},
	} {
		f.Add(s.peer, s.xff)
	}
	e, err := New(Config{TrustedProxies: mustPrefixes(f, "10.0.0.0/8", "fd00::/8", "127.0.0.1/32")})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		x := &event.Exchange{Peer: peer, RequestHeader: http.Header{"X-Forwarded-For": {xff, xff}}}
		got := e.ClientIP(x)
		p, peerOK := parseAddr(peer)
		if !peerOK {
			if got != peer {
				t.Fatalf("peer %q is no address, ClientIP = %q, want the peer", peer, got)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("ClientIP(%q, %q) = %q: not an IP: %v", peer, xff, got, err)
		}
		if a.Zone() != "" || a.Is4In6() || a.String() != got {
			t.Fatalf("ClientIP(%q, %q) = %q: not a plain IP", peer, xff, got)
		}
		if !e.isTrusted(p) && got != p.String() {
			t.Fatalf("untrusted peer %q: ClientIP = %q believes X-Forwarded-For %q", peer, got, xff)
		}
	})
}

func TestAddrString(t *testing.T) {
	for _, peer := range []string{"127.0.0.1:5000", "81.2.69.142:1", "[::1]:80", "[::ffff:10.0.0.9]:443", "[2001:db8::1]:8080", "10.0.0.1"} {
		a, ok := parsePeer(peer)
		if !ok {
			t.Fatalf("parsePeer(%q) failed", peer)
		}
		if got, want := addrString(a, peer), a.String(); got != want {
			t.Errorf("addrString(%v, %q) = %q, want %q", a, peer, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		a, _ := parsePeer("127.0.0.1:5000")
		_ = addrString(a, "127.0.0.1:5000")
	}); n != 0 {
		t.Errorf("an IPv4 peer took %v allocations, want 0", n)
	}
}
