// Package storetest is the conformance suite of vault stores
// (pkg/vault/store): every store runs it, and a store is done when it
// passes, not when it compiles (docs/vault.md, "Stores").
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newEmpty(t) })
//	}
//
// newEmpty returns a freshly created store (schema in place, no rows) that
// the test owns; it closes and removes it with t.Cleanup. Run calls it once
// per subtest. The suite uses only the store interface and opaque bytes:
// it needs no key.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// Factory returns an empty store owned by t.
type Factory func(t *testing.T) store.Store

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Meta", testMeta},
		{"Tenants", testTenants},
		{"DEKs", testDEKs},
		{"Versions", testVersions},
		{"LatestSecrets", testLatestSecrets},
		{"SecretsPage", testSecretsPage},
		{"Devices", testDevices},
		{"DeviceKeys", testDeviceKeys},
		{"Challenges", testChallenges},
		{"DeviceSecrets", testDeviceSecrets},
		{"Reports", testReports},
		{"Tokens", testTokens},
		{"Grants", testGrants},
		{"Requests", testRequests},
		{"Stubs", testStubs},
		{"Audit", testAudit},
		{"ManyNames", testManyNames},
		{"AMTCerts", testAMTCerts},
		{"Counts", testCounts},
		{"Rollback", testRollback},
		{"ReadOnlyView", testReadOnlyView},
		{"ConcurrentVersions", testConcurrentVersions},
		{"ConcurrentAudit", testConcurrentAudit},
		{"ConcurrentRequests", testConcurrentRequests},
		{"Integrity", testIntegrity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

const ts = "2026-01-02T03:04:05.000000000Z"

func update(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := s.View(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func addTenant(t *testing.T, s store.Store, name string) int64 {
	t.Helper()
	var id int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		id, err = tx.InsertTenant(ctx, store.Tenant{Name: name, DEKVersion: 1, CreatedAt: ts})
		if err != nil {
			return err
		}
		return tx.InsertDEK(ctx, store.DEK{TenantID: id, Version: 1, Wrapped: []byte("wrapped-" + name), CreatedAt: ts})
	})
	return id
}

func testMeta(t *testing.T, s store.Store) {
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetMeta(ctx, store.MetaFormat, []byte("keysmith-vault/v1")); err != nil {
			return err
		}
		if err := tx.SetMeta(ctx, store.MetaAuditKey, []byte{0, 1, 2}); err != nil {
			return err
		}
		return tx.SetMeta(ctx, store.MetaAuditKey, []byte{3, 4}) // replaces
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		m, err := tx.Meta(ctx)
		if err != nil {
			return err
		}
		if string(m[store.MetaFormat]) != "keysmith-vault/v1" || !bytes.Equal(m[store.MetaAuditKey], []byte{3, 4}) || len(m) != 2 {
			t.Errorf("meta = %q", m)
		}
		return nil
	})
	if s.Describe() == "" {
		t.Error("Describe is empty")
	}
	if s.SchemaVersion() <= 0 {
		t.Errorf("SchemaVersion = %d", s.SchemaVersion())
	}
}

func testTenants(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	if a == 0 || b == 0 || a == b {
		t.Fatalf("tenant IDs %d, %d", a, b)
	}
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.InsertTenant(ctx, store.Tenant{Name: "acme", DEKVersion: 1, CreatedAt: ts})
		return err
	})
	wantErr(t, err, store.ErrConflict, "second tenant acme")
	// An explicit ID (a copy) is kept.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		id, err := tx.InsertTenant(ctx, store.Tenant{ID: 40, Name: "copied", DEKVersion: 3, CreatedAt: ts})
		if err != nil {
			return err
		}
		if id != 40 {
			t.Errorf("explicit tenant ID became %d", id)
		}
		return tx.SetTenantDEKVersion(ctx, a, 2)
	})
	// A new tenant never reuses an ID.
	c := addTenant(t, s, "later")
	if c <= 40 {
		t.Errorf("new tenant ID %d after an explicit 40", c)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Tenant(ctx, "default")
		if err != nil {
			return err
		}
		if got.ID != a || got.DEKVersion != 2 || got.CreatedAt != ts {
			t.Errorf("tenant default = %+v", got)
		}
		if byID, err := tx.TenantByID(ctx, b); err != nil || byID.Name != "acme" {
			t.Errorf("TenantByID = %+v, %v", byID, err)
		}
		_, err = tx.Tenant(ctx, "nope")
		wantErr(t, err, store.ErrNoRow, "missing tenant")
		_, err = tx.TenantByID(ctx, 9999)
		wantErr(t, err, store.ErrNoRow, "missing tenant ID")
		all, err := tx.Tenants(ctx)
		if err != nil {
			return err
		}
		var names []string
		for _, x := range all {
			names = append(names, x.Name)
		}
		if !slices.Equal(names, []string{"acme", "copied", "default", "later"}) {
			t.Errorf("tenants = %q", names)
		}
		return tx.LockTenant(ctx, a)
	})
}

func testDEKs(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	ctx := context.Background()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertDEK(ctx, store.DEK{TenantID: a, Version: 2, Wrapped: []byte("two"), CreatedAt: ts}); err != nil {
			return err
		}
		return tx.UpdateDEK(ctx, b, 1, []byte("rewrapped"))
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertDEK(ctx, store.DEK{TenantID: a, Version: 2, Wrapped: []byte("again"), CreatedAt: ts})
	})
	wantErr(t, err, store.ErrConflict, "DEK version twice")
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		if n, err := tx.MaxDEKVersion(ctx, a); err != nil || n != 2 {
			t.Errorf("MaxDEKVersion = %d, %v", n, err)
		}
		if n, err := tx.MaxDEKVersion(ctx, 9999); err != nil || n != 0 {
			t.Errorf("MaxDEKVersion of nothing = %d, %v", n, err)
		}
		d, err := tx.DEK(ctx, b, 1)
		if err != nil || string(d.Wrapped) != "rewrapped" {
			t.Errorf("DEK = %+v, %v", d, err)
		}
		_, err = tx.DEK(ctx, b, 2)
		wantErr(t, err, store.ErrNoRow, "missing DEK")
		all, err := tx.DEKs(ctx)
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].TenantID != a || all[0].Version != 1 || all[1].Version != 2 || all[2].TenantID != b {
			t.Errorf("DEKs = %+v", all)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.DeleteDEKsExcept(ctx, a, 2) })
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.DEK(ctx, a, 1)
		wantErr(t, err, store.ErrNoRow, "deleted DEK")
		_, err = tx.DEK(ctx, a, 2)
		return err
	})
}

func secret(tenant int64, name string, version int, sealed string) store.Secret {
	return store.Secret{TenantID: tenant, Name: name, Version: version, DEKVersion: 1, Sealed: []byte(sealed),
		Description: "d " + sealed, CreatedAt: ts, CreatedBy: "alice"}
}

