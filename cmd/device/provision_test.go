package device

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
)

const testMasterKey = "1111111111111111111111111111111111111111111111111111111111111111"

// testEnv is a vault in a temporary directory and a Factory pointing at it,
// with --output json and streams that are not terminals.
type testEnv struct {
	dir      string
	vault    string
	f        *cmdutil.Factory
	out, err *bytes.Buffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{dir: dir, vault: filepath.Join(dir, "vault.db")}
	mk, err := masterkey.Parse(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := createVault(e.vault, "dev", mk)
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	var io *cmdutil.IOStreams
	io, e.out, e.err = cmdutil.Test("")
	getenv := func(k string) string {
		if k == "KEYSMITH_MASTER_KEY" {
			return testMasterKey
		}
		return ""
	}
	e.f = &cmdutil.Factory{IO: io, Getenv: getenv, Rand: rand.Reader, Now: time.Now, Config: &cmdutil.Config{
		Env: "dev", EnvFrom: "default", Output: "json", Vault: e.vault, Tenant: "default",
		Roles: cmdutil.DefaultRoles, ConfigDir: filepath.Join(dir, "config"), DataDir: filepath.Join(dir, "data"),
	}}
	e.f.SetVaultDefaults()
	return e
}

func (e *testEnv) openVault(t *testing.T) *vault.Vault {
	t.Helper()
	v, err := openVault(e.vault)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	mk, _ := masterkey.Parse(testMasterKey)
	if err := v.Unlock(context.Background(), mk); err != nil {
		t.Fatal(err)
	}
	return v
}

type provisionJSON struct {
	Device, DeviceID, KeyID, Role, Fingerprint, File, Passphrase string
}

func (p *provisionJSON) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	s := func(k string) string { v, _ := m[k].(string); return v }
	*p = provisionJSON{s("device"), s("device_id"), s("key_id"), s("role"), s("fingerprint"), s("file"), s("passphrase")}
	return nil
}

// TestProvisionRoundTripRealWorkFactor provisions at the real scrypt work
// factor 18, opens the file with the age library (not with pkg/devicecred),
// and checks that the revealed key's public half is the stored SPKI byte
// for byte. It then scans the vault file, its WAL and the audit export for
// the private key and the passphrase, and finds neither.
func TestProvisionRoundTripRealWorkFactor(t *testing.T) {
	if scryptWorkFactor != devicecred.DefaultWorkFactor || devicecred.DefaultWorkFactor != 18 {
		t.Fatalf("work factor %d, want the production 18", scryptWorkFactor)
	}
	e := newTestEnv(t)
	// Keep a connection open so that the WAL is not checkpointed away when
	// the command closes the vault: the scan then sees it.
	held := e.openVault(t)
	out := filepath.Join(e.dir, "web-01.pem.age")
	opts := &ProvisionOptions{F: e.f, Role: "server", Name: "web-01", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Out: out, Words: 4}
	start := time.Now()
	if err := provisionRun(opts); err != nil {
		t.Fatal(err)
	}
	t.Logf("provision at work factor 18: %v", time.Since(start))
	var res provisionJSON
	if err := json.Unmarshal(e.out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, e.out)
	}
	if res.Device != "web-01" || res.Role != "server" || res.File != out || len(strings.Split(res.Passphrase, "-")) != 4 {
		t.Fatalf("output %+v", res)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}

	// Open with the age library directly.
	sealed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n-> scrypt ")) || !bytes.Contains(sealed, []byte(" 18\n")) {
		t.Fatalf("not a binary age scrypt file at work factor 18: %q", sealed[:60])
	}
	id, err := age.NewScryptIdentity(res.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("revealed %q", pemBytes)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("revealed a %T", key)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := held.Device(context.Background(), "default", res.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 1 || !bytes.Equal(d.Keys[0].SPKI, pub) || d.Keys[0].Fingerprint != res.Fingerprint {
		t.Fatalf("stored SPKI %x, revealed %x", d.Keys, pub)
	}

	// Nothing secret in the vault file, its WAL or the audit export.
	audit, err := held.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	auditJSON, err := json.Marshal(audit)
	if err != nil {
		t.Fatal(err)
	}
	scanned := map[string][]byte{"audit export": auditJSON}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if b, err := os.ReadFile(e.vault + suffix); err == nil {
			scanned[filepath.Base(e.vault+suffix)] = b
		}
	}
	if len(scanned[filepath.Base(e.vault)+"-wal"]) == 0 {
		t.Fatal("no WAL to scan")
	}
	needles := map[string][]byte{"PEM": pemBytes, "PKCS#8 DER": block.Bytes, "passphrase": []byte(res.Passphrase)}
	for i, line := range strings.Split(strings.TrimSpace(string(pemBytes)), "\n") {
		if !strings.HasPrefix(line, "-----") {
			needles[fmt.Sprintf("PEM body line %d", i+1)] = []byte(line)
		}
	}
	scalar, err := priv.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	needles["private scalar"] = scalar
	for where, hay := range scanned {
		for what, needle := range needles {
			if bytes.Contains(hay, needle) {
				t.Errorf("%s contains the %s", where, what)
			}
		}
	}
	// The public key, on the other hand, is there: the scan can find things.
	if !bytes.Contains(scanned[filepath.Base(e.vault)+"-wal"], pub) {
		t.Error("the WAL does not hold the SPKI: the scan looks in the wrong place")
	}
}

