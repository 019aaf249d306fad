package vault

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// openFixture copies the release fixture (testdata/release-v5/README.md)
// and opens it unlocked.
func openFixture(t *testing.T) (*Vault, string) {
	t.Helper()
	data, err := os.ReadFile("testdata/release-v5/vault.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vault.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := masterkey.Parse(strings.Repeat("22", 32))
	if err != nil {
		t.Fatal(err)
	}
	return reopen(t, path, k), path
}

func fixtureToken(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/release-v5/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestReleaseFixture: a vault made by the release before the core opens,
// migrates, and every value, device secret, token, grant, device key and
// the audit chain verify: byte layouts did not change.
func TestReleaseFixture(t *testing.T) {
	v, _ := openFixture(t)
	if v.SchemaVersion() != sqlite.LatestSchema() || v.level != keyring.LevelRows {
		t.Fatalf("schema %d, row MAC level %d", v.SchemaVersion(), v.level)
	}
	// Reads before any write verify the chain as written by the release.
	res, err := v.VerifyAudit(ctx)
	if err != nil || res.Verified != 36 || res.Unverified != 0 {
		t.Fatalf("audit before any write: %+v, %v", res, err)
	}
	for _, c := range []struct {
		tenant, name string
		version      int
		want         string
	}{{"default", "DB_PASSWORD", 0, "v2"}, {"default", "DB_PASSWORD", 1, "v1"}, {"default", "API_KEY", 0, "api"},
		{"acme", "TOKEN", 0, "acme2"}, {"acme", "TOKEN", 1, "acme"}, {"default", "OLD", 1, "gone"}} {
		s, err := v.Get(ctx, c.tenant, c.name, c.version)
		if err != nil || string(s.Value) != c.want {
			t.Errorf("%s/%s v%d: %v, %v", c.tenant, c.name, c.version, s, err)
		}
	}
	if s, _ := v.Get(ctx, "default", "DB_PASSWORD", 1); s == nil || s.Description != "orders db" {
		t.Errorf("description: %+v", s)
	}
	if _, err := v.Get(ctx, "default", "OLD", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed secret: %v", err)
	}
	// The first write filled in the device MACs (level 2).
	if v.level != keyring.LevelLatest {
		t.Errorf("row MAC level %d after the first write", v.level)
	}
	for _, c := range []struct{ device, name, want string }{{"web-01", "WIFI_PSK", "Wifi-psk-2"}, {"kiosk-1", "MPS_PASSWORD", "Mps-pass-123"}} {
		s, err := v.GetDeviceSecret(ctx, DefaultTenant, c.device, c.name)
		if err != nil || string(s.Value) != c.want {
			t.Errorf("device %s %s: %v, %v", c.device, c.name, s, err)
		}
	}
	// The service token reads what it was granted, the revoked grant and
	// token are refused, the stub is there.
	orders := fixtureToken(t, "orders.tok")
	if s, err := v.ServiceGet(ctx, orders, DefaultTenant, "DB_PASSWORD", 0); err != nil || string(s.Value) != "v2" {
		t.Errorf("service read: %v, %v", s, err)
	}
	if _, err := v.ServiceGet(ctx, orders, DefaultTenant, "API_KEY", 0); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("revoked grant: %v", err)
	}
	if _, err := v.ServiceGet(ctx, fixtureToken(t, "billing.tok"), DefaultTenant, "DB_PASSWORD", 0); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("revoked token: %v", err)
	}
	if st, err := v.Stubs(ctx, DefaultTenant); err != nil || len(st) != 1 || st[0].Name != "MISSING_ONE" {
		t.Errorf("stubs: %+v, %v", st, err)
	}
	// The device key still proves the device; the revoked one stays revoked.
	pem, err := os.ReadFile("testdata/release-v5/d1.key.pem")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := devicecred.ParsePrivatePEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.IssueChallenge(ctx, DefaultTenant, "web-01", 60e9)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := devicecred.SignChallenge(priv, c.DeviceID, c.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := v.VerifyChallenge(ctx, DefaultTenant, "web-01", c.Nonce, sig); err != nil || k.Role != "server" {
		t.Errorf("device verify: %+v, %v", k, err)
	}
	d, err := v.Device(ctx, DefaultTenant, "kiosk-1")
	if err != nil || len(d.Keys) != 1 || d.Keys[0].Status != KeyRevoked || d.UUID != "11111111-2222-3333-4444-555555555555" {
		t.Errorf("kiosk-1: %+v, %v", d, err)
	}
	// A new write and the whole chain, old rows and new, verify.
	if _, err := v.Put(ctx, "acme", "TOKEN", []byte("acme3"), ""); err != nil {
		t.Fatal(err)
	}
	if res, err := v.VerifyAudit(ctx); err != nil || res.Unverified != 0 {
		t.Fatalf("audit after writes: %+v, %v", res, err)
	}
}
