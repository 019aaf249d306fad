package devicecred

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// lookTools skips the test unless every tool is on PATH.
func lookTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH; scripts/interop-age.sh installs age", tool)
		}
	}
}

func run(t *testing.T, env []string, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, stderr.Bytes())
	}
	return out
}

// TestInteropAgeCLI runs the same checks as scripts/interop-age.sh, at the
// test work factor, when age and age-plugin-batchpass are on PATH.
func TestInteropAgeCLI(t *testing.T) {
	lookTools(t, "age", "age-plugin-batchpass", "openssl")
	dir := t.TempDir()

	// keysmith seals, age opens, openssl derives the public key.
	pemBytes, spki, sealed := sealFresh(t)
	sealedPath := filepath.Join(dir, "device.key.age")
	if err := os.WriteFile(sealedPath, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	got := run(t, []string{"AGE_PASSPHRASE=" + testPassphrase}, nil, "age", "-d", "-j", "batchpass", sealedPath)
	if !bytes.Equal(got, pemBytes) {
		t.Fatalf("age -d output =\n%s\nwant\n%s", got, pemBytes)
	}
	if der := run(t, nil, got, "openssl", "pkey", "-pubout", "-outform", "DER"); !bytes.Equal(der, spki) {
		t.Errorf("openssl SPKI = %x, want %x", der, spki)
	}
	cmd := exec.Command("age", "-d", "-j", "batchpass", sealedPath)
	cmd.Env = append(os.Environ(), "AGE_PASSPHRASE=not-"+testPassphrase)
	if err := cmd.Run(); err == nil {
		t.Error("age -d opened the file with a wrong passphrase")
	}

	// age seals an openssl key, keysmith opens it.
	keyPEM := run(t, nil, nil, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	wantSPKI := run(t, nil, keyPEM, "openssl", "pkey", "-pubout", "-outform", "DER")
	ageFile := run(t, []string{
		"AGE_PASSPHRASE=" + testPassphrase,
		"AGE_PASSPHRASE_WORK_FACTOR=" + strconv.Itoa(testWorkFactor),
	}, keyPEM, "age", "-e", "-j", "batchpass")
	revealed, err := RevealPEM(bytes.NewReader(ageFile), testPassphrase)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivatePEM(revealed)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := SPKI(&priv.PublicKey); !bytes.Equal(got, wantSPKI) {
		t.Errorf("SPKI of the age-sealed key = %x, want %x", got, wantSPKI)
	}
}

// TestInteropOpenSSLSignature checks SignChallenge against openssl dgst.
func TestInteropOpenSSLSignature(t *testing.T) {
	lookTools(t, "openssl")
	dir := t.TempDir()
	priv, err := ParsePrivatePEM(readFixture(t, "p256-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	nonce, err := NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := SignChallenge(priv, "device-0001", nonce)
	if err != nil {
		t.Fatal(err)
	}
	sigPath := filepath.Join(dir, "sig")
	if err := os.WriteFile(sigPath, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	pub, _ := filepath.Abs(filepath.Join("testdata", "p256-pub.pem"))
	msg := ChallengeMessage("device-0001", nonce)
	if out := run(t, nil, msg, "openssl", "dgst", "-sha256", "-verify", pub, "-signature", sigPath); !bytes.Contains(out, []byte("Verified OK")) {
		t.Errorf("openssl dgst -verify: %s", out)
	}
}