// TestProvisionFailureLeavesNothing: when a write fails after the key file
// was written, the key file is removed and the vault is unchanged.
func TestProvisionFailureLeavesNothing(t *testing.T) {
	TestOnlySetScryptWorkFactor(10)
	defer TestOnlySetScryptWorkFactor(devicecred.DefaultWorkFactor)
	e := newTestEnv(t)
	out := filepath.Join(e.dir, "k.age")
	opts := &ProvisionOptions{F: e.f, Role: "server", Name: "web-01", Out: out, Words: 4,
		PassphraseFile: filepath.Join(e.dir, "missing-dir", "k.pass")}
	if err := provisionRun(opts); err == nil {
		t.Fatal("provision with an unwritable passphrase file succeeded")
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("key file left behind: %v", err)
	}
	if ds, err := e.openVault(t).Devices(context.Background(), "default", ""); err != nil || len(ds) != 0 {
		t.Fatalf("devices: %v, %v", ds, err)
	}

	// A transaction that fails (the name is taken between the check and the
	// write) removes both files.
	pass := filepath.Join(e.dir, "k.pass")
	opts = &ProvisionOptions{F: e.f, Role: "server", Name: "taken", Out: out, Words: 4, PassphraseFile: pass}
	opts.beforeCommit = func() {
		for _, p := range []string{out, pass} {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("before the transaction: %v", err)
			}
		}
		_, spki := mustKey(t)
		if _, err := e.openVault(t).AddDeviceKeys(context.Background(), "default", []vault.KeyRequest{{Name: "taken", Role: "server", SPKI: spki, Origin: vault.KeyProvisioned}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := provisionRun(opts); !errors.Is(err, vault.ErrDeviceExists) {
		t.Fatalf("provision of a name taken before the transaction: %v", err)
	}
	for _, p := range []string{out, pass} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind: %v", p, err)
		}
	}
	if ds, err := e.openVault(t).Devices(context.Background(), "default", ""); err != nil || len(ds) != 1 {
		t.Fatalf("devices: %v, %v", ds, err)
	}
}

func mustKey(t *testing.T) ([]byte, []byte) {
	t.Helper()
	priv, err := devicecred.Generate()
	if err != nil {
		t.Fatal(err)
	}
	spki, err := devicecred.SPKI(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p, err := devicecred.PrivatePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	return p, spki
}

func TestBatchNames(t *testing.T) {
	existing := []vault.DeviceInfo{{Name: "edge-001"}, {Name: "edge-007"}, {Name: "edge-x"}, {Name: "other-9"}}
	got := batchNames(existing, "edge-", 3)
	if strings.Join(got, ",") != "edge-008,edge-009,edge-010" {
		t.Fatal(got)
	}
	if got := batchNames(nil, "n", 1); got[0] != "n001" {
		t.Fatal(got)
	}
}

func TestCheckRole(t *testing.T) {
	f := &cmdutil.Factory{Config: &cmdutil.Config{Roles: []string{"server", "kiosk"}}}
	for role, ok := range map[string]bool{"server": true, "kiosk": true, "untrusted": false, "releaser": false, "": false, "Server": false} {
		err := checkRole(f, role)
		var u *cmdutil.UsageError
		if ok != (err == nil) || (err != nil && !errors.As(err, &u)) {
			t.Errorf("checkRole(%q) = %v", role, err)
		}
	}
	if err := checkRole(&cmdutil.Factory{Config: &cmdutil.Config{}}, "releaser"); err != nil {
		t.Errorf("default roles: %v", err)
	}
}

// TestConfiguredRolesValidated: a role list with an invalid entry or
// "untrusted" is refused whole, naming the config key, whatever role is
// asked for.
func TestConfiguredRolesValidated(t *testing.T) {
	for _, c := range []struct {
		roles []string
		want  string
	}{
		{[]string{"kiosk", "untrusted"}, `config key "roles" is invalid: "untrusted" can never hold a device credential`},
		{[]string{"kiosk", "Bad Role"}, `config key "roles" is invalid: "Bad Role" is not a role name`},
		{[]string{"kiosk", ""}, `"" is not a role name`},
		{[]string{"Kiosk"}, `"Kiosk" is not a role name`},
		{[]string{"untrusted", "Bad Role"}, `"untrusted" can never hold a device credential; "Bad Role" is not a role name`},
	} {
		f := &cmdutil.Factory{Config: &cmdutil.Config{Roles: c.roles}}
		err := checkRole(f, "kiosk")
		var u *cmdutil.UsageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("roles %q: checkRole = %v, want a usage error %q", c.roles, err, c.want)
		}
	}
}
