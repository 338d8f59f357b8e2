package chain

import (
	"crypto/ed25519"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditproxy/auditproxy/event"
	"github.com/auditproxy/auditproxy/output/format"
)

// TestKeyFiles: openssl's Ed25519 keys load; other keys and other files
// are refused with a reason.
func TestKeyFiles(t *testing.T) {
	s, err := LoadSigner("testdata/ed25519.pem")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey("testdata/ed25519.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	if KeyID(pub) != s.KeyID {
		t.Errorf("public key %s does not match the private key %s", KeyID(pub), s.KeyID)
	}
	if fromPriv, err := LoadPublicKey("testdata/ed25519.pem"); err != nil || !fromPriv.Equal(pub) {
		t.Errorf("public half of the private key: %v, %v", fromPriv, err)
	}
	for _, tc := range []struct {
		file string
		load func(string) error
		want string
	}{
		{"testdata/ec.pem", func(f string) error { _, err := LoadSigner(f); return err }, "want an Ed25519 key"},
		{"testdata/ec.pub.pem", func(f string) error { _, err := LoadPublicKey(f); return err }, "want an Ed25519 key"},
		{"testdata/ed25519.pub.pem", func(f string) error { _, err := LoadSigner(f); return err }, `want "PRIVATE KEY"`},
		{"sign.go", func(f string) error { _, err := LoadPublicKey(f); return err }, "no PEM block"},
		{"testdata/missing.pem", func(f string) error { _, err := LoadSigner(f); return err }, "no such file"},
	} {
		if err := tc.load(tc.file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}

// signedTrail seals events, a checkpoint, more events and a shutdown
// checkpoint, and returns them as lines.
func signedTrail(t *testing.T, s *Signer) []string {
	t.Helper()
	c, _ := Open("")
	lines := trail(t, c, 4)
	cp := []event.Event{s.Checkpoint(time.Now(), CheckpointPeriodic, time.Minute)}
	if err := c.SealSigned(cp, s); err != nil {
		t.Fatal(err)
	}
	lines = append(lines, strings.TrimSuffix(string(format.AppendJSON(nil, &cp[0])), "\n"))
	evs := []event.Event{eventtestFull("after"), s.Checkpoint(time.Now(), CheckpointShutdown, time.Minute)}
	if err := c.Seal(evs[:1]); err != nil {
		t.Fatal(err)
	}
	if err := c.SealSigned(evs[1:], s); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		lines = append(lines, strings.TrimSuffix(string(format.AppendJSON(nil, &evs[i])), "\n"))
	}
	return lines
}

func TestCheckpointsVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	s := NewSigner(priv)
	good := signedTrail(t, s)
	edit := func(f func([]string) []string) []string { return f(append([]string(nil), good...)) }
	resign := func(l []string, i int, change func(*event.Event)) []string {
		ev := decode(t, l[i])
		change(&ev)
		ev.Hash = Hash(&ev)
		l[i] = strings.TrimSuffix(string(format.AppendJSON(nil, &ev)), "\n")
		return l
	}
	cases := []struct {
		name  string
		key   ed25519.PublicKey
		lines []string
		kind  string // "" when it holds
		line  int
	}{
		{"intact", pub, good, "", 0},
		{"intact, no key", nil, good, "", 0},
		{"another key", otherPub, good, "forged", 5},
		{"checkpoint edited", pub, edit(func(l []string) []string {
			l[4] = strings.Replace(l[4], "signed checkpoint", "signed checkpoinT", 1)
			return l
		}), "edited", 5},
		{"checkpoint forged: rehashed", pub, edit(func(l []string) []string {
			return resign(l, 6, func(ev *event.Event) { ev.Target.Name = "periodic" })
		}), "forged", 7},
		{"signature stripped", pub, edit(func(l []string) []string {
			return resign(l, 4, func(ev *event.Event) { ev.Signature = "" })
		}), "forged", 5},
		{"signature of another checkpoint", pub, edit(func(l []string) []string {
			sig := decode(t, l[6]).Signature
			return resign(l, 4, func(ev *event.Event) { ev.Signature = sig })
		}), "forged", 5},
	}
	for _, tc := range cases {
		v := Verifier{Key: tc.key}
		v.Check("f", strings.NewReader(strings.Join(tc.lines, "\n")+"\n"))
		r := v.Report()
		if tc.kind == "" {
			if r.Problem != nil {
				t.Errorf("%s: %v, want none", tc.name, r.Problem)
			}
			continue
		}
		if r.Problem == nil || r.Problem.Kind != tc.kind || r.Problem.Line != tc.line {
			t.Errorf("%s: problem %v, want %s at line %d", tc.name, r.Problem, tc.kind, tc.line)
		}
	}

	// The report says how far the chain is signed.
	for _, tc := range []struct {
		name     string
		lines    []string
		signed   int64
		unsigned int
		shutdown bool
	}{
		{"whole", good, 7, 0, true},
		{"tail cut", good[:6], 5, 1, false},
		{"before any checkpoint", good[:4], 0, 4, false},
	} {
		v := Verifier{Key: pub}
		v.Check("f", strings.NewReader(strings.Join(tc.lines, "\n")+"\n"))
		c := v.Report().Chains[0]
		if c.SignedSeq != tc.signed || c.Unsigned != tc.unsigned || c.Shutdown != tc.shutdown {
			t.Errorf("%s: signed to %d, %d unsigned, shutdown %v; want %d, %d, %v", tc.name, c.SignedSeq, c.Unsigned, c.Shutdown, tc.signed, tc.unsigned, tc.shutdown)
		}
	}
}

func FuzzParsePrivateKey(f *testing.F) {
	for _, file := range []string{"testdata/ed25519.pem", "testdata/ec.pem", "testdata/ed25519.pub.pem"} {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKey(data)
		if err == nil && len(key) != ed25519.PrivateKeySize {
			t.Errorf("accepted a key of %d bytes", len(key))
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	for _, file := range []string{"testdata/ed25519.pub.pem", "testdata/ec.pub.pem", "testdata/ed25519.pem"} {
		data, _ := os.ReadFile(file)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pub, err := ParsePublicKey(data)
		if err == nil && len(pub) != ed25519.PublicKeySize {
			t.Errorf("accepted a key of %d bytes", len(pub))
		}
	})
}
