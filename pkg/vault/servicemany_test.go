package vault

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// testStore is a store kind for tests that need to open the same vault
// again (a fresh Vault: no verified-row cache) and to write below it.
type testStore struct {
	kind  string
	where string // file path or URL
}

func newTestStore(t *testing.T, kind string) (testStore, store.Store) {
	t.Helper()
	if kind == "sqlite" {
		path := filepath.Join(t.TempDir(), "vault.db")
		st, err := sqlite.Create(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		return testStore{kind, path}, st
	}
	u := pgtest.NewSchema(t)
	st, err := postgres.Create(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	return testStore{kind, u}, st
}

// open opens the vault again, unlocked with the key of setupServiceVault.
func (ts testStore) open(t *testing.T) *Vault {
	t.Helper()
	var st store.Store
	var err error
	if ts.kind == "sqlite" {
		st, err = sqlite.Open(ctx, ts.where)
	} else {
		st, err = postgres.Open(ctx, ts.where)
	}
	if err != nil {
		t.Fatal(err)
	}
	return openUnlocked(t, st, testKey(t, 1))
}

// exec runs SQL below the store, as someone with write access to it.
func (ts testStore) exec(t *testing.T, q string) {
	t.Helper()
	if ts.kind == "sqlite" {
		sqlExec(t, ts.where, q)
		return
	}
	c, err := pgx.Connect(ctx, ts.where)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestServiceGetManyAsOne (issue 12): a read of many names batches its
// lookups, and each name is still decided exactly as a read of it alone:
// with one name tampered with (a grant row with a bad MAC, a grant row
// put back after its revocation, a secret put back after its purge, the
// chain cut before the name's grant), the read of all names is refused
// with the error of the read of that name alone, the other names read
// alone get what they got before, and a read of the others together
// reports each one's status as its read alone does. On SQLite and
// PostgreSQL.
func TestServiceGetManyAsOne(t *testing.T) {
	tamper := []struct {
		name string
		do   func(t *testing.T, ts testStore, v *Vault)
	}{
		{"grant MAC", func(t *testing.T, ts testStore, v *Vault) {
			// S1's grant MAC on S3's row: a genuine MAC, of another row.
			ts.exec(t, "UPDATE grants SET mac = (SELECT g.mac FROM grants g WHERE g.name = 'S1') WHERE name = 'S3'")
		}},
		{"grant put back", func(t *testing.T, ts testStore, v *Vault) {
			var old store.Grant
			if err := v.st.View(ctx, func(tx store.Tx) (err error) { old, err = tx.Grant(ctx, 1, "bench", "S3"); return err }); err != nil {
				t.Fatal(err)
			}
			if err := v.RevokeAccess(ctx, "default", "bench", "S3"); err != nil {
				t.Fatal(err)
			}
			if err := v.st.Update(ctx, func(tx store.Tx) error { return tx.PutGrant(ctx, old) }); err != nil {
				t.Fatal(err)
			}
		}},
		{"secret put back", func(t *testing.T, ts testStore, v *Vault) {
			var old store.Secret
			if err := v.st.View(ctx, func(tx store.Tx) (err error) { old, err = tx.Secret(ctx, 1, "S3", 0); return err }); err != nil {
				t.Fatal(err)
			}
			if _, err := v.Remove(ctx, "default", "S3", true); err != nil {
				t.Fatal(err)
			}
			if err := v.st.Update(ctx, func(tx store.Tx) error { return tx.InsertSecret(ctx, old) }); err != nil {
				t.Fatal(err)
			}
		}},
		{"chain cut", func(t *testing.T, ts testStore, v *Vault) {
			// The row before S3's grant: the grant's row no longer verifies.
			ts.exec(t, "DELETE FROM audit WHERE seq = (SELECT max(seq) - 1 FROM audit WHERE object = 'S3' AND action = 'access-grant')")
		}},
	}
	names := []string{"S1", "S2", "S3", "S4", "S5", "S6"}
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, tc := range tamper {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				ts, st := newTestStore(t, kind)
				sv := setupServiceVault(t, st, 4)
				tok := sv.tok
				// S5 exists without a grant (pending); S6 is missing.
				if _, err := sv.Put(ctx, "default", "S5", []byte("five"), ""); err != nil {
					t.Fatal(err)
				}
				if _, err := sv.ServiceGetMany(ctx, tok, "default", names); !errors.Is(err, ErrAccessPending) {
					t.Fatalf("before: %v", err)
				}
				alone := func(v *Vault) []string {
					var out []string
					for _, n := range names {
						s, err := v.ServiceGet(ctx, tok, "default", n, 0)
						if err != nil {
							out = append(out, n+": "+err.Error())
						} else {
							out = append(out, n+": "+string(s.Value))
						}
					}
					return out
				}
				before := alone(ts.open(t))
				tc.do(t, ts, sv.Vault)

				// Read alone, S3 is refused as tampered; the others as before.
				after := alone(ts.open(t))
				_, want := ts.open(t).ServiceGet(ctx, tok, "default", "S3", 0)
				if !errors.Is(want, ErrTampered) || after[2] != "S3: "+want.Error() {
					t.Fatalf("S3 alone after tampering: %v", want)
				}
				for i := range names {
					if i != 2 && after[i] != before[i] {
						t.Errorf("%s alone: %q, before tampering %q", names[i], after[i], before[i])
					}
				}
				// All together: refused with S3's error, no value.
				got, err := ts.open(t).ServiceGetMany(ctx, tok, "default", names)
				if got != nil || err == nil || err.Error() != want.Error() || !errors.Is(err, ErrTampered) {
					t.Errorf("all names: %d values, %v; want %v", len(got), err, want)
				}
				// On the Vault that read before, the same as its read of S3
				// alone (its verified-row cache does not see a chain cut
				// before rows it verified: vault verify does).
				if _, long := sv.ServiceGet(ctx, tok, "default", "S3", 0); long != nil {
					if _, err := sv.ServiceGetMany(ctx, tok, "default", names); err == nil || err.Error() != long.Error() {
						t.Errorf("all names, long-lived Vault: %v; want %v", err, long)
					}
				} else if tc.name != "chain cut" {
					t.Errorf("S3 alone, long-lived Vault: read")
				}
				// The others together: each name's status as alone.
				others := slices.Delete(slices.Clone(names), 2, 3)
				_, err = ts.open(t).ServiceGetMany(ctx, tok, "default", others)
				var ae *AccessError
				if !errors.As(err, &ae) {
					t.Fatalf("the others: %v", err)
				}
				var probs []string
				for _, p := range ae.Problems {
					probs = append(probs, p.Name+": "+p.String())
				}
				var wantProbs []string
				v := ts.open(t)
				for _, n := range others {
					_, err := v.ServiceGet(ctx, tok, "default", n, 0)
					var one *AccessError
					if errors.As(err, &one) {
						wantProbs = append(wantProbs, n+": "+one.Problems[0].String())
					} else if err != nil {
						t.Fatalf("%s alone: %v", n, err)
					}
				}
				if !slices.Equal(probs, wantProbs) || len(probs) != 2 {
					t.Errorf("the others' problems: %q, alone %q", probs, wantProbs)
				}
				// The granted ones together: their values.
				vals, err := ts.open(t).ServiceGetMany(ctx, tok, "default", []string{"S4", "S1", "S2", "S1"})
				if err != nil || len(vals) != 4 || string(vals[0].Value) != "value of S4" || string(vals[3].Value) != "value of S1" {
					t.Errorf("granted names: %v, %v", vals, err)
				}
			})
		}
	}
}