func testVersions(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	ctx := context.Background()
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range []store.Secret{secret(a, "DB", 1, "db1"), secret(a, "DB", 2, "db2"), secret(a, "APP_X", 1, "x1"),
			secret(a, "APP_Y", 1, "y1"), secret(a, "APP_Y", 2, "y2"), secret(b, "DB", 1, "other")} {
			if err := tx.InsertSecret(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertSecret(ctx, secret(a, "DB", 2, "dup")) })
	wantErr(t, err, store.ErrConflict, "version twice")
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Secret(ctx, a, "DB", 0)
		if err != nil || got.Version != 2 || string(got.Sealed) != "db2" || got.Description != "d db2" || got.CreatedBy != "alice" || got.ID == 0 {
			t.Errorf("latest DB = %+v, %v", got, err)
		}
		got, err = tx.Secret(ctx, a, "DB", 1)
		if err != nil || string(got.Sealed) != "db1" {
			t.Errorf("DB v1 = %+v, %v", got, err)
		}
		_, err = tx.Secret(ctx, a, "DB", 3)
		wantErr(t, err, store.ErrNoRow, "missing version")
		_, err = tx.Secret(ctx, a, "NOPE", 0)
		wantErr(t, err, store.ErrNoRow, "missing name")
		latest, err := tx.LatestSecrets(ctx, a, "", false)
		if err != nil {
			return err
		}
		if names := secretKeys(latest); !slices.Equal(names, []string{"APP_X:1", "APP_Y:2", "DB:2"}) {
			t.Errorf("LatestSecrets = %q", names)
		}
		if latest[0].Sealed != nil {
			t.Error("LatestSecrets without values returned Sealed")
		}
		pre, err := tx.LatestSecrets(ctx, a, "APP_", true)
		if err != nil {
			return err
		}
		if names := secretKeys(pre); !slices.Equal(names, []string{"APP_X:1", "APP_Y:2"}) || string(pre[1].Sealed) != "y2" {
			t.Errorf("LatestSecrets APP_ = %q", names)
		}
		// A prefix is literal: no LIKE wildcards.
		if none, err := tx.LatestSecrets(ctx, a, "APP%", false); err != nil || len(none) != 0 {
			t.Errorf("LatestSecrets APP%% = %v, %v", none, err)
		}
		if none, err := tx.LatestSecrets(ctx, a, "_PP", false); err != nil || len(none) != 0 {
			t.Errorf("LatestSecrets _PP = %v, %v", none, err)
		}
		h, err := tx.SecretHistory(ctx, a, "APP_Y")
		if err != nil || len(h) != 2 || h[0].Version != 1 || h[1].Version != 2 || h[0].Sealed != nil {
			t.Errorf("history = %+v, %v", h, err)
		}
		live, versions, err := tx.SecretCounts(ctx, a)
		if err != nil || live != 3 || versions != 5 {
			t.Errorf("SecretCounts = %d, %d, %v", live, versions, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.RemoveSecret(ctx, a, "DB", "2026-02-01T00:00:00.000000000Z")
		if err != nil || n != 2 {
			t.Errorf("RemoveSecret = %d, %v", n, err)
		}
		if n, err := tx.RemoveSecret(ctx, a, "DB", ts); err != nil || n != 0 {
			t.Errorf("RemoveSecret again = %d, %v", n, err)
		}
		if n, err := tx.PurgeSecret(ctx, a, "APP_X"); err != nil || n != 1 {
			t.Errorf("PurgeSecret = %d, %v", n, err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Secret(ctx, a, "DB", 0)
		if err != nil || got.DeletedAt != "2026-02-01T00:00:00.000000000Z" {
			t.Errorf("removed DB = %+v, %v", got, err)
		}
		latest, err := tx.LatestSecrets(ctx, a, "", false)
		if err != nil {
			return err
		}
		if names := secretKeys(latest); !slices.Equal(names, []string{"APP_Y:2", "DB:2"}) || latest[1].DeletedAt == "" {
			t.Errorf("LatestSecrets after rm = %q", names)
		}
		live, versions, err := tx.SecretCounts(ctx, a)
		if err != nil || live != 1 || versions != 4 {
			t.Errorf("SecretCounts after rm = %d, %d, %v", live, versions, err)
		}
		// The other tenant is untouched.
		if got, err := tx.Secret(ctx, b, "DB", 0); err != nil || got.DeletedAt != "" || string(got.Sealed) != "other" {
			t.Errorf("acme DB = %+v, %v", got, err)
		}
		return nil
	})
	// Removed then put again: a new live version.
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertSecret(ctx, secret(a, "DB", 3, "db3")) })
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Secret(ctx, a, "DB", 0)
		if err != nil || got.Version != 3 || got.DeletedAt != "" {
			t.Errorf("DB after re-put = %+v, %v", got, err)
		}
		return nil
	})
}

// testLatestSecrets: the newest version of every name, every field of that
// version, in bytewise name order (mixed case, digits, punctuation, UTF-8),
// removed names included with their deleted_at, the other tenant's names
// left out, across more names than a store reads in one chunk.
func testLatestSecrets(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	names := []string{"a", "A", "B", "b", "Z", "_x", "a_b", "a0", "A1", "é", "Ω", "日本", "zz", "Zz", "x.y", "x-y", "X"}
	for i := range 4200 {
		names = append(names, fmt.Sprintf("N%05d", i))
	}
	want := map[string]store.Secret{}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i, n := range names {
			vers := 1 + i%3
			if i < 5 {
				vers = 25 // many versions
			}
			for v := 1; v <= vers; v++ {
				x := store.Secret{TenantID: a, Name: n, Version: v, DEKVersion: 1, Sealed: []byte(fmt.Sprintf("%s/%d", n, v)),
					Description: fmt.Sprintf("d %d\n\tü %s", v, n), CreatedAt: fmt.Sprintf("2026-01-%02dT00:00:00.000000000Z", v), CreatedBy: fmt.Sprintf("user%d", i%7)}
				if err := tx.InsertSecret(ctx, x); err != nil {
					return err
				}
				want[n] = x
			}
		}
		// Another tenant's rows, newer, and names between ours.
		for _, n := range []string{"a", "M", "N00001"} {
			if err := tx.InsertSecret(ctx, secret(b, n, 99, "other")); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, n := range []string{"B", "日本", "N00007"} {
			if _, err := tx.RemoveSecret(ctx, a, n, "2026-03-01T00:00:00.000000000Z"); err != nil {
				return err
			}
			x := want[n]
			x.DeletedAt = "2026-03-01T00:00:00.000000000Z"
			want[n] = x
		}
		return nil
	})
	sorted := slices.Clone(names)
	slices.Sort(sorted) // Go compares strings bytewise
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, values := range []bool{false, true} {
			got, err := tx.LatestSecrets(ctx, a, "", values)
			if err != nil {
				return err
			}
			if len(got) != len(sorted) {
				t.Fatalf("LatestSecrets(values %v): %d names, want %d", values, len(got), len(sorted))
			}
			for i, g := range got {
				w := want[sorted[i]]
				if g.Name != sorted[i] {
					t.Fatalf("LatestSecrets(values %v)[%d] = %q, want %q (bytewise order)", values, i, g.Name, sorted[i])
				}
				if g.ID == 0 || g.TenantID != a || g.Version != w.Version || g.DEKVersion != w.DEKVersion || g.Description != w.Description ||
					g.CreatedAt != w.CreatedAt || g.CreatedBy != w.CreatedBy || g.DeletedAt != w.DeletedAt {
					t.Fatalf("LatestSecrets(values %v) %q = %+v, want %+v", values, g.Name, g, w)
				}
				if values && string(g.Sealed) != string(w.Sealed) || !values && g.Sealed != nil {
					t.Fatalf("LatestSecrets(values %v) %q sealed = %q, want %q", values, g.Name, g.Sealed, w.Sealed)
				}
			}
		}
		pre, err := tx.LatestSecrets(ctx, a, "N0000", true)
		if err != nil {
			return err
		}
		if keys := secretKeys(pre); len(keys) != 10 || keys[0] != fmt.Sprintf("N00000:%d", want["N00000"].Version) ||
			keys[7] != fmt.Sprintf("N00007:%d", want["N00007"].Version) || pre[7].DeletedAt == "" {
			t.Errorf("LatestSecrets N0000 = %q", keys)
		}
		return nil
	})
}

func secretKeys(ss []store.Secret) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("%s:%d", s.Name, s.Version))
	}
	return out
}

func testSecretsPage(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for i := range 25 {
			ten := a
			if i%5 == 0 {
				ten = b
			}
			if err := tx.InsertSecret(ctx, secret(ten, fmt.Sprintf("S%02d", i), 1, fmt.Sprint(i))); err != nil {
				return err
			}
		}
		return nil
	})
	var got []store.Secret
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		var after int64
		for {
			page, err := tx.SecretsPage(ctx, a, after, 7)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				return nil
			}
			if len(page) > 7 {
				t.Fatalf("page of %d", len(page))
			}
			for _, p := range page {
				if p.ID <= after || p.TenantID != a || p.Sealed == nil {
					t.Fatalf("page row %+v after %d", p, after)
				}
				after = p.ID
			}
			got = append(got, page...)
		}
	})
	if len(got) != 20 {
		t.Errorf("paged %d rows of tenant a, want 20", len(got))
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertDEK(ctx, store.DEK{TenantID: a, Version: 2, Wrapped: []byte("two"), CreatedAt: ts}); err != nil {
			return err
		}
		return tx.UpdateSecretSeal(ctx, got[0].ID, 2, []byte("resealed"))
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		x, err := tx.Secret(ctx, a, got[0].Name, 1)
		if err != nil || x.DEKVersion != 2 || string(x.Sealed) != "resealed" {
			t.Errorf("after UpdateSecretSeal: %+v, %v", x, err)
		}
		all, err := tx.SecretsPage(ctx, 0, 0, 100)
		if err != nil || len(all) != 25 {
			t.Errorf("every tenant's page: %d rows, %v", len(all), err)
		}
		return nil
	})
}

func addDevice(t *testing.T, s store.Store, tenant int64, id, name, uuid, role string) int64 {
	t.Helper()
	var ref int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		ref, err = tx.InsertDevice(ctx, store.Device{TenantID: tenant, ID: id, Name: name, UUID: uuid, Role: role,
			CreatedAt: ts, CreatedBy: "alice", MAC: []byte("mac-" + name)})
		return err
	})
	return ref
}

