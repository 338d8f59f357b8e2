package rules

import (
	"net"
	"net/netip"

	"github.com/auditproxy/auditproxy/event"
)

// authProxy is a trusted header set by an authenticating proxy in front of
// auditproxy (oauth2-proxy's X-Forwarded-User, say). It is believed only
// when the request came straight from one of the trusted addresses: anyone
// else could send the header too.
type authProxy struct {
	header  string
	trusted []netip.Prefix
}

func (a authProxy) user(x *event.Exchange) string {
	if a.header == "" {
		return ""
	}
	host, _, err := net.SplitHostPort(x.Peer)
	if err != nil {
		host = x.Peer
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	for _, p := range a.trusted {
		if p.Contains(ip) {
			return x.RequestHeader.Get(a.header)
		}
	}
	return ""
}
