package vault

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// wantTampered checks that err is ErrTampered naming the table's row.
func wantTampered(t *testing.T, what string, err error, table string) {
	t.Helper()
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), table+" row (") {
		t.Fatalf("%s: %v, want ErrTampered naming a %s row", what, err, table)
	}
}

func spkiOf(t *testing.T) []byte {
	t.Helper()
	_, spki := newKey(t)
	return spki
}

// rowMACDevice enrols a device key and returns a function that answers a
// fresh challenge with it on the vault it is given.
func rowMACDevice(t *testing.T, v *Vault, name string) (KeyResult, func(*Vault) (*DeviceKey, error)) {
	t.Helper()
	pem, spki := newKey(t)
	priv, err := devicecred.ParsePrivatePEM(pem)
	if err != nil {
		t.Fatal(err)
	}
	r := addKey(t, v, KeyRequest{Name: name, Role: "server", SPKI: spki, Origin: KeyEnrolled})
	return r, func(v *Vault) (*DeviceKey, error) {
		c, err := v.IssueChallenge(ctx, DefaultTenant, name, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := devicecred.SignChallenge(priv, r.DeviceID, c.Nonce)
		if err != nil {
			t.Fatal(err)
		}
		return v.VerifyChallenge(ctx, DefaultTenant, name, c.Nonce, sig)
	}
}

// rowMACService makes an approved token for service with a secret S it may
// read, and returns the token.
func rowMACService(t *testing.T, v *Vault, service string) (string, *Token) {
	t.Helper()
	tok, rec, err := v.CreateToken(ctx, service, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ApproveToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, DefaultTenant, "S", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GrantAccess(ctx, DefaultTenant, service, "S"); err != nil {
		t.Fatal(err)
	}
	if s, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0); err != nil || string(s.Value) != "v" {
		t.Fatalf("granted read: %v", err)
	}
	return tok, rec
}

// TestRowMACTamper changes authorisation rows through a second connection,
// as someone who can write the file but has no master key: every decision
// that reads the row fails closed with ErrTampered.
func TestRowMACTamper(t *testing.T) {
	t.Run("revoked device key set active", func(t *testing.T) {
		v, path, _ := newVault(t)
		r, verify := rowMACDevice(t, v, "d")
		if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, r.KeyID); err != nil {
			t.Fatal(err)
		}
		if _, err := verify(v); !errors.Is(err, ErrKeyRevoked) {
			t.Fatalf("revoked key: %v", err)
		}
		sqlExec(t, path, "UPDATE device_keys SET status = 'active', revoked_at = NULL WHERE key_id = ?", r.KeyID)
		_, err := verify(v)
		wantTampered(t, "revoked key set active", err, "device_keys")
		// vault audit verify notices too
		_, err = v.VerifyAudit(ctx)
		wantTampered(t, "audit verify", err, "device_keys")
	})
	t.Run("device key moved to another device", func(t *testing.T) {
		v, path, _ := newVault(t)
		r, _ := rowMACDevice(t, v, "a")
		_, verifyB := rowMACDevice(t, v, "b")
		if _, err := verifyB(v); err != nil {
			t.Fatal(err)
		}
		sqlExec(t, path, "UPDATE device_keys SET device_ref = (SELECT id FROM devices WHERE name = 'b') WHERE key_id = ?", r.KeyID)
		_, err := verifyB(v)
		wantTampered(t, "key moved", err, "device_keys")
	})
	t.Run("devices rows swapped", func(t *testing.T) {
		v, path, _ := newVault(t)
		a, _ := rowMACDevice(t, v, "a")
		b, _ := rowMACDevice(t, v, "b")
		// Swap the public IDs and names of the two rows: each device's
		// key now hangs under the other's ID. The devices rows carry MACs
		// (schema 6): neither device is usable.
		sqlExec(t, path, "UPDATE devices SET device_id = 'dev_tmp', name = 'tmp' WHERE name = 'a'")
		sqlExec(t, path, "UPDATE devices SET device_id = ?, name = 'a' WHERE name = 'b'", a.DeviceID)
		sqlExec(t, path, "UPDATE devices SET device_id = ?, name = 'b' WHERE name = 'tmp'", b.DeviceID)
		for _, name := range []string{"a", "b"} {
			_, err := v.IssueChallenge(ctx, DefaultTenant, name, time.Minute)
			wantTampered(t, "swapped devices", err, "devices")
			_, err = v.VerifyChallenge(ctx, DefaultTenant, name, []byte("nonce"), []byte("sig"))
			wantTampered(t, "swapped devices", err, "devices")
		}
		_, err := v.VerifyAudit(ctx)
		wantTampered(t, "audit verify", err, "devices")
	})
	// Issue 10, item 5: swapping the hardware UUIDs of two devices would
	// apply one device's report (its AMT password) to the other.
	t.Run("device UUIDs swapped", func(t *testing.T) {
		v, path, _ := newVault(t)
		addKey(t, v, KeyRequest{Name: "a", UUID: "11111111-1111-1111-1111-111111111111", Role: "server", Origin: KeyEnrolled, SPKI: spkiOf(t)})
		addKey(t, v, KeyRequest{Name: "b", UUID: "22222222-2222-2222-2222-222222222222", Role: "server", Origin: KeyEnrolled, SPKI: spkiOf(t)})
		sqlExec(t, path, "UPDATE devices SET device_uuid = 'x' WHERE name = 'a'; UPDATE devices SET device_uuid = '11111111-1111-1111-1111-111111111111' WHERE name = 'b'; UPDATE devices SET device_uuid = '22222222-2222-2222-2222-222222222222' WHERE name = 'a'")
		_, err := v.ApplyReport(ctx, DefaultTenant, &Report{RequestID: "r1", DeviceUUID: "11111111-1111-1111-1111-111111111111",
			Secrets: []ReportSecret{{Name: "AMT_PASSWORD", Value: "Secret-pass-1"}}})
		wantTampered(t, "swapped UUIDs", err, "devices")
		if ss, err := v.DeviceSecrets(ctx, DefaultTenant, "b"); err != nil || len(ss) != 0 {
			t.Fatalf("device b got secrets: %v, %v", ss, err)
		}
	})
	t.Run("token status flipped to approved", func(t *testing.T) {
		v, path, _ := newVault(t)
		tok, rec := rowMACService(t, v, "orders")
		if _, err := v.RevokeToken(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0); !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("revoked token: %v", err)
		}
		sqlExec(t, path, "UPDATE service_tokens SET status = 'approved' WHERE id = ?", rec.ID)
		_, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0)
		wantTampered(t, "token flipped", err, "service_tokens")
		// An operator's decision on the row fails closed too.
		_, err = v.DenyToken(ctx, rec.ID)
		wantTampered(t, "deciding a tampered token", err, "service_tokens")
	})
	t.Run("token hash replaced", func(t *testing.T) {
		v, path, _ := newVault(t)
		_, rec := rowMACService(t, v, "orders")
		mine, _, err := v.CreateToken(ctx, "attacker", "")
		if err != nil {
			t.Fatal(err)
		}
		// The attacker's own token, with orders' public ID.
		forged := TokenPrefix + rec.ID + mine[len(TokenPrefix)+2*tokenIDBytes:]
		sqlExec(t, path, "UPDATE service_tokens SET hash = ? WHERE id = ?", keyring.TokenHash(forged), rec.ID)
		_, err = v.ServiceGet(ctx, forged, DefaultTenant, "S", 0)
		wantTampered(t, "hash replaced", err, "service_tokens")
	})
	t.Run("grant inserted", func(t *testing.T) {
		v, path, _ := newVault(t)
		tok, _ := rowMACService(t, v, "orders")
		if _, err := v.Put(ctx, DefaultTenant, "OTHER", []byte("x"), ""); err != nil {
			t.Fatal(err)
		}
		sqlExec(t, path, `INSERT INTO grants (tenant_id, service, name, status, decided_at, decided_by)
			VALUES ((SELECT id FROM tenants WHERE name = 'default'), 'orders', 'OTHER', 'active', '2026', 'x')`)
		_, err := v.ServiceGet(ctx, tok, DefaultTenant, "OTHER", 0)
		wantTampered(t, "grant inserted", err, "grants")
		// schema apply reads the grant as a decision too
		_, err = v.DeclareAccess(ctx, DefaultTenant, "orders", []Declared{{Name: "OTHER"}})
		wantTampered(t, "declare with an inserted grant", err, "grants")
	})
	t.Run("revoked grant set active", func(t *testing.T) {
		v, path, _ := newVault(t)
		tok, _ := rowMACService(t, v, "orders")
		if err := v.RevokeAccess(ctx, DefaultTenant, "orders", "S"); err != nil {
			t.Fatal(err)
		}
		sqlExec(t, path, "UPDATE grants SET status = 'active' WHERE name = 'S'")
		_, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0)
		wantTampered(t, "grant flipped", err, "grants")
	})
	t.Run("counters are not covered", func(t *testing.T) {
		v, path, _ := newVault(t)
		tok, rec := rowMACService(t, v, "orders")
		sqlExec(t, path, "UPDATE service_tokens SET use_count = 99, last_used = NULL WHERE id = ?", rec.ID)
		sqlExec(t, path, "UPDATE grants SET access_count = 99, last_access = NULL")
		if _, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("access request redirected", func(t *testing.T) {
		v, path, _ := newVault(t)
		tok, _ := rowMACService(t, v, "orders")
		if _, err := v.Put(ctx, DefaultTenant, "PAYROLL", []byte("p"), ""); err != nil {
			t.Fatal(err)
		}
		_, err := v.ServiceGet(ctx, tok, DefaultTenant, "S2", 0)
		var ae *AccessError
		if !errors.As(err, &ae) || ae.Problems[0].Request == 0 {
			t.Fatalf("request: %v", err)
		}
		sqlExec(t, path, "UPDATE access_requests SET name = 'PAYROLL' WHERE id = ?", ae.Problems[0].Request)
		_, err = v.ApproveRequest(ctx, ae.Problems[0].Request)
		wantTampered(t, "request redirected", err, "access_requests")
		if g, _ := v.Grants(ctx, DefaultTenant); len(g) != 1 {
			t.Fatalf("grants after a refused approval: %+v", g)
		}
	})
	t.Run("mac removed", func(t *testing.T) {
		v, path, _ := newVault(t)
		tok, _ := rowMACService(t, v, "orders")
		sqlExec(t, path, "UPDATE grants SET mac = NULL")
		_, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0)
		wantTampered(t, "mac removed", err, "grants")
		if !strings.Contains(err.Error(), "has no MAC") {
			t.Fatalf("message: %v", err)
		}
	})
}