func testDevices(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	ctx := context.Background()
	d1 := addDevice(t, s, a, "dev_0000000000000001", "kiosk-1", "11111111-2222-3333-4444-555555555555", "kiosk")
	d2 := addDevice(t, s, a, "dev_0000000000000002", "kiosk-2", "", "kiosk")
	addDevice(t, s, b, "dev_0000000000000003", "kiosk-1", "11111111-2222-3333-4444-555555555555", "pos")
	for _, d := range []store.Device{
		{TenantID: a, ID: "dev_0000000000000001", Name: "other"},                                           // device ID
		{TenantID: a, ID: "dev_0000000000000009", Name: "kiosk-1"},                                         // name
		{TenantID: a, ID: "dev_000000000000000a", Name: "x", UUID: "11111111-2222-3333-4444-555555555555"}, // UUID
	} {
		d.Role, d.CreatedAt, d.CreatedBy = "kiosk", ts, "alice"
		err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.InsertDevice(ctx, d); return err })
		wantErr(t, err, store.ErrConflict, "device "+d.Name)
	}
	// Two devices without a UUID do not collide.
	addDevice(t, s, a, "dev_0000000000000004", "kiosk-3", "", "kiosk")
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, q := range [][2]string{{store.ByDeviceID, "dev_0000000000000001"}, {store.ByUUID, "11111111-2222-3333-4444-555555555555"}, {store.ByName, "kiosk-1"}} {
			d, err := tx.DeviceBy(ctx, a, q[0], q[1])
			if err != nil || d.Ref != d1 || d.Name != "kiosk-1" || d.Role != "kiosk" || string(d.MAC) != "mac-kiosk-1" || d.CreatedBy != "alice" {
				t.Errorf("DeviceBy %s = %+v, %v", q[0], d, err)
			}
		}
		_, err := tx.DeviceBy(ctx, a, store.ByName, "nope")
		wantErr(t, err, store.ErrNoRow, "missing device")
		d, err := tx.DeviceByRef(ctx, d2)
		if err != nil || d.UUID != "" || d.ID != "dev_0000000000000002" {
			t.Errorf("DeviceByRef = %+v, %v", d, err)
		}
		ds, err := tx.Devices(ctx, a, "")
		if err != nil || len(ds) != 3 || ds[0].Name != "kiosk-1" || ds[2].Name != "kiosk-3" {
			t.Errorf("Devices = %+v, %v", ds, err)
		}
		if ds, err := tx.Devices(ctx, b, "pos"); err != nil || len(ds) != 1 {
			t.Errorf("Devices role pos = %+v, %v", ds, err)
		}
		if ds, err := tx.Devices(ctx, 0, ""); err != nil || len(ds) != 4 {
			t.Errorf("every device = %d, %v", len(ds), err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateDevice(ctx, d2, "pos", []byte("new mac"))
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		d, err := tx.DeviceByRef(ctx, d2)
		if err != nil || d.Role != "pos" || string(d.MAC) != "new mac" {
			t.Errorf("after UpdateDevice: %+v, %v", d, err)
		}
		return nil
	})
	// Deleting a device deletes its keys, challenges and secrets, and keeps
	// its reports.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.InsertDeviceKey(ctx, deviceKey(a, d2, "key_0000000000000001", "fp1")); err != nil {
			return err
		}
		if err := tx.InsertChallenge(ctx, store.Challenge{Nonce: []byte("n1"), TenantID: a, DeviceRef: d2, CreatedAt: ts, ExpiresAt: ts}); err != nil {
			return err
		}
		if err := tx.InsertDeviceSecret(ctx, store.DeviceSecret{TenantID: a, DeviceRef: d2, Name: "AMT", Version: 1, DEKVersion: 1, Sealed: []byte("s"), CreatedAt: ts, CreatedBy: "alice"}); err != nil {
			return err
		}
		if err := tx.InsertReport(ctx, store.Report{TenantID: a, RequestID: "r1", DeviceRef: d2, DeviceUUID: "u", Digest: []byte("d"), Secrets: 1, AppliedAt: ts, AppliedBy: "alice"}); err != nil {
			return err
		}
		keys, secrets, err := tx.DeviceRowCounts(ctx, d2)
		if err != nil || keys != 1 || secrets != 1 {
			t.Errorf("DeviceRowCounts = %d, %d, %v", keys, secrets, err)
		}
		return tx.DeleteDevice(ctx, d2)
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.DeviceByRef(ctx, d2)
		wantErr(t, err, store.ErrNoRow, "deleted device")
		if ks, err := tx.DeviceKeys(ctx, d2); err != nil || len(ks) != 0 {
			t.Errorf("keys of a deleted device: %v, %v", ks, err)
		}
		_, err = tx.Challenge(ctx, d2, []byte("n1"))
		wantErr(t, err, store.ErrNoRow, "challenge of a deleted device")
		if ss, err := tx.DeviceSecretsOf(ctx, a); err != nil || len(ss) != 0 {
			t.Errorf("secrets of a deleted device: %v, %v", ss, err)
		}
		r, err := tx.Report(ctx, a, "r1")
		if err != nil || r.DeviceRef != 0 {
			t.Errorf("report of a deleted device: %+v, %v", r, err)
		}
		return nil
	})
}

func deviceKey(tenant, ref int64, keyID, fp string) store.DeviceKey {
	return store.DeviceKey{TenantID: tenant, DeviceRef: ref, KeyID: keyID, SPKI: []byte("spki-" + keyID), Fingerprint: fp,
		Role: "kiosk", Origin: "enrolled", Status: "active", CreatedAt: ts, CreatedBy: "alice", MAC: []byte("mac-" + keyID)}
}

func testDeviceKeys(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	ctx := context.Background()
	d1 := addDevice(t, s, a, "dev_0000000000000001", "kiosk-1", "", "kiosk")
	d2 := addDevice(t, s, a, "dev_0000000000000002", "kiosk-2", "", "kiosk")
	var k1, k2 int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		if k1, err = tx.InsertDeviceKey(ctx, deviceKey(a, d1, "key_0000000000000001", "fp1")); err != nil {
			return err
		}
		k := deviceKey(a, d1, "key_0000000000000002", "fp2")
		k.Origin = "provisioned"
		if k2, err = tx.InsertDeviceKey(ctx, k); err != nil {
			return err
		}
		_, err = tx.InsertDeviceKey(ctx, deviceKey(a, d2, "key_0000000000000003", "fp3"))
		return err
	})
	for _, k := range []store.DeviceKey{deviceKey(a, d2, "key_0000000000000001", "fpx"), deviceKey(a, d2, "key_0000000000000009", "fp1")} {
		err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.InsertDeviceKey(ctx, k); return err })
		wantErr(t, err, store.ErrConflict, "key "+k.KeyID+" "+k.Fingerprint)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		ks, err := tx.DeviceKeys(ctx, d1)
		if err != nil || len(ks) != 2 || ks[0].ID != k1 || ks[1].ID != k2 || ks[1].Origin != "provisioned" {
			t.Fatalf("DeviceKeys = %+v, %v", ks, err)
		}
		k := ks[0]
		if k.DeviceID != "dev_0000000000000001" || string(k.SPKI) != "spki-key_0000000000000001" || string(k.MAC) != "mac-key_0000000000000001" || k.RevokedAt != "" {
			t.Errorf("key = %+v", k)
		}
		d, err := tx.DeviceByRef(ctx, d1)
		if err != nil || d.ActiveKeys != 2 {
			t.Errorf("ActiveKeys = %d, %v", d.ActiveKeys, err)
		}
		byID, err := tx.DeviceKeyFind(ctx, a, "key_0000000000000002", "")
		if err != nil || byID.ID != k2 {
			t.Errorf("DeviceKeyFind by ID = %+v, %v", byID, err)
		}
		byFP, err := tx.DeviceKeyFind(ctx, a, "", "fp3")
		if err != nil || byFP.KeyID != "key_0000000000000003" || byFP.DeviceID != "dev_0000000000000002" {
			t.Errorf("DeviceKeyFind by fingerprint = %+v, %v", byFP, err)
		}
		_, err = tx.DeviceKeyFind(ctx, a, "key_0000000000000009", "fp9")
		wantErr(t, err, store.ErrNoRow, "missing key")
		all, err := tx.DeviceKeys(ctx, 0)
		if err != nil || len(all) != 3 {
			t.Errorf("every key: %d, %v", len(all), err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.UpdateDeviceKey(ctx, k1, "revoked", "2026-03-01T00:00:00.000000000Z", []byte("mac2"))
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		ks, err := tx.DeviceKeys(ctx, d1)
		if err != nil || ks[0].Status != "revoked" || ks[0].RevokedAt != "2026-03-01T00:00:00.000000000Z" || string(ks[0].MAC) != "mac2" {
			t.Errorf("after revoke: %+v, %v", ks, err)
		}
		d, err := tx.DeviceByRef(ctx, d1)
		if err != nil || d.ActiveKeys != 1 {
			t.Errorf("ActiveKeys after revoke = %d, %v", d.ActiveKeys, err)
		}
		return nil
	})
}

