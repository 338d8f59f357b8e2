package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/auditproxy/auditproxy/chain"
)

// cmdKeygen writes a new Ed25519 key pair for signed checkpoints: the
// private key (PEM PKCS#8, mode 0600) for run's --signing-key, the public
// key (PEM PKIX) next to it, FILE.pub, for verify --key. The same as
//
//	openssl genpkey -algorithm ed25519 -out FILE
//	openssl pkey -in FILE -pubout -out FILE.pub
//
// It never overwrites a file.
func cmdKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auditproxy keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file for the private key; the public key goes to FILE.pub")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: auditproxy keygen --out signing.pem")
		return 2
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		fmt.Fprintln(stderr, "auditproxy keygen:", err)
		return 1
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(priv)
	pubDER, _ := x509.MarshalPKIXPublicKey(pub)
	if err := writeNew(*out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		fmt.Fprintln(stderr, "auditproxy keygen:", err)
		return 1
	}
	if err := writeNew(*out+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(*out)
		fmt.Fprintln(stderr, "auditproxy keygen:", err)
		return 1
	}
	fmt.Fprintf(stdout, "key %s: private key in %s (run --signing-key), public key in %s.pub (verify --key)\n", chain.KeyID(pub), *out, *out)
	return 0
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	return nil
}
