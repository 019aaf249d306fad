package device

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// sealAge writes plaintext as a passphrase age file (work factor 10), the
// way any age user could, not through devicecred.SealPEM.
func sealAge(t *testing.T, path string, plaintext []byte, pass string) {
	t.Helper()
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plaintext); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRevealOnlyDeviceKeys: an age file that opens with the passphrase but
// does not hold a P-256 private key is a usage error, and nothing is
// written, neither to -o nor to standard output.
func TestRevealOnlyDeviceKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	for name, plaintext := range map[string][]byte{
		"text":  []byte("the payroll spreadsheet\n\x1b[2J"),
		"p384":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"empty": nil,
	} {
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t)
			sealed := filepath.Join(e.dir, "other.age")
			pass := filepath.Join(e.dir, "pass")
			sealAge(t, sealed, plaintext, "alpha-bravo-charlie-delta")
			if err := os.WriteFile(pass, []byte("alpha-bravo-charlie-delta\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(e.dir, "out.pem")
			for _, o := range []string{out, ""} {
				err := revealRun(&RevealOptions{F: e.f, File: sealed, Out: o, PassphraseFile: pass})
				var u *cmdutil.UsageError
				if !errors.As(err, &u) || cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "does not hold a P-256 device private key") {
					t.Fatalf("reveal -o %q: %v, want a usage error", o, err)
				}
			}
			if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("-o file written: %v", err)
			}
			if e.out.Len() != 0 {
				t.Errorf("stdout: %q", e.out)
			}
		})
	}
}

// TestRevealExistingOutputHint: reveal stores nothing in a vault, so its
// hint about an existing -o file does not speak of storing.
func TestRevealExistingOutputHint(t *testing.T) {
	e := newTestEnv(t)
	keyPEM, _ := mustKey(t)
	sealed := filepath.Join(e.dir, "k.age")
	sealAge(t, sealed, keyPEM, "alpha-bravo-charlie-delta")
	out := filepath.Join(e.dir, "k.pem")
	if err := os.WriteFile(out, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := revealRun(&RevealOptions{F: e.f, File: sealed, Out: out})
	hints := strings.Join(cmdutil.Hints(err), "\n")
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(hints, "nothing was written") || strings.Contains(hints, "stored") {
		t.Errorf("reveal over an existing -o file: %v, hints %q", err, hints)
	}
}