func testChallenges(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	d1 := addDevice(t, s, a, "dev_0000000000000001", "kiosk-1", "", "kiosk")
	d2 := addDevice(t, s, a, "dev_0000000000000002", "kiosk-2", "", "kiosk")
	nonce := bytes.Repeat([]byte{7}, 32)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.InsertChallenge(ctx, store.Challenge{Nonce: nonce, TenantID: a, DeviceRef: d1, CreatedAt: ts, ExpiresAt: "2026-01-02T03:09:05.000000000Z"})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.Challenge(ctx, d1, nonce)
		if err != nil || c.ExpiresAt != "2026-01-02T03:09:05.000000000Z" || c.ConsumedAt != "" {
			t.Errorf("Challenge = %+v, %v", c, err)
		}
		_, err = tx.Challenge(ctx, d2, nonce)
		wantErr(t, err, store.ErrNoRow, "another device's challenge")
		return nil
	})
	// Exactly one of many concurrent consumers wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			ctx := context.Background()
			var won bool
			err := s.Update(ctx, func(tx store.Tx) error {
				var err error
				won, err = tx.ConsumeChallenge(ctx, nonce, ts, "key_x")
				return err
			})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if won {
				wins++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d consumers won the challenge", wins)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.Challenge(ctx, d1, nonce)
		if err != nil || c.ConsumedAt != ts || c.ConsumedBy != "key_x" {
			t.Errorf("consumed challenge = %+v, %v", c, err)
		}
		return nil
	})
}

func testDeviceSecrets(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	ctx := context.Background()
	d1 := addDevice(t, s, a, "dev_0000000000000001", "kiosk-1", "", "kiosk")
	ds := func(name string, v int, sealed string) store.DeviceSecret {
		return store.DeviceSecret{TenantID: a, DeviceRef: d1, Name: name, Version: v, DEKVersion: 1, Sealed: []byte(sealed), Source: "src", CreatedAt: ts, CreatedBy: "alice"}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range []store.DeviceSecret{ds("AMT", 1, "a1"), ds("AMT", 2, "a2"), ds("MEBX", 1, "m1")} {
			if err := tx.InsertDeviceSecret(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertDeviceSecret(ctx, ds("AMT", 2, "dup")) })
	wantErr(t, err, store.ErrConflict, "device secret version twice")
	var first int64
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		x, err := tx.DeviceSecret(ctx, d1, "AMT")
		if err != nil || x.Version != 2 || string(x.Sealed) != "a2" || x.Source != "src" {
			t.Errorf("DeviceSecret = %+v, %v", x, err)
		}
		_, err = tx.DeviceSecret(ctx, d1, "NOPE")
		wantErr(t, err, store.ErrNoRow, "missing device secret")
		if n, err := tx.MaxDeviceSecretVersion(ctx, d1, "AMT"); err != nil || n != 2 {
			t.Errorf("MaxDeviceSecretVersion = %d, %v", n, err)
		}
		if n, err := tx.MaxDeviceSecretVersion(ctx, d1, "NOPE"); err != nil || n != 0 {
			t.Errorf("MaxDeviceSecretVersion of nothing = %d, %v", n, err)
		}
		l, err := tx.LatestDeviceSecrets(ctx, d1)
		if err != nil || len(l) != 2 || l[0].Name != "AMT" || l[0].Version != 2 || l[1].Name != "MEBX" || l[0].Sealed != nil {
			t.Errorf("LatestDeviceSecrets = %+v, %v", l, err)
		}
		all, err := tx.DeviceSecretsOf(ctx, a)
		if err != nil || len(all) != 3 || all[0].ID >= all[1].ID || all[0].Sealed == nil {
			t.Errorf("DeviceSecretsOf = %+v, %v", all, err)
		}
		first = all[0].ID
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertDEK(ctx, store.DEK{TenantID: a, Version: 2, Wrapped: []byte("two"), CreatedAt: ts}); err != nil {
			return err
		}
		return tx.UpdateDeviceSecretSeal(ctx, first, 2, []byte("re"))
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		all, err := tx.DeviceSecretsOf(ctx, 0)
		if err != nil || all[0].DEKVersion != 2 || string(all[0].Sealed) != "re" {
			t.Errorf("after UpdateDeviceSecretSeal: %+v, %v", all, err)
		}
		return nil
	})
}

func testReports(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	ctx := context.Background()
	d1 := addDevice(t, s, a, "dev_0000000000000001", "kiosk-1", "u1", "kiosk")
	r := store.Report{TenantID: a, RequestID: "req-1", DeviceRef: d1, DeviceUUID: "u1", Digest: []byte("digest"), Secrets: 2, AppliedAt: ts, AppliedBy: "alice"}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.InsertReport(ctx, r) })
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertReport(ctx, r) })
	wantErr(t, err, store.ErrConflict, "report twice")
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.Report(ctx, a, "req-1")
		if err != nil || got.DeviceRef != d1 || string(got.Digest) != "digest" || got.Secrets != 2 || got.AppliedBy != "alice" {
			t.Errorf("Report = %+v, %v", got, err)
		}
		_, err = tx.Report(ctx, a, "req-2")
		wantErr(t, err, store.ErrNoRow, "missing report")
		if all, err := tx.Reports(ctx); err != nil || len(all) != 1 {
			t.Errorf("Reports = %+v, %v", all, err)
		}
		return nil
	})
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := func(id, svc string) store.Token {
		return store.Token{ID: id, Service: svc, ServiceVersion: "1.0", Hash: []byte("hash-" + id), Status: "pending", CreatedAt: ts, CreatedBy: "alice", MAC: []byte("m")}
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range []store.Token{tok("bbbb", "web"), tok("aaaa", "web"), tok("cccc", "api")} {
			if err := tx.InsertToken(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok("aaaa", "x")) })
	wantErr(t, err, store.ErrConflict, "token twice")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.DecideToken(ctx, "aaaa", "approved", "2026-05-01T00:00:00.000000000Z", "bob", []byte("m2")); err != nil {
			return err
		}
		if err := tx.TouchToken(ctx, "aaaa", "2026-06-01T00:00:00.000000000Z"); err != nil {
			return err
		}
		if err := tx.TouchToken(ctx, "aaaa", "2026-06-02T00:00:00.000000000Z"); err != nil {
			return err
		}
		return tx.SetTokenMAC(ctx, "cccc", []byte("m3"))
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		x, err := tx.Token(ctx, "aaaa")
		if err != nil || x.Status != "approved" || x.DecidedBy != "bob" || x.DecidedAt != "2026-05-01T00:00:00.000000000Z" ||
			x.UseCount != 2 || x.LastUsed != "2026-06-02T00:00:00.000000000Z" || string(x.MAC) != "m2" || string(x.Hash) != "hash-aaaa" || x.ServiceVersion != "1.0" {
			t.Errorf("Token = %+v, %v", x, err)
		}
		_, err = tx.Token(ctx, "dddd")
		wantErr(t, err, store.ErrNoRow, "missing token")
		all, err := tx.Tokens(ctx)
		if err != nil || len(all) != 3 || all[0].ID != "cccc" || all[1].ID != "aaaa" || all[2].ID != "bbbb" || string(all[0].MAC) != "m3" {
			t.Errorf("Tokens = %+v, %v", all, err)
		}
		return nil
	})
}

