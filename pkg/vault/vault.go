// Package vault is keysmith's local secrets store: one SQLite file
// (modernc.org/sqlite, pure Go) holding tenants, versioned secrets sealed
// with envelope encryption under a master key, and a tamper-evident audit
// chain. It implements docs/vault.md: the schema, the key hierarchy, the
// associated-data layouts, the audit chain and the migration policy.
//
// The package takes keys and readers as values: it never reads flags, the
// process environment or key files. A Vault is opened without a key (Open),
// which is enough to read its environment, key ID and counts (Info); every
// operation on secret material needs Unlock first.
package vault

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
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

	"github.com/keysmith/keysmith/pkg/masterkey"
)

// ApplicationID is written to the SQLite header (PRAGMA application_id) of
// every vault: "KSMV". A SQLite file without it is not a vault.
const ApplicationID = 0x4b534d56

// Format is the meta "format" value of a vault.
const Format = "keysmith-vault/v1"

// DefaultTenant is created by Create.
const DefaultTenant = "default"

// Sentinel errors, tested with errors.Is.
var (
	ErrNoVault          = errors.New("vault does not exist")
	ErrExists           = errors.New("vault already exists")
	ErrNotVault         = errors.New("not a keysmith vault")
	ErrCorrupt          = errors.New("vault file is corrupt")
	ErrTooNew           = errors.New("vault schema is newer than this keysmith")
	ErrWrongKey         = errors.New("wrong master key for this vault")
	ErrTampered         = errors.New("vault data does not authenticate")
	ErrWrongEnvironment = errors.New("vault belongs to another environment")
	ErrLocked           = errors.New("vault is locked")
	ErrNotFound         = errors.New("secret not found")
	ErrNoTenant         = errors.New("tenant not found")
	ErrTenantExists     = errors.New("tenant already exists")
	ErrInvalidName      = errors.New("invalid name")
	ErrNotEmpty         = errors.New("vault already holds secrets")
	ErrAuditTampered    = errors.New("audit chain does not verify")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options are a vault's injected dependencies. Zero fields get defaults.
type Options struct {
	Actor string           // who is acting, for the audit trail (OS user)
	Now   func() time.Time // clock
	Rand  io.Reader        // randomness for IDs, DEKs and nonces
}

// Vault is an open vault. It is not safe for concurrent use by several
// goroutines; several processes may use the same file at once.
type Vault struct {
	db   *sql.DB
	path string
	opts Options

	schema  int
	vaultID []byte
	env     string
	keyID   masterkey.ID

	unlocked *keys
	rowMACs  bool // every authorisation row carries a MAC: a missing one is tampering
}

// Info describes a vault. It needs no key.
type Info struct {
	Path          string
	SchemaVersion int
	VaultID       string // hex
	Env           string
	KeyID         masterkey.ID
	CreatedAt     string
	Tenants       []TenantInfo
	AuditRows     int
}

// TenantInfo is a tenant with its counts.
type TenantInfo struct {
	Name       string `json:"name"`
	Secrets    int    `json:"secrets"`  // names whose latest version is not removed
	Versions   int    `json:"versions"` // all stored versions
	DEKVersion int    `json:"dek_version"`
	CreatedAt  string `json:"created_at"`
}

func (o *Options) fill() {
	if o.Actor == "" {
		o.Actor = "unknown"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// dsn is the connection string: WAL is persistent and set by Create; every
// connection gets a busy timeout, foreign keys, secure deletion (so removed
// rows and rewrapped keys are zeroed, not left in free pages) and
// IMMEDIATE write transactions, so concurrent writers queue instead of
// failing with "database is locked".
func dsn(path string, create bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate")
	if create {
		q.Set("mode", "rwc")
	} else {
		q.Set("mode", "rw")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func openDB(path string, create bool) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, create))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// Create makes a new vault at path for environment env, unlocked by key. The
// file is created 0600 and its directory, if missing, 0700. It fails with
// ErrExists if anything is at path.
func Create(path, env string, key masterkey.Key, opts Options) (v *Vault, err error) {
	opts.fill()
	if !masterkey.ValidEnv(env) {
		return nil, fmt.Errorf("environment name %q is not valid", env)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%q: %w", path, ErrExists)
	} else if err != nil {
		return nil, err
	}
	f.Close()
	defer func() {
		if err != nil {
			if v != nil {
				v.db.Close()
			}
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(path + suffix)
			}
			v = nil
		}
	}()
	db, err := openDB(path, true)
	if err != nil {
		return nil, err
	}
	v = &Vault{db: db, path: path, opts: opts}
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
		return v, dbErr(err)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id=%d", ApplicationID)); err != nil {
		return v, dbErr(err)
	}
	if err := migrate(ctx, db, migrationFS, 0); err != nil {
		return v, err
	}
	vaultID := make([]byte, 16)
	if _, err := io.ReadFull(opts.Rand, vaultID); err != nil {
		return v, err
	}
	k, err := deriveKeys(key, env, vaultID, opts.Rand)
	if err != nil {
		return v, err
	}
	auditKey := make([]byte, 32)
	if _, err := io.ReadFull(opts.Rand, auditKey); err != nil {
		return v, err
	}
	wrappedAudit, err := k.kek.Seal(nil, auditKey, auditKeyAD(vaultID, true))
	if err != nil {
		return v, err
	}
	if err := k.setAudit(auditKey); err != nil {
		return v, err
	}
	now := v.timestamp()
	id := key.ID()
	err = v.write(ctx, func(tx *sql.Tx) error {
		for _, kv := range []struct {
			k string
			v []byte
		}{
			{"format", []byte(Format)}, {"vault_id", vaultID}, {"env", []byte(env)}, {"key_id", id[:]},
			{"audit_key", wrappedAudit}, {"created_at", []byte(now)},
		} {
			if _, err := tx.Exec("INSERT INTO meta (key, value) VALUES (?, ?)", kv.k, kv.v); err != nil {
				return err
			}
		}
		v.vaultID, v.env, v.keyID, v.unlocked = vaultID, env, id, k
		if _, err := v.addTenant(tx, DefaultTenant); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "init", Tenant: "", Object: path, Success: true, Detail: "env " + env + ", key " + id.String()})
	})
	if err != nil {
		return v, err
	}
	v.schema = latestVersion(migrationFS)
	v.rowMACs = true
	return v, nil
}

