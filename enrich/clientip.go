package enrich

import (
	"net/netip"
	"strings"

	"github.com/auditproxy/auditproxy/event"
)

// ClientIP returns the address of the client that sent x, as a plain IP
// (no port, no zone, IPv4-mapped IPv6 as IPv4).
//
// It is the socket peer, unless the peer is a trusted proxy: then
// X-Forwarded-For (every value of the header, as the client's request
// carried it) is read from the right, skipping trusted proxies, and the
// first address that is not trusted is the client. Entries to the left of
// it were written by the client itself and prove nothing. A malformed entry
// ends the walk at the last good address, and so does the left end of a
// header made only of trusted proxies.
//
// A peer that is not "ip:port" or an IP (a Unix socket, say) is returned as
// it is.
func (e *Enricher) ClientIP(x *event.Exchange) string {
	peer, ok := parsePeer(x.Peer)
	if !ok {
		return x.Peer
	}
	if !e.isTrusted(peer) {
		return addrString(peer, x.Peer)
	}
	return e.forwardedClient(peer, x.RequestHeader.Values("X-Forwarded-For")).String()
}

// forwardedClient walks the X-Forwarded-For values from the right, starting
// from the trusted peer.
func (e *Enricher) forwardedClient(peer netip.Addr, values []string) netip.Addr {
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for {
			comma := strings.LastIndexByte(list, ',')
			addr, ok := parseAddr(list[comma+1:])
			if !ok {
				return client
			}
			client = addr
			if !e.isTrusted(addr) {
				return client
			}
			if comma < 0 {
				break
			}
			list = list[:comma]
		}
	}
	return client
}

func (e *Enricher) isTrusted(a netip.Addr) bool {
	for _, p := range e.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr reads "ip", "ip:port" or "[ipv6]:port" (some proxies put ports
// in X-Forwarded-For) and returns the IP unmapped and without zone, so that
// it matches IPv4 prefixes and prints plainly.
// parsePeer is parseAddr for a connection's remote address, which is
// host:port: tried that way first, it costs no failed parse (an error
// value, allocated) per event.
// addrString is a.String() without an allocation when peer (host:port,
// what a was parsed from) starts with it, as it does for IPv4 peers.
func addrString(a netip.Addr, peer string) string {
	var buf [len("255.255.255.255")]byte
	if i := strings.LastIndexByte(peer, ':'); a.Is4() && i > 0 && i <= len(buf) {
		if host := peer[:i]; string(a.AppendTo(buf[:0])) == host {
			return host
		}
	}
	return a.String()
}

func parsePeer(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return parseAddr(s)
}

func parseAddr(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}