func testGrants(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutGrant(ctx, store.Grant{TenantID: a, Service: "web", Name: "DB", Status: "active", DecidedAt: ts, DecidedBy: "alice", MAC: []byte("m1")}); err != nil {
			return err
		}
		if err := tx.PutGrant(ctx, store.Grant{TenantID: a, Service: "api", Name: "DB", Status: "denied", DecidedAt: ts, DecidedBy: "alice", MAC: []byte("m")}); err != nil {
			return err
		}
		if err := tx.PutGrant(ctx, store.Grant{TenantID: b, Service: "web", Name: "DB", Status: "active", DecidedAt: ts, DecidedBy: "alice", MAC: []byte("m")}); err != nil {
			return err
		}
		return tx.TouchGrant(ctx, a, "web", "DB", "2026-07-01T00:00:00.000000000Z")
	})
	// An update keeps the counters.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.PutGrant(ctx, store.Grant{TenantID: a, Service: "web", Name: "DB", Status: "revoked", DecidedAt: "2026-08-01T00:00:00.000000000Z", DecidedBy: "bob", MAC: []byte("m2")})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		g, err := tx.Grant(ctx, a, "web", "DB")
		if err != nil || g.Status != "revoked" || g.DecidedBy != "bob" || g.AccessCount != 1 || g.LastAccess != "2026-07-01T00:00:00.000000000Z" || string(g.MAC) != "m2" {
			t.Errorf("Grant = %+v, %v", g, err)
		}
		_, err = tx.Grant(ctx, a, "web", "OTHER")
		wantErr(t, err, store.ErrNoRow, "missing grant")
		gs, err := tx.Grants(ctx, a)
		if err != nil || len(gs) != 2 || gs[0].Service != "api" || gs[1].Service != "web" {
			t.Errorf("Grants = %+v, %v", gs, err)
		}
		if all, err := tx.Grants(ctx, 0); err != nil || len(all) != 3 {
			t.Errorf("every grant = %d, %v", len(all), err)
		}
		return nil
	})
}

func testRequests(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	req := store.Request{TenantID: a, Service: "web", Name: "DB", Status: "pending", RequestedBy: "web", RequestedAt: ts, Origin: "read", MAC: []byte("m")}
	var id1 int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var created bool
		var err error
		id1, created, err = tx.InsertRequest(ctx, req)
		if err != nil || !created || id1 == 0 {
			t.Errorf("InsertRequest = %d, %v, %v", id1, created, err)
		}
		id2, created, err := tx.InsertRequest(ctx, req)
		if err != nil || created || id2 != id1 {
			t.Errorf("InsertRequest again = %d, %v, %v", id2, created, err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.PendingRequest(ctx, a, "web", "DB")
		if err != nil || r.ID != id1 || r.Origin != "read" || string(r.MAC) != "m" {
			t.Errorf("PendingRequest = %+v, %v", r, err)
		}
		_, err = tx.PendingRequest(ctx, a, "api", "DB")
		wantErr(t, err, store.ErrNoRow, "missing pending request")
		return nil
	})
	var id3 int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.DecideRequest(ctx, id1, "denied", "2026-09-01T00:00:00.000000000Z", "bob", []byte("m2")); err != nil {
			return err
		}
		// Decided: a new one may be pending.
		var created bool
		var err error
		id3, created, err = tx.InsertRequest(ctx, req)
		if err != nil || !created || id3 == id1 {
			t.Errorf("InsertRequest after a decision = %d, %v, %v", id3, created, err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		r, err := tx.Request(ctx, id1)
		if err != nil || r.Status != "denied" || r.DecidedBy != "bob" || r.DecidedAt != "2026-09-01T00:00:00.000000000Z" || string(r.MAC) != "m2" {
			t.Errorf("Request = %+v, %v", r, err)
		}
		_, err = tx.Request(ctx, 9999)
		wantErr(t, err, store.ErrNoRow, "missing request")
		all, err := tx.Requests(ctx, a, false)
		if err != nil || len(all) != 2 || all[0].ID != id1 {
			t.Errorf("Requests = %+v, %v", all, err)
		}
		p, err := tx.Requests(ctx, a, true)
		if err != nil || len(p) != 1 || p[0].ID != id3 {
			t.Errorf("pending Requests = %+v, %v", p, err)
		}
		return nil
	})
}

func testStubs(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		ok, err := tx.OpenStub(ctx, store.Stub{TenantID: a, Name: "DB", RequestedBy: "web", Description: "the db", CreatedAt: ts})
		if err != nil || !ok {
			t.Errorf("OpenStub = %v, %v", ok, err)
		}
		ok, err = tx.OpenStub(ctx, store.Stub{TenantID: a, Name: "DB", RequestedBy: "api", CreatedAt: ts})
		if err != nil || ok {
			t.Errorf("OpenStub of an open stub = %v, %v", ok, err)
		}
		for _, svc := range []string{"web", "api", "web"} {
			r := store.Request{TenantID: a, Service: svc, Name: "DB", Status: "pending", RequestedBy: svc, RequestedAt: ts, Origin: "read"}
			if _, _, err := tx.InsertRequest(ctx, r); err != nil {
				return err
			}
		}
		_, err = tx.OpenStub(ctx, store.Stub{TenantID: a, Name: "API_KEY", RequestedBy: "web", CreatedAt: ts})
		return err
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		st, err := tx.Stubs(ctx, a)
		if err != nil || len(st) != 2 || st[0].Name != "API_KEY" || len(st[0].AskedBy) != 0 || st[1].Name != "DB" ||
			!slices.Equal(st[1].AskedBy, []string{"api", "web"}) || st[1].Description != "the db" || st[1].RequestedBy != "web" {
			t.Errorf("Stubs = %+v, %v", st, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.FillStub(ctx, a, "DB", "2026-10-01T00:00:00.000000000Z")
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		st, err := tx.Stubs(ctx, a)
		if err != nil || len(st) != 1 || st[0].Name != "API_KEY" {
			t.Errorf("Stubs after fill = %+v, %v", st, err)
		}
		x, err := tx.Stub(ctx, a, "DB")
		if err != nil || x.FilledAt != "2026-10-01T00:00:00.000000000Z" {
			t.Errorf("filled Stub = %+v, %v", x, err)
		}
		_, err = tx.Stub(ctx, a, "NOPE")
		wantErr(t, err, store.ErrNoRow, "missing stub")
		if all, err := tx.Stubs(ctx, 0); err != nil || len(all) != 2 {
			t.Errorf("every stub = %d, %v", len(all), err)
		}
		return nil
	})
	// A filled stub is reopened.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		ok, err := tx.OpenStub(ctx, store.Stub{TenantID: a, Name: "DB", RequestedBy: "api", CreatedAt: "2026-11-01T00:00:00.000000000Z"})
		if err != nil || !ok {
			t.Errorf("reopen = %v, %v", ok, err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		x, err := tx.Stub(ctx, a, "DB")
		if err != nil || x.FilledAt != "" || x.RequestedBy != "api" || x.CreatedAt != "2026-11-01T00:00:00.000000000Z" {
			t.Errorf("reopened Stub = %+v, %v", x, err)
		}
		return nil
	})
}

func auditRow(seq int64, action, tenant, object string, mac []byte) store.AuditRow {
	return store.AuditRow{Seq: seq, TS: fmt.Sprintf("2026-01-02T03:04:%02d.000000000Z", seq%60), Actor: "alice", Action: action, Tenant: tenant,
		Object: object, Success: seq%3 != 0, Detail: "detail", IPAddress: "local", UserAgent: "keysmith/test (cli)", MAC: mac}
}

