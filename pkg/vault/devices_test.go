package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/devicecred"
)

// newKey mints a P-256 keypair and returns its private PEM and SPKI.
func newKey(t *testing.T) ([]byte, []byte) {
	t.Helper()
	priv, err := devicecred.Generate()
	if err != nil {
		t.Fatal(err)
	}
	spki, err := devicecred.SPKI(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := devicecred.PrivatePEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem, spki
}

func addKey(t *testing.T, v *Vault, req KeyRequest) KeyResult {
	t.Helper()
	res, err := v.AddDeviceKeys(ctx, DefaultTenant, []KeyRequest{req})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// TestDeviceRoundTrip seals a minted key as provisioning does, stores the
// public half, reveals the file with the age library and checks that the
// revealed key's public half is the stored SPKI, byte for byte.
func TestDeviceRoundTrip(t *testing.T) {
	v, path, k := newVault(t)
	pem, spki := newKey(t)
	var sealed bytes.Buffer
	if err := devicecred.SealPEM(&sealed, pem, "alpha-bravo-charlie-delta", 10); err != nil {
		t.Fatal(err)
	}
	r := addKey(t, v, KeyRequest{Name: "web-01", UUID: "4C4C4544-0042-3510-8052-B3C04F4A4E32", Role: "server", SPKI: spki, Origin: KeyProvisioned})
	if !r.NewDevice || r.Fingerprint != devicecred.Fingerprint(spki) || r.UUID != "4c4c4544-0042-3510-8052-b3c04f4a4e32" {
		t.Fatalf("result %+v", r)
	}
	d, err := reopen(t, path, k).Device(ctx, DefaultTenant, r.DeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Keys) != 1 || d.Keys[0].Status != KeyActive || d.Keys[0].Origin != KeyProvisioned {
		t.Fatalf("keys %+v", d.Keys)
	}
	revealed, err := devicecred.RevealPEM(&sealed, "alpha-bravo-charlie-delta")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := devicecred.ParsePrivatePEM(revealed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := devicecred.SPKI(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, d.Keys[0].SPKI) {
		t.Fatalf("revealed SPKI %x != stored %x", got, d.Keys[0].SPKI)
	}
}

func TestDeviceLookupAndConflicts(t *testing.T) {
	v, _, _ := newVault(t)
	_, spki := newKey(t)
	r := addKey(t, v, KeyRequest{Name: "web-01", UUID: "4c4c4544004235108052b3c04f4a4e32", Role: "server", SPKI: spki, Origin: KeyProvisioned})
	for _, ref := range []string{r.DeviceID, "web-01", "4C4C4544-0042-3510-8052-B3C04F4A4E32"} {
		if d, err := v.Device(ctx, DefaultTenant, ref); err != nil || d.ID != r.DeviceID {
			t.Errorf("Device(%q) = %v, %v", ref, d, err)
		}
	}
	_, spki2 := newKey(t)
	cases := []struct {
		name string
		req  KeyRequest
		want error
	}{
		{"name taken", KeyRequest{Name: "web-01", Role: "server", SPKI: spki2, Origin: KeyProvisioned}, ErrDeviceExists},
		{"uuid taken", KeyRequest{Name: "web-02", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Role: "server", SPKI: spki2, Origin: KeyProvisioned}, ErrDeviceExists},
		{"same key twice", KeyRequest{Name: "web-02", Role: "server", SPKI: spki, Origin: KeyEnrolled}, ErrKeyExists},
		{"unknown device", KeyRequest{Device: "nope", Role: "server", SPKI: spki2, Origin: KeyProvisioned}, ErrNoDevice},
		{"reserved name", KeyRequest{Name: "dev_x", Role: "server", SPKI: spki2, Origin: KeyProvisioned}, ErrInvalidName},
		{"slash in name", KeyRequest{Name: "a/b", Role: "server", SPKI: spki2, Origin: KeyProvisioned}, ErrInvalidName},
		{"bad uuid", KeyRequest{Name: "web-03", UUID: "xyz", Role: "server", SPKI: spki2, Origin: KeyProvisioned}, ErrInvalidName},
		{"not an SPKI", KeyRequest{Name: "web-03", Role: "server", SPKI: []byte("junk"), Origin: KeyProvisioned}, devicecred.ErrUnsupportedKey},
	}
	for _, c := range cases {
		if _, err := v.AddDeviceKeys(ctx, DefaultTenant, []KeyRequest{c.req}); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	// Another tenant does not see the device.
	if err := v.AddTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Device(ctx, "acme", "web-01"); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("cross-tenant lookup: %v", err)
	}
}

// TestAddDeviceKeysAllOrNothing: a batch whose last request fails stores
// none of it.
func TestAddDeviceKeysAllOrNothing(t *testing.T) {
	v, _, _ := newVault(t)
	var reqs []KeyRequest
	for _, n := range []string{"a-1", "a-2", "a-1"} {
		_, spki := newKey(t)
		reqs = append(reqs, KeyRequest{Name: n, Role: "server", SPKI: spki, Origin: KeyProvisioned})
	}
	if _, err := v.CheckDeviceKeys(ctx, DefaultTenant, reqs); !errors.Is(err, ErrDeviceExists) {
		t.Fatalf("check: %v", err)
	}
	if _, err := v.AddDeviceKeys(ctx, DefaultTenant, reqs); !errors.Is(err, ErrDeviceExists) {
		t.Fatalf("add: %v", err)
	}
	if ds, err := v.Devices(ctx, DefaultTenant, ""); err != nil || len(ds) != 0 {
		t.Fatalf("devices after a failed batch: %v, %v", ds, err)
	}
	res, err := v.AddDeviceKeys(ctx, DefaultTenant, reqs[:2])
	if err != nil || len(res) != 2 {
		t.Fatal(res, err)
	}
}

// TestRoleChangeRevokesOldRoleKeys: a key at another role changes the
// device's role and revokes its active keys at other roles in the same
// transaction, audited; a challenge then verifies only with a key at the
// new role.
func TestRoleChangeRevokesOldRoleKeys(t *testing.T) {
	v, _, _ := newVault(t)
	pem1, s1 := newKey(t)
	_, s2 := newKey(t)
	pem3, s3 := newKey(t)
	r := addKey(t, v, KeyRequest{Name: "rel", Role: "server", SPKI: s1, Origin: KeyProvisioned})
	r2 := addKey(t, v, KeyRequest{Device: r.DeviceID, Role: "server", SPKI: s2, Origin: KeyProvisioned})
	if r2.PrevRole != "" || len(r2.RevokedKeys) != 0 {
		t.Fatalf("same role: %+v", r2)
	}
	r3 := addKey(t, v, KeyRequest{Device: "rel", Role: "releaser", SPKI: s3, Origin: KeyProvisioned})
	if r3.PrevRole != "server" || r3.NewDevice || strings.Join(r3.RevokedKeys, ",") != r.KeyID+","+r2.KeyID {
		t.Fatalf("role change: %+v", r3)
	}
	d, err := v.Device(ctx, DefaultTenant, "rel")
	if err != nil {
		t.Fatal(err)
	}
	if d.Role != "releaser" || d.ActiveKeys != 1 || d.Keys[0].Status != KeyRevoked || d.Keys[0].RevokedAt == "" ||
		d.Keys[1].Status != KeyRevoked || d.Keys[2].Status != KeyActive || d.Keys[2].KeyID != r3.KeyID {
		t.Fatalf("device after role change: %+v", d)
	}
	rows, err := v.Audit(ctx, AuditFilter{Action: "device-role"})
	want := "device " + r.DeviceID + ", role server -> releaser, revoked keys: " + r.KeyID + " " + r2.KeyID
	if err != nil || len(rows) != 1 || rows[0].Detail != want {
		t.Fatalf("audit %+v, %v; want detail %q", rows, err, want)
	}

	verify := func(pem []byte) (*DeviceKey, error) {
		t.Helper()
		priv, err := devicecred.ParsePrivatePEM(pem)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.IssueChallenge(ctx, DefaultTenant, "rel", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := devicecred.SignChallenge(priv, r.DeviceID, c.Nonce)
		if err != nil {
			t.Fatal(err)
		}
		return v.VerifyChallenge(ctx, DefaultTenant, "rel", c.Nonce, sig)
	}
	if _, err := verify(pem1); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("old-role key after the role change: %v", err)
	}
	if k, err := verify(pem3); err != nil || k.KeyID != r3.KeyID || k.Role != "releaser" {
		t.Fatalf("new-role key: %+v, %v", k, err)
	}

	// A key left active at another role (by a keysmith before this rule)
	// does not verify either.
	if _, err := rawDB(t, v).Exec("UPDATE device_keys SET status = 'active', revoked_at = NULL WHERE key_id = ?", r.KeyID); err != nil {
		t.Fatal(err)
	}
	// ... whose row that keysmith wrote with the key (sealed here; without
	// the key it is tampering: TestRowMACTamper).
	resealDeviceKey(t, v, r.KeyID)
	_, err = verify(pem1)
	if !errors.Is(err, ErrKeyOtherRole) || !errors.Is(err, ErrKeyRevoked) || !strings.Contains(err.Error(), "at role server; the device is at role releaser") {
		t.Fatalf("active key at the old role: %v", err)
	}
	// ... and says so, without calling the active key revoked.
	if msg := err.Error(); !strings.HasPrefix(msg, "device key is not at the device's current role: ") || strings.Contains(msg, "revoked") {
		t.Fatalf("active key at the old role: message %q", msg)
	}
	rows, err = v.Audit(ctx, AuditFilter{Action: "device-verify"})
	if err != nil || len(rows) == 0 || rows[len(rows)-1].Detail != "key at another role" {
		t.Fatalf("audit of the refusal: %+v, %v", rows, err)
	}
}

// TestDeviceNamesDoNotShadow: a name may not look like a device ID, key ID
// or UUID, which lookups try too; failure audit rows name the device, not
// the UUID as typed.
func TestDeviceNamesDoNotShadow(t *testing.T) {
	v, _, _ := newVault(t)
	_, s1 := newKey(t)
	r := addKey(t, v, KeyRequest{Name: "web-01", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Role: "server", SPKI: s1, Origin: KeyProvisioned})
	for _, name := range []string{
		"4c4c4544-0042-3510-8052-b3c04f4a4e32", "4C4C4544-0042-3510-8052-B3C04F4A4E32", "4c4c4544004235108052b3c04f4a4e32",
		"00000000-0000-0000-0000-000000000001", r.DeviceID, "DEV_0123456789abcdef", "Key_0123456789abcdef", "dev_x", "key_",
	} {
		if ValidDeviceName(name) {
			t.Errorf("ValidDeviceName(%q) = true", name)
		}
		_, spki := newKey(t)
		if _, err := v.AddDeviceKeys(ctx, DefaultTenant, []KeyRequest{{Name: name, Role: "server", SPKI: spki, Origin: KeyProvisioned}}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("device named %q: %v, want ErrInvalidName", name, err)
		}
	}
	for _, name := range []string{"web-01", "4c4c4544", "dev-01", "device_7", "deadbeefdeadbeefdeadbeefdeadbee", "a-b-c-d-e"} {
		if !ValidDeviceName(name) {
			t.Errorf("ValidDeviceName(%q) = false", name)
		}
	}
	// A device named like another's UUID by an older keysmith does not
	// shadow it: the UUID wins, the name still finds it by ID.
	if _, err := rawDB(t, v).Exec(`INSERT INTO devices (tenant_id, device_id, name, role, created_at, created_by)
		SELECT tenant_id, 'dev_00000000000000ff', '4c4c4544-0042-3510-8052-b3c04f4a4e32', role, created_at, created_by FROM devices WHERE device_id = ?`, r.DeviceID); err != nil {
		t.Fatal(err)
	}
	if d, err := v.Device(ctx, DefaultTenant, "4c4c4544-0042-3510-8052-b3c04f4a4e32"); err != nil || d.ID != r.DeviceID {
		t.Fatalf("lookup by UUID: %+v, %v", d, err)
	}
	if _, err := rawDB(t, v).Exec(`DELETE FROM devices WHERE device_id = 'dev_00000000000000ff'`); err != nil {
		t.Fatal(err)
	}

	// A failure on a device given by UUID is audited under the device's name.
	if _, err := v.GetDeviceSecret(ctx, DefaultTenant, "4C4C4544004235108052B3C04F4A4E32", "NOPE"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := v.VerifyChallenge(ctx, DefaultTenant, "4C4C4544004235108052B3C04F4A4E32", make([]byte, 32), make([]byte, 70)); !errors.Is(err, ErrNoChallenge) {
		t.Fatal(err)
	}
	for _, action := range []string{"device-secret-get", "device-verify"} {
		rows, err := v.Audit(ctx, AuditFilter{Action: action})
		if err != nil || len(rows) != 1 || rows[0].Success || rows[0].Object != "web-01" {
			t.Errorf("%s audit: %+v, %v; want one failure with object web-01", action, rows, err)
		}
	}
}

func TestChallengeOnceOnly(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v, _, _ := newVault(t)
	v.opts.Now = func() time.Time { return now }
	pem, spki := newKey(t)
	priv, _ := devicecred.ParsePrivatePEM(pem)
	r := addKey(t, v, KeyRequest{Name: "d", Role: "server", SPKI: spki, Origin: KeyEnrolled})
	issue := func() []byte {
		c, err := v.IssueChallenge(ctx, DefaultTenant, "d", 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return c.Nonce
	}
	sign := func(id string, nonce []byte) []byte {
		sig, err := devicecred.SignChallenge(priv, id, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}

	n := issue()
	if k, err := v.VerifyChallenge(ctx, DefaultTenant, "d", n, sign(r.DeviceID, n)); err != nil || k.KeyID != r.KeyID {
		t.Fatalf("verify: %v, %v", k, err)
	}
	if _, err := v.VerifyChallenge(ctx, DefaultTenant, "d", n, sign(r.DeviceID, n)); !errors.Is(err, ErrChallengeReplayed) {
		t.Fatalf("replay: %v", err)
	}

	n = issue()
	if _, err := v.VerifyChallenge(ctx, DefaultTenant, "d", n, sign("dev_other", n)); !errors.Is(err, devicecred.ErrBadSignature) {
		t.Fatalf("other device ID: %v", err)
	}
	unknown := bytes.Repeat([]byte{7}, 32)
	if _, err := v.VerifyChallenge(ctx, DefaultTenant, "d", unknown, sign(r.DeviceID, unknown)); !errors.Is(err, ErrNoChallenge) {
		t.Fatalf("unknown nonce: %v", err)
	}
	now = now.Add(5 * time.Minute)
	if _, err := v.VerifyChallenge(ctx, DefaultTenant, "d", n, sign(r.DeviceID, n)); !errors.Is(err, ErrChallengeExpired) {
		t.Fatalf("expired: %v", err)
	}

	n = issue()
	if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, r.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if _, err := v.VerifyChallenge(ctx, DefaultTenant, "d", n, sign(r.DeviceID, n)); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := v.RevokeDeviceKey(ctx, DefaultTenant, "key_0000000000000000"); !errors.Is(err, ErrNoDeviceKey) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestDeviceSecretsBound(t *testing.T) {
	v, path, k := newVault(t)
	_, s1 := newKey(t)
	_, s2 := newKey(t)
	addKey(t, v, KeyRequest{Name: "a", UUID: "00000000-0000-0000-0000-00000000000a", Role: "server", SPKI: s1, Origin: KeyProvisioned})
	addKey(t, v, KeyRequest{Name: "b", UUID: "00000000-0000-0000-0000-00000000000b", Role: "server", SPKI: s2, Origin: KeyProvisioned})
	if _, err := v.SetDeviceSecret(ctx, DefaultTenant, "a", "AMT_PASSWORD", []byte("Secret#A1"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SetDeviceSecret(ctx, DefaultTenant, "b", "AMT_PASSWORD", []byte("Secret#B1"), ""); err != nil {
		t.Fatal(err)
	}
	// Swap the sealed values of the two devices: neither opens.
	var sa, sb []byte
	if err := rawDB(t, v).QueryRow(`SELECT (SELECT sealed FROM device_secrets ORDER BY id LIMIT 1), (SELECT sealed FROM device_secrets ORDER BY id DESC LIMIT 1)`).Scan(&sa, &sb); err != nil {
		t.Fatal(err)
	}
	if _, err := rawDB(t, v).Exec(`UPDATE device_secrets SET sealed = CASE WHEN sealed = ? THEN ? ELSE ? END`, sa, sb, sa); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a", "b"} {
		if _, err := v.GetDeviceSecret(ctx, DefaultTenant, d, "AMT_PASSWORD"); !errors.Is(err, ErrTampered) {
			t.Errorf("swapped secret of %s: %v", d, err)
		}
	}
	// RotateDEK re-seals device secrets.
	if _, err := rawDB(t, v).Exec(`DELETE FROM device_secrets`); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SetDeviceSecret(ctx, DefaultTenant, "a", "WIFI", []byte("psk"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.RotateDEK(ctx, DefaultTenant, nil); err != nil {
		t.Fatal(err)
	}
	s, err := reopen(t, path, k).GetDeviceSecret(ctx, DefaultTenant, "a", "WIFI")
	if err != nil || string(s.Value) != "psk" || s.Version != 1 {
		t.Fatalf("after rotate-dek: %+v, %v", s, err)
	}
}

func TestApplyReport(t *testing.T) {
	v, _, _ := newVault(t)
	_, spki := newKey(t)
	addKey(t, v, KeyRequest{Name: "amt", UUID: "4c4c4544-0042-3510-8052-b3c04f4a4e32", Role: "server", SPKI: spki, Origin: KeyProvisioned})
	parse := func(s string) *Report {
		t.Helper()
		r, err := ParseReport(bytes.NewBufferString(s))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rep := parse(`{"request_id":"r1","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}`)
	res, err := v.ApplyReport(ctx, DefaultTenant, rep)
	if err != nil || res.AlreadyApplied || res.Device != "amt" {
		t.Fatalf("%+v, %v", res, err)
	}
	same := parse(`{"secrets":[{"name":"B","value":"2"},{"name":"A","value":"1"}],"request_id":"r1","device_uuid":"4C4C4544004235108052B3C04F4A4E32"}`)
	if res, err := v.ApplyReport(ctx, DefaultTenant, same); err != nil || !res.AlreadyApplied {
		t.Fatalf("again: %+v, %v", res, err)
	}
	other := parse(`{"request_id":"r1","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[{"name":"A","value":"1"},{"name":"B","value":"3"}]}`)
	if _, err := v.ApplyReport(ctx, DefaultTenant, other); !errors.Is(err, ErrReportConflict) {
		t.Fatalf("conflict: %v", err)
	}
	list, err := v.DeviceSecrets(ctx, DefaultTenant, "amt")
	if err != nil || len(list) != 2 || list[0].Version != 1 || list[1].Version != 1 {
		t.Fatalf("secrets after re-apply: %+v, %v", list, err)
	}
	unknown := parse(`{"request_id":"r2","device_uuid":"00000000-0000-0000-0000-000000000001","secrets":[{"name":"A","value":"1"}]}`)
	if _, err := v.ApplyReport(ctx, DefaultTenant, unknown); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("unknown device: %v", err)
	}
	for _, bad := range []string{
		`{}`,
		`{"request_id":"r","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[]}`,
		`{"request_id":"r","device_uuid":"nope","secrets":[{"name":"A","value":"1"}]}`,
		`{"request_id":"r","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[{"name":"A","value":""}]}`,
		`{"request_id":"r","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[{"name":"A","value":"1"}],"extra":1}`,
		`{"format":"keysmith-device-report/v2","request_id":"r","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[{"name":"A","value":"1"}]}`,
		`{"request_id":"r","device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32","secrets":[{"name":"A","value":"1"}]} {}`,
	} {
		if _, err := ParseReport(bytes.NewBufferString(bad)); !errors.Is(err, ErrInvalidReport) {
			t.Errorf("ParseReport(%s): %v", bad, err)
		}
	}
}

func TestRemoveDevice(t *testing.T) {
	v, _, _ := newVault(t)
	_, spki := newKey(t)
	r := addKey(t, v, KeyRequest{Name: "x", Role: "server", SPKI: spki, Origin: KeyProvisioned})
	if _, err := v.SetDeviceSecret(ctx, DefaultTenant, "x", "S", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.IssueChallenge(ctx, DefaultTenant, "x", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := v.RemoveDevice(ctx, DefaultTenant, r.DeviceID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"devices", "device_keys", "device_secrets", "device_challenges"} {
		var n int
		if err := rawDB(t, v).QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows, %v", table, n, err)
		}
	}
	if _, err := v.RemoveDevice(ctx, DefaultTenant, "x"); !errors.Is(err, ErrNoDevice) {
		t.Fatal(err)
	}
	// The same key can be stored again once its device is gone.
	addKey(t, v, KeyRequest{Name: "x", Role: "server", SPKI: spki, Origin: KeyProvisioned})
}

// TestParseReportDuplicateKeys: encoding/json keeps the last of two equal
// keys and folds case, so a report with a key twice is refused before it
// is decoded, at every level.
func TestParseReportDuplicateKeys(t *testing.T) {
	const u = `"device_uuid":"4c4c4544-0042-3510-8052-b3c04f4a4e32"`
	for _, c := range []struct{ in, want string }{
		{`{"request_id":"r",` + u + `,"secrets":[{"name":"A","value":"1"}],"Secrets":[{"name":"B","value":"2"}]}`, `keys "secrets" and "Secrets" differ only in case`},
		{`{"request_id":"a","request_id":"b",` + u + `,"secrets":[{"name":"A","value":"1"}]}`, `key "request_id" appears twice in the top-level object`},
		{`{"request_id":"r",` + u + `,` + u + `,"secrets":[{"name":"A","value":"1"}]}`, `key "device_uuid" appears twice`},
		{`{"request_id":"r",` + u + `,"secrets":[{"name":"A","value":"1"},{"name":"B","NAME":"C","value":"2"}]}`, `keys "name" and "NAME" differ only in case in the object at /secrets/1`},
		{`{"request_id":"r",` + u + `,"secrets":[{"name":"A","value":"1","Value":"2"}]}`, `in the object at /secrets/0`},
	} {
		_, err := ParseReport(bytes.NewBufferString(c.in))
		if !errors.Is(err, ErrInvalidReport) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseReport(%s) = %v, want %q", c.in, err, c.want)
		}
	}
}