// TestRowMACUpgrade takes a vault back to schema 4 (no mac columns, audit
// key wrapped without the "row-macs" AD), with rows in every authorisation
// table, and opens it: the first unlocked write fills in the MACs, every
// decision still works, and afterwards a row without a MAC is tampering.
// rotate-master keeps the MACs valid.
// macTables are the tables with row MACs.
var macTables = []string{keyring.TableDeviceKeys, keyring.TableTokens, keyring.TableGrants, keyring.TableRequests, keyring.TableDevices}

func TestRowMACUpgrade(t *testing.T) {
	v, path, k := newVault(t)
	_, verify := rowMACDevice(t, v, "d")
	revoked, verifyOld := rowMACDevice(t, v, "old")
	if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, revoked.KeyID); err != nil {
		t.Fatal(err)
	}
	tok, _ := rowMACService(t, v, "orders")
	if _, err := v.ServiceGet(ctx, tok, DefaultTenant, "MISSING", 0); !errors.Is(err, ErrAccessPending) {
		t.Fatal(err)
	}
	oldAudit, err := v.keys.WrapAuditKey(v.keys.AuditKey(), keyring.LevelNone)
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	sqlExec(t, path, `ALTER TABLE device_keys DROP COLUMN mac; ALTER TABLE service_tokens DROP COLUMN mac;
		ALTER TABLE grants DROP COLUMN mac; ALTER TABLE access_requests DROP COLUMN mac;
		ALTER TABLE devices DROP COLUMN mac; DROP INDEX audit_object; ALTER TABLE audit DROP COLUMN ip_address; ALTER TABLE audit DROP COLUMN user_agent;
		DROP TABLE amt_certs;
		UPDATE meta SET value = ? WHERE key = 'audit_key'; PRAGMA user_version = 4`, oldAudit)

	v = reopen(t, path, k)
	if v.SchemaVersion() != sqlite.LatestSchema() || v.level != keyring.LevelNone {
		t.Fatalf("schema %d, row MAC level %v: want %d, none yet", v.SchemaVersion(), v.level, sqlite.LatestSchema())
	}
	for _, m := range macTables {
		var n int
		if err := rawDB(t, v).QueryRow("SELECT count(*) FROM " + m + " WHERE mac IS NOT NULL").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: %d MACs before the first write, %v", m, n, err)
		}
	}
	// The first unlocked write (here a service read) fills them in.
	if s, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0); err != nil || string(s.Value) != "v" {
		t.Fatalf("read after the upgrade: %v", err)
	}
	for _, m := range macTables {
		var n int
		if err := rawDB(t, v).QueryRow("SELECT count(*) FROM " + m + " WHERE mac IS NULL").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: %d rows without a MAC after the first write, %v", m, n, err)
		}
	}
	if res, err := v.VerifyAudit(ctx); err != nil || res.Unverified != 0 {
		t.Fatalf("audit: %+v %v", res, err)
	}
	v.Close()

	// Reopened, the vault knows it has row MACs: a row without one is
	// tampering, not another upgrade.
	v = reopen(t, path, k)
	if v.level != keyring.LevelLatest {
		t.Fatal("row MACs not recorded in the wrapped audit key")
	}
	if _, err := verify(v); err != nil {
		t.Fatalf("verify after the upgrade: %v", err)
	}
	if _, err := verifyOld(v); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("revoked key after the upgrade: %v", err)
	}
	// rotate-master re-wraps the audit key: the row MAC key and every MAC
	// stay valid, and so does the vault's row MAC state.
	k2 := testKey(t, 2)
	if err := v.RotateMaster(ctx, k2); err != nil {
		t.Fatal(err)
	}
	v.Close()
	v = reopen(t, path, k2)
	if v.level != keyring.LevelLatest {
		t.Fatal("row MACs lost by rotate-master")
	}
	if _, err := v.ServiceGet(ctx, tok, DefaultTenant, "S", 0); err != nil {
		t.Fatalf("read after rotate-master: %v", err)
	}
	if _, err := verify(v); err != nil {
		t.Fatalf("verify after rotate-master: %v", err)
	}
	sqlExec(t, path, "UPDATE service_tokens SET mac = NULL")
	_, err = v.ServiceGet(ctx, tok, DefaultTenant, "S", 0)
	wantTampered(t, "mac removed after the upgrade", err, "service_tokens")
	sqlExec(t, path, "UPDATE device_keys SET status = 'active', revoked_at = NULL, mac = NULL WHERE key_id = ?", revoked.KeyID)
	_, err = verifyOld(v)
	wantTampered(t, "revoked key set active without a MAC after the upgrade", err, "device_keys")
}