func collect(t *testing.T, tx store.Tx, f store.AuditFilter) []int64 {
	t.Helper()
	var out []int64
	if err := tx.AuditScan(context.Background(), f, func(r store.AuditRow) error { out = append(out, r.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		tail, err := tx.AuditTail(ctx)
		if err != nil || len(tail) != 0 {
			t.Errorf("tail of an empty chain = %v, %v", tail, err)
		}
		return nil
	})
	// Unkeyed rows before any keyed one: the tail is every row.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, []store.AuditRow{auditRow(1, "unlock", "", "v", nil), auditRow(2, "unlock", "", "v", nil)})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		tail, err := tx.AuditTail(ctx)
		if err != nil || len(tail) != 2 || tail[0].Seq != 1 {
			t.Errorf("unkeyed tail = %v, %v", tail, err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var rows []store.AuditRow
		for seq := int64(3); seq <= 10; seq++ {
			action, object := "get", fmt.Sprintf("S%d", seq%2)
			if seq == 3 {
				action = "init"
			}
			rows = append(rows, auditRow(seq, action, "default", object, []byte{byte(seq)}))
		}
		rows = append(rows, auditRow(11, "unlock", "", "v", nil), auditRow(12, "unlock", "", "v", nil))
		return tx.AppendAudit(ctx, rows)
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.AppendAudit(ctx, []store.AuditRow{auditRow(5, "get", "", "", []byte{1})})
	})
	wantErr(t, err, store.ErrConflict, "seq twice")
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		tail, err := tx.AuditTail(ctx)
		if err != nil || len(tail) != 3 || tail[0].Seq != 10 || !bytes.Equal(tail[0].MAC, []byte{10}) || tail[1].MAC != nil || tail[2].Seq != 12 {
			t.Errorf("tail = %+v, %v", tail, err)
		}
		var first store.AuditRow
		if err := tx.AuditScan(ctx, store.AuditFilter{Limit: 1}, func(r store.AuditRow) error { first = r; return nil }); err != nil {
			return err
		}
		want := auditRow(1, "unlock", "", "v", nil)
		if first.Seq != 1 || first.TS != want.TS || first.Actor != "alice" || first.Detail != "detail" || first.IPAddress != "local" ||
			first.UserAgent != want.UserAgent || first.Success != want.Success || first.MAC != nil {
			t.Errorf("row 1 = %+v", first)
		}
		if got := collect(t, tx, store.AuditFilter{}); len(got) != 12 || got[0] != 1 || got[11] != 12 {
			t.Errorf("scan all = %v", got)
		}
		if got := collect(t, tx, store.AuditFilter{FromSeq: 4, ToSeq: 6}); !slices.Equal(got, []int64{4, 5, 6}) {
			t.Errorf("scan 4..6 = %v", got)
		}
		if got := collect(t, tx, store.AuditFilter{Actions: []string{"get"}, Tenant: "default", Object: "S1", Desc: true, Limit: 2}); !slices.Equal(got, []int64{9, 7}) {
			t.Errorf("scan newest gets of S1 = %v", got)
		}
		if got := collect(t, tx, store.AuditFilter{Actions: []string{"init", "unlock"}}); !slices.Equal(got, []int64{1, 2, 3, 11, 12}) {
			t.Errorf("scan actions = %v", got)
		}
		if got := collect(t, tx, store.AuditFilter{Since: "2026-01-02T03:04:10"}); !slices.Equal(got, []int64{10, 11, 12}) {
			t.Errorf("scan since = %v", got)
		}
		stop := errors.New("stop")
		n := 0
		err = tx.AuditScan(ctx, store.AuditFilter{}, func(store.AuditRow) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("a scan stopped by fn: %v after %d rows", err, n)
		}
		return nil
	})
	// The newest rows about a name over several actions (lastAudit's
	// scan), across the stores' pages: 60 rows about N, interleaved with
	// other names, tenants and actions.
	var want []int64
	var all []store.AuditRow
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var rows []store.AuditRow
		defer func() { all = rows }()
		for seq := int64(13); seq < 253; seq++ {
			action, tenant, object := []string{"put", "rm", "get", "purge"}[seq%4], "default", "N"
			switch seq % 3 {
			case 1:
				object = "M"
			case 2:
				tenant = "other"
			}
			if action != "get" && tenant == "default" && object == "N" {
				want = append(want, seq)
			}
			rows = append(rows, auditRow(seq, action, tenant, object, nil))
		}
		return tx.AppendAudit(ctx, rows)
	})
	slices.Reverse(want)
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		actions := []string{"put", "rm", "purge"}
		if got := collect(t, tx, store.AuditFilter{Actions: actions, Tenant: "default", Object: "N", Desc: true}); !slices.Equal(got, want) {
			t.Errorf("newest put/rm/purge rows of N = %v, want %v", got, want)
		}
		if got := collect(t, tx, store.AuditFilter{Actions: actions, Tenant: "default", Object: "N", Desc: true, Limit: 3}); !slices.Equal(got, want[:3]) {
			t.Errorf("newest 3 put/rm/purge rows of N = %v, want %v", got, want[:3])
		}
		if got := collect(t, tx, store.AuditFilter{Actions: actions, Tenant: "default", Object: "N", FromSeq: want[5], ToSeq: want[2]}); !slices.Equal(got, []int64{want[5], want[4], want[3], want[2]}) {
			t.Errorf("put/rm/purge rows of N in %d..%d = %v", want[5], want[2], got)
		}
		if got := collect(t, tx, store.AuditFilter{Actions: []string{"get", "put"}, Object: "N", Desc: true, Limit: 4}); !slices.Equal(got, []int64{252, 248, 246, 242}) {
			t.Errorf("newest get/put rows of N in any tenant = %v", got)
		}
		// OrActions: a name's puts, or an rm anywhere, newest first.
		var wantOr []int64
		for _, r := range slices.Backward(all) {
			if (r.Action == "put" && r.Tenant == "default" && r.Object == "N") || r.Action == "rm" {
				wantOr = append(wantOr, r.Seq)
			}
		}
		if got := collect(t, tx, store.AuditFilter{Actions: []string{"put"}, Tenant: "default", Object: "N", OrActions: []string{"rm"}, Desc: true}); !slices.Equal(got, wantOr) {
			t.Errorf("puts of N or any rm = %v, want %v", got, wantOr)
		}
		var want5 []int64
		for _, r := range slices.Backward(all) {
			if r.Seq <= 200 && len(want5) < 5 && (((r.Action == "put" || r.Action == "purge") && r.Tenant == "default" && r.Object == "N") || r.Action == "rm") {
				want5 = append(want5, r.Seq)
			}
		}
		if got := collect(t, tx, store.AuditFilter{Actions: []string{"put", "purge"}, Tenant: "default", Object: "N", OrActions: []string{"rm"}, Desc: true, Limit: 5, ToSeq: 200}); !slices.Equal(got, want5) {
			t.Errorf("puts/purges of N or any rm up to 200, 5 of them = %v, want %v", got, want5)
		}
		if got := collect(t, tx, store.AuditFilter{Actions: []string{"put"}, Tenant: "default", Object: "nothing", OrActions: []string{"init"}}); !slices.Equal(got, []int64{3}) {
			t.Errorf("puts of a name with none, or the init row = %v", got)
		}
		// 242 unkeyed rows after the keyed row 10: the tail is all of them.
		tail, err := tx.AuditTail(ctx)
		if err != nil || len(tail) != 243 || tail[0].Seq != 10 || tail[242].Seq != 252 {
			t.Errorf("long unkeyed tail: %d rows, %v", len(tail), err)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.AppendAudit(ctx, []store.AuditRow{auditRow(253, "get", "default", "N", []byte{1})})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		tail, err := tx.AuditTail(ctx)
		if err != nil || len(tail) != 1 || tail[0].Seq != 253 {
			t.Errorf("tail after a keyed row = %+v, %v", tail, err)
		}
		return nil
	})
}

func amtCert(tenant int64, name string) store.AMTCert {
	return store.AMTCert{TenantID: tenant, Name: name, Chain: []byte("chain-" + name), Subject: "CN=" + name, RootFingerprint: "ab",
		NotAfter: ts, DEKVersion: 1, SealedKey: []byte("sealed-" + name), CreatedAt: ts, CreatedBy: "op", MAC: []byte("mac-" + name)}
}

