package storecopy

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

const ts = "2026-01-02T03:04:05.000000000Z"

func newSQLite(t *testing.T) store.Store {
	s, err := sqlite.Create(context.Background(), filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgres(t *testing.T) store.Store {
	s, err := postgres.Create(context.Background(), pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill writes one or more rows of every kind, with IDs that are not 1, 2,
// 3 (a copy must keep them, not renumber).
func fill(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		for k, v := range map[string]string{store.MetaFormat: "keysmith-vault/v1", store.MetaVaultID: "\x00\x01vault", store.MetaEnv: "dev"} {
			if err := tx.SetMeta(ctx, k, []byte(v)); err != nil {
				return err
			}
		}
		for _, tn := range []store.Tenant{{ID: 3, Name: "default", DEKVersion: 2, CreatedAt: ts}, {ID: 7, Name: "team", DEKVersion: 1, CreatedAt: ts}} {
			if _, err := tx.InsertTenant(ctx, tn); err != nil {
				return err
			}
		}
		for _, d := range []store.DEK{{TenantID: 3, Version: 1, Wrapped: []byte("w31"), CreatedAt: ts}, {TenantID: 3, Version: 2, Wrapped: []byte("w32"), CreatedAt: ts}, {TenantID: 7, Version: 1, Wrapped: []byte("w71"), CreatedAt: ts}} {
			if err := tx.InsertDEK(ctx, d); err != nil {
				return err
			}
		}
		for i, x := range []store.Secret{
			{TenantID: 3, Name: "DB_URL", Version: 1, DEKVersion: 1, Sealed: []byte{0, 1, 2}, CreatedAt: ts, CreatedBy: "alice"},
			{TenantID: 3, Name: "DB_URL", Version: 2, DEKVersion: 2, Sealed: []byte{3}, Description: "db", CreatedAt: ts, CreatedBy: "bob", DeletedAt: ts},
			{TenantID: 7, Name: "API_KEY", Version: 1, DEKVersion: 1, Sealed: []byte("x"), CreatedAt: ts, CreatedBy: "carol"},
		} {
			if err := tx.InsertSecret(ctx, x); err != nil {
				t.Fatalf("secret %d: %v", i, err)
			}
		}
		if _, err := tx.InsertDevice(ctx, store.Device{Ref: 5, TenantID: 3, ID: "dev_0123456789abcdef", Name: "build-01", UUID: "", Role: "releaser", CreatedAt: ts, CreatedBy: "op", MAC: []byte("dmac")}); err != nil {
			return err
		}
		if _, err := tx.InsertDeviceKey(ctx, store.DeviceKey{ID: 9, TenantID: 3, DeviceRef: 5, KeyID: "key_1", SPKI: []byte("spki"), Fingerprint: "ab", Role: "releaser",
			Origin: "provisioned", Status: "revoked", CreatedAt: ts, CreatedBy: "op", RevokedAt: ts, MAC: []byte("kmac")}); err != nil {
			return err
		}
		if err := tx.InsertDeviceSecret(ctx, store.DeviceSecret{TenantID: 3, DeviceRef: 5, Name: "AMT_PASSWORD", Version: 1, DEKVersion: 2, Sealed: []byte("s"), Source: "generated", CreatedAt: ts, CreatedBy: "op"}); err != nil {
			return err
		}
		if err := tx.InsertReport(ctx, store.Report{ID: 4, TenantID: 3, RequestID: "req-1", DeviceRef: 5, DeviceUUID: "u", Digest: []byte("dg"), Secrets: 1, AppliedAt: ts, AppliedBy: "op"}); err != nil {
			return err
		}
		if err := tx.InsertToken(ctx, store.Token{ID: "tok1", Service: "orders", Hash: []byte("h"), Status: "approved", CreatedAt: ts, CreatedBy: "op", DecidedAt: ts, DecidedBy: "op", LastUsed: ts, UseCount: 3, MAC: []byte("tm")}); err != nil {
			return err
		}
		if err := tx.PutGrant(ctx, store.Grant{TenantID: 3, Service: "orders", Name: "DB_URL", Status: "active", DecidedAt: ts, DecidedBy: "op", AccessCount: 2, LastAccess: ts, MAC: []byte("gm")}); err != nil {
			return err
		}
		if _, _, err := tx.InsertRequest(ctx, store.Request{ID: 6, TenantID: 3, Service: "orders", Name: "PAY", Status: "denied", RequestedBy: "tok1", RequestedAt: ts, DecidedAt: ts, DecidedBy: "op", MAC: []byte("rm")}); err != nil {
			return err
		}
		if _, err := tx.OpenStub(ctx, store.Stub{TenantID: 3, Name: "PAY", RequestedBy: "orders", CreatedAt: ts}); err != nil {
			return err
		}
		if err := tx.InsertAMTCert(ctx, store.AMTCert{TenantID: 7, Name: "intel-prov", Chain: []byte("der"), Subject: "CN=prov", RootFingerprint: "cd",
			NotAfter: ts, DEKVersion: 1, SealedKey: []byte("sk"), Allowed: "role:kiosk", CreatedAt: ts, CreatedBy: "op", MAC: []byte("am")}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, []store.AuditRow{
			{Seq: 1, TS: ts, Actor: "a", Action: "init", Object: "v", Success: true, MAC: []byte("m1")},
			{Seq: 2, TS: ts, Actor: "b", Action: "unlock", Tenant: "default", Success: false},
			{Seq: 3, TS: ts, Actor: "c", Action: "get", Tenant: "default", Object: "DB_URL", Success: true, IPAddress: "127.0.0.1", UserAgent: "ua", MAC: []byte("m3")},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// normal drops what a copy need not keep: secret and device secret row IDs.
func normal(s *Snapshot) *Snapshot {
	c := *s
	c.Secrets = append([]store.Secret(nil), s.Secrets...)
	for i := range c.Secrets {
		c.Secrets[i].ID = 0
	}
	c.DeviceSecrets = append([]store.DeviceSecret(nil), s.DeviceSecrets...)
	for i := range c.DeviceSecrets {
		c.DeviceSecrets[i].ID = 0
	}
	return &c
}

// SQLite → PostgreSQL → SQLite keeps every row, byte for byte and ID for ID.
func TestCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, b, c := newSQLite(t), newPostgres(t), newSQLite(t)
	fill(t, a)
	want, err := Read(ctx, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Secrets) != 3 || len(want.Audit) != 3 || len(want.Stubs) != 1 {
		t.Fatalf("source snapshot %+v", want)
	}
	var calls int
	if _, err := Copy(ctx, a, b, func(string, int, int) { calls++ }, nil); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	if _, err := Copy(ctx, b, c, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, s := range []store.Store{b, c} {
		got, err := Read(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normal(got), normal(want)) {
			t.Errorf("%s differs from the source:\n got %+v\nwant %+v", s.Describe(), normal(got), normal(want))
		}
	}
	// IDs assigned later are past the copied ones.
	err = b.Update(ctx, func(tx store.Tx) error {
		id, err := tx.InsertTenant(ctx, store.Tenant{Name: "later", DEKVersion: 1, CreatedAt: ts})
		if err == nil && id <= 7 {
			t.Errorf("new tenant ID %d after a copied 7", id)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCopyRefusesNonEmpty(t *testing.T) {
	ctx := context.Background()
	for _, dst := range []store.Store{newSQLite(t), newPostgres(t)} {
		src := newSQLite(t)
		fill(t, src)
		err := dst.Update(ctx, func(tx store.Tx) error { return tx.SetMeta(ctx, store.MetaEnv, []byte("dev")) })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Copy(ctx, src, dst, nil, nil); !errors.Is(err, ErrNotEmpty) {
			t.Errorf("%s: copy into a non-empty store: %v", dst.Describe(), err)
		}
	}
}

// TestWriteCheckedRollsBack: the check sees the written rows in the
// write's own transaction (also through View), can write there, and its
// error leaves the destination empty; without an error everything commits,
// the check's own row included.
func TestWriteCheckedRollsBack(t *testing.T) {
	ctx := context.Background()
	for _, dst := range []store.Store{newSQLite(t), newPostgres(t)} {
		src := newSQLite(t)
		fill(t, src)
		snap, err := Read(ctx, src, nil)
		if err != nil {
			t.Fatal(err)
		}
		refused := errors.New("refused")
		var seen int
		check := func(ctx context.Context, st store.Store) error {
			if st.Describe() != dst.Describe() {
				t.Errorf("check's store is %q, want %q", st.Describe(), dst.Describe())
			}
			err := st.View(ctx, func(tx store.Tx) error {
				c, err := tx.Counts(ctx)
				seen = c.SecretVersions
				return err
			})
			if err != nil {
				return err
			}
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.SetMeta(ctx, "checked", []byte("yes")) }); err != nil {
				return err
			}
			return refused
		}
		if err := WriteChecked(ctx, dst, snap, nil, check); !errors.Is(err, refused) {
			t.Fatalf("%s: WriteChecked: %v, want the check's error", dst.Describe(), err)
		}
		if seen != len(snap.Secrets) {
			t.Errorf("%s: the check saw %d secret versions, want %d", dst.Describe(), seen, len(snap.Secrets))
		}
		if err := CheckEmpty(ctx, dst); err != nil {
			t.Errorf("%s: after a failed check: %v", dst.Describe(), err)
		}
		check = func(ctx context.Context, st store.Store) error {
			return st.Update(ctx, func(tx store.Tx) error { return tx.SetMeta(ctx, "checked", []byte("yes")) })
		}
		if err := WriteChecked(ctx, dst, snap, nil, check); err != nil {
			t.Fatal(err)
		}
		got, err := Read(ctx, dst, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Secrets) != len(snap.Secrets) || string(got.Meta["checked"]) != "yes" {
			t.Errorf("%s: after a passing check: %d secret versions, meta %q", dst.Describe(), len(got.Secrets), got.Meta["checked"])
		}
	}
}