// Open opens an existing vault without unlocking it, applying pending
// schema migrations in one transaction.
func Open(path string, opts Options) (*Vault, error) {
	opts.fill()
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%q: %w", path, ErrNoVault)
	} else if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%q: %w: not a regular file", path, ErrNotVault)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%q: %w: the file is empty", path, ErrNotVault)
	}
	db, err := openDB(path, false)
	if err != nil {
		return nil, err
	}
	v := &Vault{db: db, path: path, opts: opts}
	if err := v.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return v, nil
}

func (v *Vault) load() error {
	ctx := context.Background()
	var appID int64
	if err := v.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return dbErr(err)
	}
	if appID != ApplicationID {
		return fmt.Errorf("%w: SQLite file without the keysmith application ID", ErrNotVault)
	}
	// No integrity check of the whole file here: it reads every page and
	// cost a third of a "vault get" on 10,000 secrets. Damage shows up as
	// SQLITE_CORRUPT on the pages a command reads (dbErr maps it to
	// ErrCorrupt); "vault info" and "vault audit verify" check the whole file.
	if err := migrate(ctx, v.db, migrationFS, 0); err != nil {
		return err
	}
	var err error
	if v.schema, err = userVersion(ctx, v.db); err != nil {
		return err
	}
	meta := map[string][]byte{}
	rows, err := v.db.QueryContext(ctx, "SELECT key, value FROM meta")
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var val []byte
		if err := rows.Scan(&k, &val); err != nil {
			return dbErr(err)
		}
		meta[k] = val
	}
	if err := rows.Err(); err != nil {
		return dbErr(err)
	}
	if string(meta["format"]) != Format {
		return fmt.Errorf("%w: unknown format %q", ErrNotVault, meta["format"])
	}
	if len(meta["vault_id"]) != 16 || len(meta["key_id"]) != masterkey.IDSize || !masterkey.ValidEnv(string(meta["env"])) || len(meta["audit_key"]) == 0 {
		return fmt.Errorf("%w: meta table is incomplete", ErrCorrupt)
	}
	v.vaultID = meta["vault_id"]
	v.env = string(meta["env"])
	copy(v.keyID[:], meta["key_id"])
	return nil
}