// testAMTCerts: provisioning certificates, one per (tenant, name), bytes
// kept as given; updates of the seal and of allowed; delete.
func testAMTCerts(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "other")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []store.AMTCert{amtCert(a, "z-cert"), amtCert(a, "a-cert"), amtCert(b, "a-cert")} {
			if err := tx.InsertAMTCert(ctx, c); err != nil {
				return err
			}
		}
		wantErr(t, tx.InsertAMTCert(ctx, amtCert(a, "a-cert")), store.ErrConflict, "InsertAMTCert of a used name")
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.AMTCert(ctx, a, "a-cert")
		if err != nil {
			return err
		}
		want := amtCert(a, "a-cert")
		if got.Name != want.Name || got.TenantID != a || !bytes.Equal(got.Chain, want.Chain) || got.Subject != want.Subject ||
			got.RootFingerprint != "ab" || got.NotAfter != ts || got.DEKVersion != 1 || !bytes.Equal(got.SealedKey, want.SealedKey) ||
			got.Allowed != "" || got.CreatedBy != "op" || got.CreatedAt != ts || !bytes.Equal(got.MAC, want.MAC) {
			t.Errorf("AMTCert = %+v, want %+v", got, want)
		}
		_, err = tx.AMTCert(ctx, a, "nope")
		wantErr(t, err, store.ErrNoRow, "AMTCert of an unknown name")
		cs, err := tx.AMTCerts(ctx, a)
		if err != nil {
			return err
		}
		if len(cs) != 2 || cs[0].Name != "a-cert" || cs[1].Name != "z-cert" {
			t.Errorf("AMTCerts(a) = %v", cs)
		}
		all, err := tx.AMTCerts(ctx, 0)
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].TenantID != a || all[2].TenantID != b || len(all[2].SealedKey) == 0 {
			t.Errorf("AMTCerts(0) = %v", all)
		}
		return nil
	})
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertDEK(ctx, store.DEK{TenantID: a, Version: 2, Wrapped: []byte("w2"), CreatedAt: ts}); err != nil {
			return err
		}
		if err := tx.UpdateAMTCertSeal(ctx, a, "a-cert", 2, []byte("resealed")); err != nil {
			return err
		}
		if err := tx.SetAMTCertAllowed(ctx, a, "z-cert", "role:kiosk", []byte("mac2")); err != nil {
			return err
		}
		wantErr(t, tx.UpdateAMTCertSeal(ctx, a, "nope", 2, []byte("x")), store.ErrNoRow, "UpdateAMTCertSeal of an unknown name")
		wantErr(t, tx.SetAMTCertAllowed(ctx, a, "nope", "", []byte("x")), store.ErrNoRow, "SetAMTCertAllowed of an unknown name")
		ok, err := tx.DeleteAMTCert(ctx, b, "a-cert")
		if err != nil || !ok {
			t.Errorf("DeleteAMTCert = %v, %v", ok, err)
		}
		ok, err = tx.DeleteAMTCert(ctx, b, "a-cert")
		if err != nil || ok {
			t.Errorf("DeleteAMTCert again = %v, %v", ok, err)
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.AMTCert(ctx, a, "a-cert")
		if err != nil {
			return err
		}
		if c.DEKVersion != 2 || string(c.SealedKey) != "resealed" || !bytes.Equal(c.MAC, []byte("mac-a-cert")) {
			t.Errorf("after UpdateAMTCertSeal: %+v", c)
		}
		z, err := tx.AMTCert(ctx, a, "z-cert")
		if err != nil {
			return err
		}
		if z.Allowed != "role:kiosk" || string(z.MAC) != "mac2" || string(z.SealedKey) != "sealed-z-cert" {
			t.Errorf("after SetAMTCertAllowed: %+v", z)
		}
		_, err = tx.AMTCert(ctx, b, "a-cert")
		wantErr(t, err, store.ErrNoRow, "AMTCert after delete")
		cnt, err := tx.Counts(ctx)
		if err != nil {
			return err
		}
		if cnt.AMTCerts != 2 {
			t.Errorf("Counts.AMTCerts = %d, want 2", cnt.AMTCerts)
		}
		return nil
	})
}

func testCounts(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	d := addDevice(t, s, a, "dev_0000000000000001", "kiosk-1", "", "kiosk")
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.InsertSecret(ctx, secret(a, "A", 1, "x")); err != nil {
			return err
		}
		if _, err := tx.InsertDeviceKey(ctx, deviceKey(a, d, "key_0000000000000001", "fp")); err != nil {
			return err
		}
		if _, err := tx.OpenStub(ctx, store.Stub{TenantID: a, Name: "B", RequestedBy: "web", CreatedAt: ts}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, []store.AuditRow{auditRow(1, "init", "", "", []byte{1})})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.Counts(ctx)
		if err != nil {
			return err
		}
		want := store.Counts{Tenants: 1, DEKs: 1, SecretVersions: 1, Devices: 1, DeviceKeys: 1, OpenStubs: 1, Audit: 1}
		if c != want {
			t.Errorf("Counts = %+v, want %+v", c, want)
		}
		return nil
	})
}

// testRollback: an error from fn leaves nothing behind.
func testRollback(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertSecret(ctx, secret(a, "A", 1, "x")); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, []store.AuditRow{auditRow(1, "put", "default", "A", []byte{1})}); err != nil {
			return err
		}
		if _, err := tx.InsertTenant(ctx, store.Tenant{Name: "more", DEKVersion: 1, CreatedAt: ts}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.Counts(ctx)
		if err != nil {
			return err
		}
		if c.SecretVersions != 0 || c.Audit != 0 || c.Tenants != 1 {
			t.Errorf("after a rolled back Update: %+v", c)
		}
		return nil
	})
	// A conflict inside fn, passed up, is not retried forever and rolls
	// back the whole closure.
	calls := 0
	err = s.Update(ctx, func(tx store.Tx) error {
		calls++
		if err := tx.InsertSecret(ctx, secret(a, "B", 1, "x")); err != nil {
			return err
		}
		_, err := tx.InsertTenant(ctx, store.Tenant{Name: "default", DEKVersion: 1, CreatedAt: ts})
		return err
	})
	wantErr(t, err, store.ErrConflict, "conflict inside Update")
	if calls != 1 {
		t.Errorf("a conflict ran fn %d times", calls)
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Secret(ctx, a, "B", 0)
		wantErr(t, err, store.ErrNoRow, "secret of a failed Update")
		return nil
	})
}

func testReadOnlyView(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.View(ctx, func(tx store.Tx) error {
		_, err := tx.InsertTenant(ctx, store.Tenant{Name: "x", DEKVersion: 1, CreatedAt: ts})
		return err
	})
	if err == nil {
		t.Fatal("a write in View succeeded")
	}
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		if ts, err := tx.Tenants(ctx); err != nil || len(ts) != 0 {
			t.Errorf("tenants after a write in View: %v, %v", ts, err)
		}
		return nil
	})
}

