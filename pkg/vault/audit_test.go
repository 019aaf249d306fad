package vault

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// auditVault makes a vault with a few audited operations and returns it
// closed.
func auditVault(t *testing.T) (string, func() *Vault) {
	v, path, k := newVault(t)
	for _, n := range []string{"A", "B", "C"} {
		if _, err := v.Put(ctx, "default", n, []byte("v-"+n), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Get(ctx, "default", "A", 0); err != nil {
		t.Fatal(err)
	}
	v.Close()
	return path, func() *Vault { return reopen(t, path, k) }
}

func TestAuditTamper(t *testing.T) {
	// rows: 1 init, 2-4 put, 5 get
	for _, c := range []struct {
		name    string
		sql     string
		badRow  int64
		unkeyed int
	}{
		{"edit", "UPDATE audit SET object = 'Z' WHERE seq = 3", 3, 0},
		{"edit success", "UPDATE audit SET success = 0 WHERE seq = 5", 5, 0},
		{"delete middle", "DELETE FROM audit WHERE seq = 2", 3, 0},
		{"delete first", "DELETE FROM audit WHERE seq = 1", 2, 0},
		{"reorder", "UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 100", 2, 0},
		{"renumber after delete", "DELETE FROM audit WHERE seq = 3; UPDATE audit SET seq = seq - 1 WHERE seq > 3", 3, 0},
		{"append keyed without key", "INSERT INTO audit SELECT 6, ts, actor, 'get', tenant, 'B', 1, detail, mac, ip_address, user_agent FROM audit WHERE seq = 5", 6, 0},
		{"append unkeyed non-unlock", "INSERT INTO audit (seq, ts, actor, action, tenant, object, success, detail, mac) VALUES (6, '2026-01-01T00:00:00.000000000Z', 'mallory', 'put', 'default', 'A', 1, '', NULL)", 6, 0},
		{"insert unkeyed in the middle", "UPDATE audit SET seq = -seq - 1 WHERE seq >= 3; UPDATE audit SET seq = -seq WHERE seq < 0; INSERT INTO audit (seq, ts, actor, action, tenant, object, success, detail, mac) VALUES (3, '2026-01-01T00:00:00.000000000Z', 'mallory', 'unlock', '', 'x', 0, '', NULL)", 4, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, open := auditVault(t)
			if res, err := open().VerifyAudit(ctx); err != nil || res.Verified != 5 {
				t.Fatalf("before: %+v %v", res, err)
			}
			sqlExec(t, path, c.sql)
			_, err := open().VerifyAudit(ctx)
			var ae *AuditError
			if !errors.As(err, &ae) || !errors.Is(err, ErrAuditTampered) {
				t.Fatalf("got %v, want an AuditError", err)
			}
			if ae.Seq != c.badRow {
				t.Errorf("first bad row %d, want %d (%v)", ae.Seq, c.badRow, err)
			}
		})
	}
}

func TestAuditFailedUnlocks(t *testing.T) {
	path, open := auditVault(t)
	v, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock(ctx, testKey(t, 9)); !errors.Is(err, ErrWrongKey) {
		t.Fatal(err)
	}
	v.Close()
	v = open()
	res, err := v.VerifyAudit(ctx)
	if err != nil || res.Verified != 5 || res.Unverified != 1 {
		t.Fatalf("trailing unkeyed: %+v %v", res, err)
	}
	if _, err := v.Get(ctx, "default", "B", 0); err != nil {
		t.Fatal(err)
	}
	res, err = v.VerifyAudit(ctx)
	if err != nil || res.Verified != 7 || res.Unverified != 0 {
		t.Fatalf("covered: %+v %v", res, err)
	}
	// Now the failed unlock is covered: editing it is tampering.
	v.Close()
	sqlExec(t, path, "UPDATE audit SET detail = 'nothing' WHERE action = 'unlock'")
	if _, err := open().VerifyAudit(ctx); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("edited covered unkeyed row: %v", err)
	}
}

// TestMigrateFromOlderSchema creates a vault at schema 1 and opens it with
// the current migrations.
func TestMigrateFromOlderSchema(t *testing.T) {
	_, path, k := newVault(t)
	sqlExec(t, path, dropNewerThanSchema1(t, path)+"PRAGMA user_version = 1")
	v := reopen(t, path, k)
	if v.SchemaVersion() != sqlite.LatestSchema() || sqlite.LatestSchema() < 2 {
		t.Fatalf("schema %d, want %d", v.SchemaVersion(), sqlite.LatestSchema())
	}
	var n int
	if err := rawDB(t, v).QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'audit_action_ts'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("index: %d %v", n, err)
	}
	if _, err := v.Put(ctx, "default", "X", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	if res, err := v.VerifyAudit(ctx); err != nil || res.Unverified != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

// dropNewerThanSchema1 returns SQL that drops what migrations after 0001
// created: every other table (newest first) and every explicit index on the
// schema-1 tables.
func dropNewerThanSchema1(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' AND (
		(type = 'table' AND name NOT IN ('meta', 'tenants', 'deks', 'secrets', 'audit')) OR
		(type = 'index' AND sql IS NOT NULL AND tbl_name IN ('meta', 'tenants', 'deks', 'secrets', 'audit')))
		ORDER BY rowid DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name string
		if err := rows.Scan(&typ, &name); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "DROP %s %q; ", strings.ToUpper(typ), name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// Columns that later migrations added to the schema-1 tables.
	b.WriteString("ALTER TABLE audit DROP COLUMN ip_address; ALTER TABLE audit DROP COLUMN user_agent; ")
	return b.String()
}
