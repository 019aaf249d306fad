package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

func TestMigrateSynthetic(t *testing.T) {
	ctx := context.Background()
	fsys := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER) STRICT;")},
		"migrations/0002_b.sql": {Data: []byte("ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT 'd';")},
		"migrations/0003_c.sql": {Data: []byte("CREATE TABLE c (broken")},
	}
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := openDB(path, true, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Migrate(ctx, db, fsys, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO a (x) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// 0002 applies, 0003 fails: the whole batch rolls back.
	if err := Migrate(ctx, db, fsys, 0); err == nil {
		t.Fatal("broken migration applied")
	}
	if n, _ := userVersion(ctx, db); n != 1 {
		t.Fatalf("version %d after failed batch, want 1", n)
	}
	delete(fsys, "migrations/0003_c.sql")
	if err := Migrate(ctx, db, fsys, 0); err != nil {
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
	if err := Migrate(ctx, db, fsys, 0); !errors.Is(err, vaulterr.ErrTooNew) {
		t.Fatalf("too new: %v", err)
	}
	// Gaps in numbering are refused.
	if _, err := loadMigrations(fstest.MapFS{"migrations/0002_x.sql": {}}); err == nil {
		t.Fatal("gap accepted")
	}
}