// testConcurrentVersions: many goroutines each add versions by reading
// the highest version and inserting the next one, the way the core does:
// every version from 1 to N exists once.
func testConcurrentVersions(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for range each {
				err := s.Update(ctx, func(tx store.Tx) error {
					if err := tx.LockTenant(ctx, a); err != nil {
						return err
					}
					next := 1
					if cur, err := tx.Secret(ctx, a, "CTR", 0); err == nil {
						next = cur.Version + 1
					} else if !errors.Is(err, store.ErrNoRow) {
						return err
					}
					return tx.InsertSecret(ctx, secret(a, "CTR", next, fmt.Sprint(w)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		h, err := tx.SecretHistory(ctx, a, "CTR")
		if err != nil {
			return err
		}
		if len(h) != workers*each {
			t.Errorf("%d versions, want %d", len(h), workers*each)
		}
		for i, x := range h {
			if x.Version != i+1 {
				t.Errorf("version %d at position %d", x.Version, i+1)
				break
			}
		}
		return nil
	})
}

// testConcurrentAudit: many goroutines append to the chain through
// AuditTail, as the core does; the chain has every seq once and each row's
// MAC names its predecessor (a stand-in for the real chain MAC).
func testConcurrentAudit(t *testing.T, s store.Store) {
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			for i := range each {
				err := s.Update(ctx, func(tx store.Tx) error {
					tail, err := tx.AuditTail(ctx)
					if err != nil {
						return err
					}
					var seq int64
					prev := []byte("genesis")
					if len(tail) > 0 {
						last := tail[len(tail)-1]
						seq, prev = last.Seq, last.MAC
					}
					r := auditRow(seq+1, "get", "default", fmt.Sprintf("w%d-%d", w, i), nil)
					r.MAC = fmt.Appendf(nil, "%d<-%s", seq+1, prev)
					return tx.AppendAudit(ctx, []store.AuditRow{r})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		var want int64 = 1
		prev := []byte("genesis")
		return tx.AuditScan(ctx, store.AuditFilter{}, func(r store.AuditRow) error {
			if r.Seq != want || string(r.MAC) != fmt.Sprintf("%d<-%s", r.Seq, prev) {
				t.Fatalf("row %d (want %d) has link %q after %q", r.Seq, want, r.MAC, prev)
			}
			want++
			prev = r.MAC
			return nil
		})
	})
}

// testConcurrentRequests: many goroutines file the same request; one is
// created, every caller gets its ID.
func testConcurrentRequests(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[int64]int{}
	created := 0
	for range 8 {
		wg.Go(func() {
			ctx := context.Background()
			var id int64
			var c bool
			err := s.Update(ctx, func(tx store.Tx) error {
				var err error
				id, c, err = tx.InsertRequest(ctx, store.Request{TenantID: a, Service: "web", Name: "DB", Status: "pending", RequestedBy: "web", RequestedAt: ts, Origin: "read"})
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids[id]++
			if c {
				created++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(ids) != 1 || created != 1 {
		t.Errorf("requests %v, %d created", ids, created)
	}
}

// testIntegrity: a store returns what it was given, byte for byte, so that
// the core's checks (associated data, row MACs, the chain) see exactly
// what was written; and empty and binary values survive.
func testIntegrity(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	bin := []byte{0, 0xff, 0xfe, 0, 1, '\'', '"', '\\'}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		x := secret(a, "BIN", 1, "")
		x.Sealed = bin
		x.Description = "quote ' \" \\ % _ and ünïcödé"
		if err := tx.InsertSecret(ctx, x); err != nil {
			return err
		}
		if err := tx.SetMeta(ctx, store.MetaVaultID, bin); err != nil {
			return err
		}
		r := auditRow(1, "init", "", "", bin)
		r.Detail = x.Description
		return tx.AppendAudit(ctx, []store.AuditRow{r})
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		x, err := tx.Secret(ctx, a, "BIN", 1)
		if err != nil || !bytes.Equal(x.Sealed, bin) || x.Description != "quote ' \" \\ % _ and ünïcödé" {
			t.Errorf("binary secret = %+v, %v", x, err)
		}
		m, err := tx.Meta(ctx)
		if err != nil || !bytes.Equal(m[store.MetaVaultID], bin) {
			t.Errorf("binary meta = %v, %v", m, err)
		}
		tail, err := tx.AuditTail(ctx)
		if err != nil || len(tail) != 1 || !bytes.Equal(tail[0].MAC, bin) || tail[0].Detail != x.Description {
			t.Errorf("binary audit = %+v, %v", tail, err)
		}
		return nil
	})
}

// testManyNames: the reads of a service read of many names in one query
// each (LatestOf, GrantsOf, TouchGrants, AuditScan with Objects) answer
// what the one-name methods answer for each name.
func testManyNames(t *testing.T, s store.Store) {
	a := addTenant(t, s, "default")
	b := addTenant(t, s, "acme")
	// Bytewise order: "B_" < "a" (a collation-aware order puts "a" first).
	names := []string{"a", "B_2", "B_1", "NOPE", "B_1", "C:x/y@z+w-v.u"}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, x := range []store.Secret{secret(a, "B_1", 1, "b1"), secret(a, "B_1", 2, "b1v2"), secret(a, "B_2", 1, "b2"), secret(a, "a", 1, "a1"),
			secret(a, "C:x/y@z+w-v.u", 1, "c1"), secret(a, "OTHER", 1, "o1"), secret(b, "NOPE", 1, "acme")} {
			if err := tx.InsertSecret(ctx, x); err != nil {
				return err
			}
		}
		if _, err := tx.RemoveSecret(ctx, a, "B_2", ts); err != nil {
			return err
		}
		for _, g := range []store.Grant{{TenantID: a, Service: "web", Name: "B_1", Status: "active"}, {TenantID: a, Service: "web", Name: "a", Status: "revoked"},
			{TenantID: a, Service: "api", Name: "B_2", Status: "active"}, {TenantID: b, Service: "web", Name: "NOPE", Status: "active"},
			{TenantID: a, Service: "web", Name: "OTHER", Status: "active"}} {
			g.DecidedAt, g.DecidedBy, g.MAC = ts, "alice", []byte("m-"+g.Name)
			if err := tx.PutGrant(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		got, err := tx.LatestOf(ctx, a, names)
		if err != nil {
			return err
		}
		if keys := secretKeys(got); !slices.Equal(keys, []string{"B_1:2", "B_2:1", "C:x/y@z+w-v.u:1", "a:1"}) {
			t.Errorf("LatestOf = %q", keys)
		}
		for _, x := range got {
			one, err := tx.Secret(ctx, a, x.Name, 0)
			if err != nil || one.ID != x.ID || !bytes.Equal(one.Sealed, x.Sealed) || one.DeletedAt != x.DeletedAt || one.Description != x.Description ||
				one.CreatedAt != x.CreatedAt || one.CreatedBy != x.CreatedBy || one.DEKVersion != x.DEKVersion || one.TenantID != a {
				t.Errorf("LatestOf row %+v, Secret %+v, %v", x, one, err)
			}
		}
		if none, err := tx.LatestOf(ctx, a, nil); err != nil || len(none) != 0 {
			t.Errorf("LatestOf of no names = %v, %v", none, err)
		}
		gs, err := tx.GrantsOf(ctx, a, "web", names)
		if err != nil {
			return err
		}
		if len(gs) != 2 || gs[0].Name != "B_1" || gs[1].Name != "a" || gs[1].Status != "revoked" || string(gs[0].MAC) != "m-B_1" || gs[0].TenantID != a || gs[0].Service != "web" {
			t.Errorf("GrantsOf = %+v", gs)
		}
		if none, err := tx.GrantsOf(ctx, a, "nobody", names); err != nil || len(none) != 0 {
			t.Errorf("GrantsOf of a service with none = %v, %v", none, err)
		}
		return nil
	})
	// Touched once per listing: B_1 twice; a grant that is not there is
	// skipped; other services, names and tenants are left alone.
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		return tx.TouchGrants(ctx, a, "web", names, "2026-07-01T00:00:00.000000000Z")
	})
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, c := range []struct {
			tenant        int64
			service, name string
			count         int
		}{{a, "web", "B_1", 2}, {a, "web", "a", 1}, {a, "api", "B_2", 0}, {b, "web", "NOPE", 0}, {a, "web", "OTHER", 0}} {
			g, err := tx.Grant(ctx, c.tenant, c.service, c.name)
			at := ""
			if c.count > 0 {
				at = "2026-07-01T00:00:00.000000000Z"
			}
			if err != nil || g.AccessCount != c.count || g.LastAccess != at {
				t.Errorf("grant %s/%s after TouchGrants: count %d, last %q, %v (want %d)", c.service, c.name, g.AccessCount, g.LastAccess, err, c.count)
			}
		}
		return nil
	})
	// AuditScan of several objects: the rows of any of them, in order,
	// with the other filters; newest first across the stores' pages.
	var rows []store.AuditRow
	for seq := int64(1); seq <= 300; seq++ {
		action := []string{"put", "get", "access-grant", "rm", "restore"}[seq%5]
		object := []string{"a", "B_1", "B_2", "OTHER", "NOPE", "C:x/y@z+w-v.u", "B_1"}[seq%7]
		tenant := "default"
		if seq%11 == 0 {
			tenant = "acme"
		}
		rows = append(rows, auditRow(seq, action, tenant, object, []byte{byte(seq)}))
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.AppendAudit(ctx, rows) })
	view(t, s, func(ctx context.Context, tx store.Tx) error {
		objs := []string{"B_1", "a", "NOPE"}
		actions := []string{"put", "rm", "access-grant"}
		pick := func(desc bool, or bool, from, to int64, limit int) []int64 {
			var out []int64
			for _, r := range rows {
				if (from > 0 && r.Seq < from) || (to > 0 && r.Seq > to) {
					continue
				}
				if (r.Tenant == "default" && slices.Contains(objs, r.Object) && slices.Contains(actions, r.Action)) || (or && r.Action == "restore") {
					out = append(out, r.Seq)
				}
			}
			if desc {
				slices.Reverse(out)
			}
			if limit > 0 && len(out) > limit {
				out = out[:limit]
			}
			return out
		}
		for _, c := range []struct {
			f    store.AuditFilter
			want []int64
		}{
			{store.AuditFilter{Objects: objs, Tenant: "default", Actions: actions}, pick(false, false, 0, 0, 0)},
			{store.AuditFilter{Objects: objs, Tenant: "default", Actions: actions, Desc: true}, pick(true, false, 0, 0, 0)},
			{store.AuditFilter{Objects: objs[:2], Object: objs[2], Tenant: "default", Actions: actions, Desc: true}, pick(true, false, 0, 0, 0)},
			{store.AuditFilter{Objects: objs, Tenant: "default", Actions: actions, OrActions: []string{"restore"}, Desc: true}, pick(true, true, 0, 0, 0)},
			{store.AuditFilter{Objects: objs, Tenant: "default", Actions: actions, OrActions: []string{"restore"}, Desc: true, Limit: 7, ToSeq: 250}, pick(true, true, 0, 250, 7)},
			{store.AuditFilter{Objects: objs, Tenant: "default", Actions: actions, FromSeq: 40, ToSeq: 90}, pick(false, false, 40, 90, 0)},
		} {
			if got := collect(t, tx, c.f); !slices.Equal(got, c.want) {
				t.Errorf("scan %+v = %v, want %v", c.f, got, c.want)
			}
		}
		// One object in Objects is that object.
		one := collect(t, tx, store.AuditFilter{Objects: []string{"B_1"}, Tenant: "default", Actions: actions, Desc: true})
		if want := collect(t, tx, store.AuditFilter{Object: "B_1", Tenant: "default", Actions: actions, Desc: true}); !slices.Equal(one, want) || len(want) == 0 {
			t.Errorf("Objects [B_1] = %v, Object B_1 = %v", one, want)
		}
		return nil
	})
}
