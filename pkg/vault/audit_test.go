package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// auditVault makes a vault with a few audited operations and returns it
// closed.
func auditVault(t *testing.T) (string, func() *Vault) {
	v, path, k := newVault(t)
	for _, n := range []string{"A", "B", "C"} {
		if _, err := v.Put("default", n, []byte("v-"+n), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Get("default", "A", 0); err != nil {
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
		{"append keyed without key", "INSERT INTO audit SELECT 6, ts, actor, 'get', tenant, 'B', 1, detail, mac FROM audit WHERE seq = 5", 6, 0},
		{"append unkeyed non-unlock", "INSERT INTO audit VALUES (6, '2026-01-01T00:00:00.000000000Z', 'mallory', 'put', 'default', 'A', 1, '', NULL)", 6, 0},
		{"insert unkeyed in the middle", "UPDATE audit SET seq = -seq - 1 WHERE seq >= 3; UPDATE audit SET seq = -seq WHERE seq < 0; INSERT INTO audit VALUES (3, '2026-01-01T00:00:00.000000000Z', 'mallory', 'unlock', '', 'x', 0, '', NULL)", 4, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, open := auditVault(t)
			if res, err := open().VerifyAudit(); err != nil || res.Verified != 5 {
				t.Fatalf("before: %+v %v", res, err)
			}
			sqlExec(t, path, c.sql)
			_, err := open().VerifyAudit()
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
	v, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock(testKey(t, 9)); !errors.Is(err, ErrWrongKey) {
		t.Fatal(err)
	}
	v.Close()
	v = open()
	res, err := v.VerifyAudit()
	if err != nil || res.Verified != 5 || res.Unverified != 1 {
		t.Fatalf("trailing unkeyed: %+v %v", res, err)
	}
	if _, err := v.Get("default", "B", 0); err != nil {
		t.Fatal(err)
	}
	res, err = v.VerifyAudit()
	if err != nil || res.Verified != 7 || res.Unverified != 0 {
		t.Fatalf("covered: %+v %v", res, err)
	}
	// Now the failed unlock is covered: editing it is tampering.
	v.Close()
	sqlExec(t, path, "UPDATE audit SET detail = 'nothing' WHERE action = 'unlock'")
	if _, err := open().VerifyAudit(); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("edited covered unkeyed row: %v", err)
	}
}

// TestMigrateFromOlderSchema creates a vault at schema 1 and opens it with
// the current migrations.
func TestMigrateFromOlderSchema(t *testing.T) {
	_, path, k := newVault(t)
	sqlExec(t, path, dropNewerThanSchema1(t, path)+"PRAGMA user_version = 1")
	v := reopen(t, path, k)
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if v.SchemaVersion() != len(ms) || len(ms) < 2 {
		t.Fatalf("schema %d, want %d", v.SchemaVersion(), len(ms))
	}
	var n int
	if err := v.db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'audit_action_ts'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("index: %d %v", n, err)
	}
	if _, err := v.Put("default", "X", []byte("x"), ""); err != nil {
		t.Fatal(err)
	}
	if res, err := v.VerifyAudit(); err != nil || res.Unverified != 0 {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestMigrateSynthetic(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER) STRICT;")},
		"migrations/0002_b.sql": {Data: []byte("ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT 'd';")},
		"migrations/0003_c.sql": {Data: []byte("CREATE TABLE c (broken")},
	}
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := openDB(path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrate(ctx, db, fsys, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO a (x) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// 0002 applies, 0003 fails: the whole batch rolls back.
	if err := migrate(ctx, db, fsys, 0); err == nil {
		t.Fatal("broken migration applied")
	}
	if n, _ := userVersion(ctx, db); n != 1 {
		t.Fatalf("version %d after failed batch, want 1", n)
	}
	delete(fsys, "migrations/0003_c.sql")
	if err := migrate(ctx, db, fsys, 0); err != nil {
		t.Fatal(err)
	}
	var y string
	if err := db.QueryRow("SELECT y FROM a").Scan(&y); err != nil || y != "d" {
		t.Fatalf("migrated row: %q %v", y, err)
	}
	// A vault newer than this code is refused.
	if _, err := db.Exec("PRAGMA user_version = 9"); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, fsys, 0); !errors.Is(err, ErrTooNew) {
		t.Fatalf("too new: %v", err)
	}
	// Gaps in numbering are refused.
	if _, err := loadMigrations(fstest.MapFS{"migrations/0002_x.sql": {}}); err == nil {
		t.Fatal("gap accepted")
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
	return b.String()
}
