// Package sqlite is the vault store on one SQLite file (modernc.org/sqlite,
// pure Go): docs/vault.md, "File" and "Schema". It holds SQL and nothing
// else: rows in, rows out (pkg/vault/store). It is the only package that
// imports the SQLite driver.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// ApplicationID is written to the SQLite header (PRAGMA application_id) of
// every vault: "KSMV". A SQLite file without it is not a vault.
const ApplicationID = 0x4b534d56

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is a vault in one SQLite file. It is safe for concurrent use:
// writes go through one connection (BEGIN IMMEDIATE: one writer at a time,
// across processes too), reads through a small pool of read-only
// connections that see WAL snapshots.
type Store struct {
	path   string
	name   string // what Describe says: path, or for a pending vault the path it is published at
	w, r   *sql.DB
	wc, rc *stmtCache // their prepared statements
	schema int
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.Checker   = (*Store)(nil)
	_ store.Compacter = (*Store)(nil)
)

// dsn is the connection string: WAL is persistent and set by Create; every
// connection gets a busy timeout, foreign keys, secure deletion (so removed
// rows and rewrapped keys are zeroed, not left in free pages). Writers use
// IMMEDIATE transactions, so concurrent writers queue instead of failing
// with "database is locked"; readers are query-only.
func dsn(path string, create, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "secure_delete(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Set("_txlock", "deferred")
	} else {
		q.Set("_txlock", "immediate")
	}
	switch {
	case create:
		q.Set("mode", "rwc")
	default:
		q.Set("mode", "rw")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// OpenDB opens a database/sql handle on path with the vault's connection
// settings and one connection: for tests and tools that look below the
// store (tampering tests, migrations). Nothing in keysmith writes through
// it.
func OpenDB(path string) (*sql.DB, error) { return openDB(path, false, false, 1) }

func openDB(path string, create, readOnly bool, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, create, readOnly))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// Create makes a new, empty vault file at path (schema, no rows): 0600,
// its directory 0700 if missing. Anything at path is ErrExists. On failure
// nothing is left behind.
func Create(ctx context.Context, path string) (s *Store, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%q: %w", path, vaulterr.ErrExists)
	} else if err != nil {
		return nil, err
	}
	f.Close()
	defer func() {
		if err != nil {
			if s != nil {
				s.Close()
			}
			Remove(path)
			s = nil
		}
	}()
	w, err := openDB(path, true, false, 1)
	if err != nil {
		return nil, err
	}
	s = &Store{path: path, w: w}
	if _, err := w.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return s, dbErr(err)
	}
	if _, err := w.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id=%d", ApplicationID)); err != nil {
		return s, dbErr(err)
	}
	if err := Migrate(ctx, w, migrationFS, 0); err != nil {
		return s, err
	}
	if err := s.openReaders(ctx); err != nil {
		return s, err
	}
	return s, nil
}

// Remove deletes a vault file with its WAL and shared-memory files.
func Remove(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// Open opens an existing vault file, applying pending migrations in one
// transaction. A missing file is ErrNoVault; a file that is not SQLite or
// lacks the keysmith application ID is ErrNotVault; a newer schema is
// ErrTooNew.
func Open(ctx context.Context, path string) (*Store, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%q: %w", path, vaulterr.ErrNoVault)
	} else if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%q: %w: not a regular file", path, vaulterr.ErrNotVault)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%q: %w: the file is empty", path, vaulterr.ErrNotVault)
	}
	if err := checkWritable(path, st); err != nil {
		return nil, err
	}
	w, err := openDB(path, false, false, 1)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, w: w}
	if err := s.load(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return s, nil
}

func (s *Store) load(ctx context.Context) error {
	var appID int64
	if err := s.w.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return dbErr(err)
	}
	if appID != ApplicationID {
		return fmt.Errorf("%w: SQLite file without the keysmith application ID", vaulterr.ErrNotVault)
	}
	// No integrity check of the whole file here: it reads every page and
	// cost a third of a "vault get" on 10,000 secrets. Damage shows up as
	// SQLITE_CORRUPT on the pages a command reads (dbErr maps it to
	// ErrCorrupt); CheckIntegrity checks the whole file.
	if err := Migrate(ctx, s.w, migrationFS, 0); err != nil {
		return err
	}
	return s.openReaders(ctx)
}

// cache returns db's statement cache (db is s.w or s.r).
func (s *Store) cache(db *sql.DB) *stmtCache {
	if db == s.r {
		return s.rc
	}
	return s.wc
}

func (s *Store) openReaders(ctx context.Context) error {
	var err error
	if s.schema, err = userVersion(ctx, s.w); err != nil {
		return err
	}
	if s.r, err = openDB(s.path, false, true, 4); err != nil {
		return err
	}
	s.wc, s.rc = newStmtCache(s.w), newStmtCache(s.r)
	return nil
}

// Path returns the vault file.
func (s *Store) Path() string { return s.path }

