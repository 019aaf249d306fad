package vault

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/amt/amttest"
)

// TestSignActivationByKeyAsTwoCalls: SignActivationByKey (the device
// found by its key and the signature in one snapshot) decides as
// DeviceByKey then SignActivation did: for each case the same error (the
// same message), the same identity, and the same amt-sign audit row (a
// refused identity none). Cases: a good key, an unknown key, a revoked
// key, a revoked key put back to active, a device removed and put back
// with its key, a tampered device row, a certificate the device may not
// use, a bad firmware nonce, an unknown certificate, a certificate row
// changed without its MAC.
func TestSignActivationByKeyAsTwoCalls(t *testing.T) {
	v, _, _ := newVault(t)
	c := amttest.Shared(t)
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "intel-prov", c.Cert(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "kiosks-only", c.Cert(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AllowAMTCert(ctx, DefaultTenant, "kiosks-only", nil, []string{"kiosk"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "tampered", c.Cert(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, v).Exec(`UPDATE amt_certs SET allowed = 'role:server' WHERE name = 'tampered'`); err != nil {
		t.Fatal(err)
	}
	fpOf := func(spki []byte) [32]byte { return sha256.Sum256(spki) }

	good := spkiOf(t)
	addKey(t, v, KeyRequest{Name: "amt-good", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Role: "server", SPKI: good, Origin: KeyProvisioned})

	revoked := spkiOf(t)
	rr := addKey(t, v, KeyRequest{Name: "amt-revoked", Role: "server", SPKI: revoked, Origin: KeyProvisioned})
	if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, rr.KeyID); err != nil {
		t.Fatal(err)
	}
	putBack := spkiOf(t)
	rp := addKey(t, v, KeyRequest{Name: "amt-putback", Role: "server", SPKI: putBack, Origin: KeyProvisioned})
	if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, rp.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, v).Exec(`UPDATE device_keys SET status = 'active', revoked_at = NULL WHERE key_id = ?`, rp.KeyID); err != nil {
		t.Fatal(err)
	}
	resealDeviceKey(t, v, rp.KeyID)

	// Removed, then its device and key rows put back as they were.
	removed := spkiOf(t)
	addKey(t, v, KeyRequest{Name: "amt-removed", Role: "server", SPKI: removed, Origin: KeyProvisioned})
	db := rawDB(t, v)
	for _, q := range []string{
		`CREATE TABLE saved_devices AS SELECT * FROM devices WHERE name = 'amt-removed'`,
		`CREATE TABLE saved_keys AS SELECT * FROM device_keys WHERE device_ref IN (SELECT id FROM saved_devices)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.RemoveDevice(ctx, DefaultTenant, "amt-removed"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`INSERT INTO devices SELECT * FROM saved_devices`, `INSERT INTO device_keys SELECT * FROM saved_keys`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	tamperedDev := spkiOf(t)
	addKey(t, v, KeyRequest{Name: "amt-tampered", Role: "server", SPKI: tamperedDev, Origin: KeyProvisioned})
	if _, err := db.Exec(`UPDATE devices SET device_uuid = '0f8fad5b-d9cb-469f-a165-70867728950e' WHERE name = 'amt-tampered'`); err != nil {
		t.Fatal(err)
	}

	fw := fwNonce(t)
	for _, tc := range []struct {
		name    string
		spki    []byte
		cert    string
		fw      []byte
		want    error // nil: signs
		refused bool  // the identity is refused (no amt-sign row)
	}{
		{"good key", good, "intel-prov", fw, nil, false},
		{"unknown key", spkiOf(t), "intel-prov", fw, ErrNoDeviceKey, true},
		{"revoked key", revoked, "intel-prov", fw, ErrKeyRevoked, true},
		{"revoked key put back", putBack, "intel-prov", fw, ErrKeyRevoked, true},
		{"device put back after rm", removed, "intel-prov", fw, ErrKeyRevoked, true},
		{"tampered device row", tamperedDev, "intel-prov", fw, ErrTampered, true},
		{"certificate not allowed", good, "kiosks-only", fw, ErrAMTNotAllowed, false},
		{"bad firmware nonce", good, "intel-prov", fw[:5], ErrAMTNonce, false},
		{"unknown certificate", good, "nope", fw, ErrNoAMTCert, false},
		{"tampered certificate row", good, "tampered", fw, ErrTampered, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := fpOf(tc.spki)
			// The two calls, as keysmith serve made them before.
			before := len(auditDetails(t, v, "amt-sign"))
			var twoErr error
			var twoAct *AMTActivation
			twoID, err := v.DeviceByKey(ctx, "", fp)
			if err != nil {
				twoErr = err
			} else {
				twoAct, twoErr = v.SignActivation(ctx, twoID.Tenant, tc.cert, tc.fw, twoID.DeviceID)
			}
			twoRows := auditDetails(t, v, "amt-sign")[before:]

			id, act, oneErr := v.SignActivationByKey(ctx, "", fp, tc.cert, tc.fw)
			oneRows := auditDetails(t, v, "amt-sign")[before+len(twoRows):]

			if tc.want == nil {
				if twoErr != nil || oneErr != nil {
					t.Fatalf("two calls: %v; one: %v", twoErr, oneErr)
				}
				checkActivation(t, c, tc.fw, twoAct)
				checkActivation(t, c, tc.fw, act)
			} else if !errors.Is(oneErr, tc.want) || !errors.Is(twoErr, tc.want) {
				t.Fatalf("two calls: %v; one: %v; want %v", twoErr, oneErr, tc.want)
			}
			if oneErr != nil && oneErr.Error() != twoErr.Error() {
				t.Errorf("error\n one: %v\n two: %v", oneErr, twoErr)
			}
			if tc.refused {
				if id != nil || twoID != nil || len(oneRows) != 0 || len(twoRows) != 0 {
					t.Fatalf("refused identity: id %+v (two calls %+v), amt-sign rows %d / %d, want none", id, twoID, len(oneRows), len(twoRows))
				}
				return
			}
			if id == nil || *id != *twoID {
				t.Fatalf("identity %+v, two calls %+v", id, twoID)
			}
			if len(oneRows) != 1 || len(twoRows) != 1 {
				t.Fatalf("amt-sign rows: %d (two calls %d), want 1 each", len(oneRows), len(twoRows))
			}
			o, w := oneRows[0], twoRows[0]
			od, _, _ := strings.Cut(o.Detail, ", nonce ")
			wd, _, _ := strings.Cut(w.Detail, ", nonce ")
			if o.Success != w.Success || o.Object != w.Object || o.Tenant != w.Tenant || od != wd || !strings.Contains(od, id.DeviceID) {
				t.Errorf("audit row\n one: %+v\n two: %+v", o, w)
			}
		})
	}
}
