package vault

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// TestDeviceByKey: an active key at the device's role identifies the
// device; an unknown key, a revoked one, one put back to active after its
// revocation (the audit chain remembers), and one left at another role are
// refused.
func TestDeviceByKey(t *testing.T) {
	v, _, _ := newVault(t)
	_, spki := newKey(t)
	r := addKey(t, v, KeyRequest{Name: "amt-01", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Role: "server", SPKI: spki, Origin: KeyProvisioned})
	fp := sha256.Sum256(spki)

	id, err := v.DeviceByKey(ctx, "", fp)
	if err != nil || id.DeviceID != r.DeviceID || id.Role != "server" || id.Tenant != DefaultTenant || id.KeyID != r.KeyID || id.UUID == "" {
		t.Fatalf("DeviceByKey: %+v, %v", id, err)
	}
	if id2, err := v.DeviceByKey(ctx, DefaultTenant, fp); err != nil || id2.DeviceID != r.DeviceID {
		t.Fatalf("by tenant: %+v, %v", id2, err)
	}
	if _, err := v.DeviceByKey(ctx, "nope", fp); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("unknown tenant: %v", err)
	}
	if _, err := v.DeviceByKey(ctx, "", sha256.Sum256([]byte("other"))); !errors.Is(err, ErrNoDeviceKey) {
		t.Fatalf("unknown key: %v", err)
	}

	// Another role: the device row moved (as an older keysmith left it) while the key stayed.
	err = v.update(ctx, func(o *op) error {
		d, err := o.tx.DeviceBy(o.ctx, 1, store.ByDeviceID, r.DeviceID)
		if err != nil {
			return err
		}
		d.Role = "kiosk"
		return o.tx.UpdateDevice(o.ctx, d.Ref, d.Role, o.keys.MAC(keyring.DeviceRow(d)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.DeviceByKey(ctx, "", fp); !errors.Is(err, ErrKeyOtherRole) {
		t.Fatalf("other role: %v", err)
	}

	_, spki2 := newKey(t)
	r2 := addKey(t, v, KeyRequest{Name: "amt-02", Role: "server", SPKI: spki2, Origin: KeyProvisioned})
	fp2 := sha256.Sum256(spki2)
	if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, r2.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.DeviceByKey(ctx, "", fp2); !errors.Is(err, ErrKeyRevoked) || errors.Is(err, ErrKeyOtherRole) {
		t.Fatalf("revoked: %v", err)
	}
	// Put back to active with a valid MAC: the chain records the revocation.
	if _, err := rawDB(t, v).Exec(`UPDATE device_keys SET status = 'active', revoked_at = '' WHERE key_id = ?`, r2.KeyID); err != nil {
		t.Fatal(err)
	}
	resealDeviceKey(t, v, r2.KeyID)
	if _, err := v.DeviceByKey(ctx, "", fp2); !errors.Is(err, ErrKeyRevoked) || !strings.Contains(err.Error(), "audit chain") {
		t.Fatalf("put back: %v", err)
	}
}

// TestVerifyChallengeBound: an answer over one channel binding does not
// verify over another (and does not use the nonce up); the right one
// verifies once; a replay and an expired nonce are refused.
func TestVerifyChallengeBound(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v, _, _ := newVault(t)
	v.opts.Now = func() time.Time { return now }
	pem, spki := newKey(t)
	priv, _ := devicecred.ParsePrivatePEM(pem)
	r := addKey(t, v, KeyRequest{Name: "d", Role: "server", SPKI: spki, Origin: KeyEnrolled})
	b1, b2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)

	c, err := v.IssueChallenge(ctx, DefaultTenant, r.DeviceID, DeviceChallengeTTL)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := devicecred.SignChallengeBound(priv, r.DeviceID, c.Nonce, b1)
	if _, err := v.VerifyChallengeBound(ctx, DefaultTenant, r.DeviceID, c.Nonce, b2, sig); !errors.Is(err, devicecred.ErrBadSignature) {
		t.Fatalf("relayed: %v", err)
	}
	if _, err := v.VerifyChallengeBound(ctx, DefaultTenant, r.DeviceID, c.Nonce, nil, sig); !errors.Is(err, devicecred.ErrBadSignature) {
		t.Fatalf("bound answer checked unbound: %v", err)
	}
	id, err := v.VerifyChallengeBound(ctx, DefaultTenant, r.DeviceID, c.Nonce, b1, sig)
	if err != nil || id.KeyID != r.KeyID {
		t.Fatalf("verify: %+v, %v", id, err)
	}
	if _, err := v.VerifyChallengeBound(ctx, DefaultTenant, r.DeviceID, c.Nonce, b1, sig); !errors.Is(err, ErrChallengeReplayed) {
		t.Fatalf("replay: %v", err)
	}
	c2, _ := v.IssueChallenge(ctx, DefaultTenant, r.DeviceID, DeviceChallengeTTL)
	now = now.Add(DeviceChallengeTTL)
	usig, _ := devicecred.SignChallenge(priv, r.DeviceID, c2.Nonce)
	if _, err := v.VerifyChallengeBound(ctx, DefaultTenant, r.DeviceID, c2.Nonce, nil, usig); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("expired: %v", err)
	}
}

// TestDeviceSessionKeyShared: two handles on one store derive the same
// session key (any server verifies another's session); another vault a
// different one.
func TestDeviceSessionKeyShared(t *testing.T) {
	v, path, k := newVault(t)
	k1, err := v.DeviceSessionKey()
	if err != nil || len(k1) != devicecred.SessionKeySize {
		t.Fatalf("%x, %v", k1, err)
	}
	k2, err := reopen(t, path, k).DeviceSessionKey()
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second handle: %x, %v", k2, err)
	}
	w, _, _ := newVault(t)
	k3, _ := w.DeviceSessionKey()
	if bytes.Equal(k1, k3) {
		t.Fatal("two vaults share a session key")
	}
	locked, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()
	if _, err := locked.DeviceSessionKey(); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
}