// Describe returns the file's path; for a vault CreatePending made, the
// path Publish will move it to (what messages and the init audit row name).
func (s *Store) Describe() string {
	if s.name != "" {
		return s.name
	}
	return s.path
}

// SchemaVersion returns PRAGMA user_version.
func (s *Store) SchemaVersion() int { return s.schema }

// LatestSchema is the schema version this package creates.
func LatestSchema() int { return latestVersion(migrationFS) }

// Close closes the connections, checkpointing the WAL when it can.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	var err error
	s.rc.close()
	s.wc.close()
	s.rc, s.wc = nil, nil
	if s.r != nil {
		err = s.r.Close()
		s.r = nil
	}
	if s.w != nil {
		err = errors.Join(err, s.w.Close())
		s.w = nil
	}
	return err
}

// CheckIntegrity runs SQLite's quick_check over the whole file: a truncated
// or damaged file fails with ErrCorrupt, naming the file and the first
// problem SQLite found, on one line.
func (s *Store) CheckIntegrity(ctx context.Context) error {
	var res string
	if err := s.w.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return fmt.Errorf("%q: %w", s.path, dbErr(err))
	}
	if res != "ok" {
		return fmt.Errorf("%q: %w: %s", s.path, vaulterr.ErrCorrupt, checkSummary(res))
	}
	return nil
}

// checkSummary turns a quick_check report, which is several lines ("*** in
// database main ***", then one line per problem), into its first problem
// on one line of at most 100 bytes.
func checkSummary(res string) string {
	for line := range strings.Lines(res) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "***") {
			continue
		}
		if len(line) > 100 {
			line = strings.ToValidUTF8(line[:100], "") + "..."
		}
		return line
	}
	return "quick_check failed"
}

// Checkpoint copies the WAL into the database and truncates it, so pages
// holding data re-sealed or re-wrapped a moment ago are overwritten rather
// than left in the WAL. Best effort: another process may hold a read lock.
func (s *Store) Checkpoint(ctx context.Context) {
	_, _ = s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// Compact checkpoints the WAL and runs VACUUM.
func (s *Store) Compact(ctx context.Context) error {
	s.Checkpoint(ctx)
	_, err := s.w.ExecContext(ctx, "VACUUM")
	return dbErr(err)
}

// maxAttempts bounds Update's retries of SQLITE_BUSY (another process held
// the write lock past the busy timeout).
const maxAttempts = 3

// Update runs fn in one IMMEDIATE transaction: all of it happens or none.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.run(ctx, s.w, false, fn)
		if err == nil || !retryable(err) {
			return err
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			return fmt.Errorf("%w: %v", vaulterr.ErrUnavailable, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}

// View runs fn in a read-only transaction over a WAL snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, s.r, true, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, ro bool, fn func(store.Tx) error) error {
	sc := s.cache(db)
	sc.prepareWanted(ctx)
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	t := &tx{tx: sqlTx, ro: ro, sc: sc}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return dbErr(err)
	}
	if ro {
		return dbErr(sqlTx.Rollback())
	}
	return dbErr(sqlTx.Commit())
}

func retryable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	return false
}

// dbErr maps SQLite's codes to sentinels: "not a database" and "corrupt"
// to vaulterr's, a unique or primary key violation to store.ErrConflict,
// a read-only file to vaulterr.ErrReadOnly. Errors already mapped pass.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %v", vaulterr.ErrNotVault, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %v", vaulterr.ErrCorrupt, err)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %v", vaulterr.ErrReadOnly, err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", store.ErrNoRow)
	}
	return err
}

// Migrations: files migrations/NNNN_name.sql, applied in order, each with
// PRAGMA user_version = NNNN, all pending ones in one transaction.

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := filepath.Base(n)
		num, _, ok := strings.Cut(base, "_")
		ver, err := strconv.Atoi(num)
		if !ok || err != nil || ver <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_name.sql", base)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{ver, base, string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected number %d", m.name, i+1)
		}
	}
	return out, nil
}

func latestVersion(fsys fs.FS) int {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return 0
	}
	return len(ms)
}

func userVersion(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&n)
	return n, dbErr(err)
}

// Migrations returns the embedded migrations, for tests that build a vault
// at an older schema.
func Migrations() fs.FS { return migrationFS }

// Migrate brings db to the newest schema in fsys (or to version upTo when
// upTo > 0) in one IMMEDIATE transaction. Another process migrating at the
// same time is waited for; the version is re-read inside the transaction.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, upTo int) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	if upTo == 0 {
		upTo = len(ms)
	}
	cur, err := userVersion(ctx, db)
	if err != nil {
		return err
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: schema version %d, this keysmith knows up to %d", vaulterr.ErrTooNew, cur, len(ms))
	}
	if cur >= upTo {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return dbErr(err)
	}
	for _, m := range ms[cur:upTo] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("applying migration %s: %w", m.name, dbErr(err))
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			return dbErr(err)
		}
	}
	return dbErr(tx.Commit())
}
