package output

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSConfig is the client side of TLS for network outputs: the tls:
// option of syslog, kafka, nats and the HTTP collectors. The zero value
// verifies the server against the system's roots and presents no
// certificate.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`   // PEM roots to verify the server with; "" = the system's
	CertFile           string `yaml:"cert_file"` // client certificate (PEM) for mutual TLS, with KeyFile
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"` // accept any server certificate: for tests only
	ServerName         string `yaml:"server_name"`          // to verify instead of the address's host
}

// Config reads the files and returns the crypto/tls configuration.
func (c *TLSConfig) Config() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12, // RFC 9325 4.1 (and RFC 9662 for syslog)
		InsecureSkipVerify: c.InsecureSkipVerify,
		ServerName:         c.ServerName,
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls: ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tls: cert_file and key_file go together")
	}
	if c.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: cert_file/key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
