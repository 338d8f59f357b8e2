package proxy

import (
	"crypto/tls"
	"fmt"
	"math/big"
	"slices"

	"github.com/auditproxy/auditproxy/event"
)

// clientCert is Exchange.ClientCert for a request that arrived over cs:
// the leaf certificate the client presented, if the listener verified it.
func clientCert(cs *tls.ConnectionState) *event.ClientCert {
	if cs == nil || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		return nil
	}
	c := cs.PeerCertificates[0]
	return &event.ClientCert{
		Subject:      c.Subject.String(),
		CommonName:   c.Subject.CommonName,
		Issuer:       c.Issuer.String(),
		SerialNumber: serialHex(c.SerialNumber),
		// The certificate is shared by every request on the connection
		// (and by resumed sessions); the Exchange gets its own slices.
		DNSNames:       slices.Clone(c.DNSNames),
		EmailAddresses: slices.Clone(c.EmailAddresses),
	}
}

// serialHex writes a serial number as openssl does: upper-case hex bytes,
// so always an even number of digits.
func serialHex(n *big.Int) string {
	switch {
	case n == nil:
		return ""
	case n.Sign() == 0:
		return "00"
	case n.Sign() < 0: // not allowed by RFC 5280, but parsed by crypto/x509
		return fmt.Sprintf("-%X", new(big.Int).Neg(n).Bytes())
	}
	return fmt.Sprintf("%X", n.Bytes())
}