// CheckIntegrity runs SQLite's quick_check over the whole file: a truncated
// or damaged file fails with ErrCorrupt, naming the file and the first
// problem SQLite found, on one line.
func (v *Vault) CheckIntegrity() error {
	if err := quickCheck(context.Background(), v.db); err != nil {
		return fmt.Errorf("%q: %w", v.path, err)
	}
	return nil
}

func quickCheck(ctx context.Context, db *sql.DB) error {
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check(1)").Scan(&res); err != nil {
		return dbErr(err)
	}
	if res != "ok" {
		return fmt.Errorf("%w: %s", ErrCorrupt, checkSummary(res))
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

// Close closes the vault, checkpointing the WAL when it can.
func (v *Vault) Close() error {
	if v == nil || v.db == nil {
		return nil
	}
	v.unlocked.wipe()
	err := v.db.Close()
	v.db = nil
	return err
}

// Path returns the vault's file.
func (v *Vault) Path() string { return v.path }

// Env returns the environment whose master key unlocks the vault.
func (v *Vault) Env() string { return v.env }

// KeyID returns the ID of the master key that unlocks the vault.
func (v *Vault) KeyID() masterkey.ID { return v.keyID }

// Actor returns the actor recorded in audit rows.
func (v *Vault) Actor() string { return v.opts.Actor }

// SchemaVersion returns the vault's schema version.
func (v *Vault) SchemaVersion() int { return v.schema }

// Info returns the vault's description and counts. It needs no key.
func (v *Vault) Info() (*Info, error) {
	ctx := context.Background()
	in := &Info{Path: v.path, SchemaVersion: v.schema, VaultID: fmt.Sprintf("%x", v.vaultID), Env: v.env, KeyID: v.keyID}
	var created []byte
	if err := v.db.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'created_at'").Scan(&created); err != nil {
		return nil, dbErr(err)
	}
	in.CreatedAt = string(created)
	rows, err := v.db.QueryContext(ctx, `
		SELECT t.name, t.dek_version, t.created_at,
			(SELECT count(*) FROM secrets s WHERE s.tenant_id = t.id),
			(SELECT count(*) FROM (SELECT deleted_at, max(version) FROM secrets s WHERE s.tenant_id = t.id GROUP BY name) WHERE deleted_at IS NULL)
		FROM tenants t ORDER BY t.name`)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var t TenantInfo
		if err := rows.Scan(&t.Name, &t.DEKVersion, &t.CreatedAt, &t.Versions, &t.Secrets); err != nil {
			return nil, dbErr(err)
		}
		in.Tenants = append(in.Tenants, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if err := v.db.QueryRowContext(ctx, "SELECT count(*) FROM audit").Scan(&in.AuditRows); err != nil {
		return nil, dbErr(err)
	}
	return in, nil
}

func (v *Vault) timestamp() string { return formatTime(v.opts.Now()) }

// TimeLayout is how the vault writes times: UTC, fixed width, so that text
// order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// write runs fn in one IMMEDIATE transaction: all of it happens or none.
// The first unlocked write of an open vault first makes sure every row of
// the authorisation tables carries a MAC (ensureRowMACs).
func (v *Vault) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := v.db.BeginTx(ctx, nil)
	if err != nil {
		return dbErr(err)
	}
	checked := false
	if v.unlocked != nil && !v.rowMACs {
		if err := v.ensureRowMACs(tx); err != nil {
			tx.Rollback()
			return dbErr(err)
		}
		checked = true
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return dbErr(err)
	}
	if err := tx.Commit(); err != nil {
		return dbErr(err)
	}
	if checked {
		v.rowMACs = true
	}
	return nil
}

// dbErr maps SQLite's "not a database" and "corrupt" codes to sentinels.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %v", ErrNotVault, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
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

func userVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&n)
	return n, dbErr(err)
}

// migrate brings db to the newest schema in fsys (or to version upTo when
// upTo > 0) in one IMMEDIATE transaction. Another process migrating at the
// same time is waited for; the version is re-read inside the transaction.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, upTo int) error {
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
		return fmt.Errorf("%w: schema version %d, this keysmith knows up to %d", ErrTooNew, cur, len(ms))
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