// TestApplyDeviceReportOwnUUID: a device reports only for its own UUID;
// the refusal is audited; its own report is applied with the device as
// actor.
func TestApplyDeviceReportOwnUUID(t *testing.T) {
	v, _, _ := newVault(t)
	_, s1 := newKey(t)
	_, s2 := newKey(t)
	addKey(t, v, KeyRequest{Name: "a", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Role: "server", SPKI: s1, Origin: KeyProvisioned})
	addKey(t, v, KeyRequest{Name: "b", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e33", Role: "server", SPKI: s2, Origin: KeyProvisioned})
	idB, err := v.DeviceByKey(ctx, "", sha256.Sum256(s2))
	if err != nil {
		t.Fatal(err)
	}
	rep := &Report{RequestID: "r1", DeviceUUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Secrets: []ReportSecret{{Name: "WIFI_PSK", Value: "x"}}}
	if _, err := v.ApplyDeviceReport(ctx, idB, rep); !errors.Is(err, ErrOtherDevice) || !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("other UUID: %v", err)
	}
	rows, _ := v.Audit(ctx, AuditFilter{})
	last := rows[len(rows)-1]
	if last.Action != "device-report" || last.Success || !strings.Contains(last.Detail, "another device's UUID") {
		t.Fatalf("audit: %+v", last)
	}
	if _, err := v.OwnDeviceSecret(ctx, idB, "WIFI_PSK"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("nothing stored: %v", err)
	}
	rep.DeviceUUID = idB.UUID
	res, err := v.ApplyDeviceReport(ctx, idB, rep)
	if err != nil || res.DeviceID != idB.DeviceID {
		t.Fatalf("own report: %+v, %v", res, err)
	}
	sec, err := v.OwnDeviceSecret(ctx, idB, "WIFI_PSK")
	if err != nil || string(sec.Value) != "x" {
		t.Fatalf("read back: %+v, %v", sec, err)
	}
	rows, _ = v.Audit(ctx, AuditFilter{})
	if last := rows[len(rows)-1]; last.Action != "device-secret-get" || !strings.Contains(last.Actor, idB.DeviceID) {
		t.Fatalf("audit of the read: %+v", last)
	}
}
