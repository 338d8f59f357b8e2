package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/auditproxy/auditproxy/event"
)

// Signed checkpoints. A chain reveals an event edited, deleted, inserted
// or reordered anywhere before its last event, but not events cut off its
// end: the shorter chain is a chain too. With a signing key the pipeline
// writes a checkpoint event now and then (and one at a graceful shutdown)
// into the trail like any other event: chained, and signed over its own
// hash, which covers every event before it through prev_hash. Verify with
// the public key then knows how far the trail was signed and when; a trail
// whose last checkpoint is older than the interval allows, and which does
// not end with a shutdown checkpoint, has likely lost its tail.
//
// Keys are Ed25519 in PEM: the private key as PKCS#8 ("PRIVATE KEY"), the
// public key as PKIX ("PUBLIC KEY"), as openssl writes them:
//
//	openssl genpkey -algorithm ed25519 -out signing.pem
//	openssl pkey -in signing.pem -pubout -out signing.pub.pem

// CheckpointAction is the action of checkpoint events.
const CheckpointAction = "audit.checkpoint"

// Checkpoint kinds, in the event's target.name.
const (
	CheckpointPeriodic = "periodic"
	CheckpointShutdown = "shutdown" // the last event of a graceful shutdown
)

// signedPrefix is put before the hash that is signed, so that a signature
// made by this key for anything else can never pass for a checkpoint's.
const signedPrefix = "auditproxy checkpoint v1\n"

// Signer signs checkpoints.
type Signer struct {
	key ed25519.PrivateKey
	// KeyID names the key: the first 8 bytes of the SHA-256 of the public
	// key, hex. Checkpoints carry it (target.id), to tell which key to
	// verify them with.
	KeyID string
}

// LoadSigner reads a PEM PKCS#8 Ed25519 private key file.
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("reading signing key %s: %w", path, err)
	}
	return NewSigner(key), nil
}

// NewSigner signs with key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key, KeyID: KeyID(key.Public().(ed25519.PublicKey))}
}

// KeyID is the id of a public key (see Signer.KeyID).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// sign returns the signature of a checkpoint with this hash.
func (s *Signer) sign(hash string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(s.key, []byte(signedPrefix+hash)))
}

// Checkpoint is a new, unsealed checkpoint event; kind is CheckpointPeriodic
// or CheckpointShutdown, every the interval checkpoints are written at.
func (s *Signer) Checkpoint(now time.Time, kind string, every time.Duration) event.Event {
	desc := fmt.Sprintf("signed checkpoint of the hash chain (key %s); the next one within %s", s.KeyID, every)
	if kind == CheckpointShutdown {
		desc = fmt.Sprintf("signed checkpoint of the hash chain (key %s) at shutdown: the last event until the next start", s.KeyID)
	}
	return event.Event{
		ID:          event.NewID(),
		Time:        now.UTC(),
		Action:      CheckpointAction,
		Description: desc,
		Area:        "auditproxy",
		Severity:    event.SeverityInfo,
		Outcome:     event.OutcomeSuccess,
		Actor:       event.Actor{Type: "service", Name: "auditproxy"},
		Target:      event.Target{Type: "audit_trail", ID: s.KeyID, Name: kind},
		Rule:        "auditproxy",
	}
}

// SealSigned is Seal for checkpoints: it also signs each event's hash.
// Hold the same lock as for Seal across sealing and handing over.
func (c *Chain) SealSigned(evs []event.Event, s *Signer) error { return c.seal(evs, s.sign) }

// SignatureValid reports whether ev's signature is pub's over ev's hash.
// It does not check the hash itself (Hash does).
func SignatureValid(pub ed25519.PublicKey, ev *event.Event) bool {
	sig, err := base64.StdEncoding.DecodeString(ev.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(pub, []byte(signedPrefix+ev.Hash), sig)
}

// ParsePrivateKey reads an Ed25519 private key from PEM (PKCS#8, block
// "PRIVATE KEY").
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in it (want an Ed25519 key from: openssl genpkey -algorithm ed25519)")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block %q, want \"PRIVATE KEY\" (PKCS#8 Ed25519, from: openssl genpkey -algorithm ed25519)", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKCS#8 private key: %w", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
	}
	return key, nil
}

// ParsePublicKey reads an Ed25519 public key from PEM: a PKIX "PUBLIC
// KEY" block, or a private key (its public half is used).
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in it (want an Ed25519 public key from: openssl pkey -in KEY -pubout)")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
		}
		return pub, nil
	case "PRIVATE KEY":
		key, err := ParsePrivateKey(data)
		if err != nil {
			return nil, err
		}
		return key.Public().(ed25519.PublicKey), nil
	}
	return nil, fmt.Errorf("PEM block %q, want \"PUBLIC KEY\"", block.Type)
}

// LoadPublicKey reads a public key file (see ParsePublicKey).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading public key: %w", err)
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("reading public key %s: %w", path, err)
	}
	return pub, nil
}
