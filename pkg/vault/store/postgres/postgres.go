// Package postgres is the vault's PostgreSQL store (github.com/jackc/pgx/v5,
// pgxpool): the team vault that several hosts share. It holds SQL and
// nothing else: it sees sealed bytes, never a key or a plaintext. It
// implements the PostgreSQL part of docs/vault.md ("PostgreSQL"): the
// schema (embedded migrations, the twins of SQLite's), the migration lock,
// the retry of serialization failures and deadlocks, and the URL rules.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Sentinel errors of opening a store, tested with errors.Is: those of
// vaulterr, and ErrNotEmpty, a case of vaulterr.ErrNotVault.
var (
	ErrNoVault  = vaulterr.ErrNoVault
	ErrExists   = vaulterr.ErrExists
	ErrNotEmpty = vaulterr.Case(vaulterr.ErrNotVault, "database schema holds tables that are not a keysmith vault")
	ErrTooNew   = vaulterr.ErrTooNew
)

// lockClass is the first key of the advisory locks keysmith takes ("KSMV",
// as SQLite's application_id); the second is a hash of the schema name, so
// vaults in two schemas of one database do not wait for each other.
const lockClass = 0x4b534d56

// IsURL reports whether s names a PostgreSQL store rather than a file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL with its password removed (from the user info and
// a password parameter), for errors, logs and audit rows. Something that
// does not parse as a URL is replaced as a whole: it might hold a password
// where a parser cannot find it.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Store is an open PostgreSQL vault store. It is safe for concurrent use.
type Store struct {
	pool     *pgxpool.Pool
	location string // the URL without its password
	schema   string // the first search_path entry of the URL, "" if none
	version  int

	// Group commit: Update hands its closure to the committer goroutine,
	// which runs the closures waiting at that moment one after another in
	// one transaction (each in a savepoint) and commits them with one WAL
	// flush. See Update.
	reqs      chan *request
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the vault the URL names, applying pending migrations
// (under the migration lock: a concurrent opener waits, then finds the
// schema current). A database without a vault is ErrNoVault; a schema newer
// than this binary is ErrTooNew.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, false, Options{})
}

// Options tune a store to the process that opens it.
type Options struct {
	// Server: a long-running process (keysmith serve) that runs the same
	// few statements again and again. Each is prepared once per connection
	// and its prepared statement cached (pgx's cache_statement mode), so
	// the server neither parses it again nor, once PostgreSQL settles on
	// its generic plan, plans it; a CLI process, which
	// runs each statement once or twice, keeps the one-round-trip
	// exec mode. A default_query_exec_mode in the URL wins over both.
	Server bool
	// Tracer, when set, sees every statement and batch (pgx's tracing
	// hooks; a BatchTracer too, if it is one): for tests and diagnostics.
	Tracer pgx.QueryTracer
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, rawURL string, o Options) (*Store, error) {
	return open(ctx, rawURL, false, o)
}

// Create makes a new vault's schema: in the database the URL names, or in
// the schema its search_path names (created if missing). It refuses a
// schema that already holds a vault (ErrExists) or any other table
// (ErrNotEmpty).
func Create(ctx context.Context, rawURL string) (*Store, error) {
	return open(ctx, rawURL, true, Options{})
}

func open(ctx context.Context, rawURL string, create bool, o Options) (*Store, error) {
	loc := Redact(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", loc, redactErr(err, rawURL))
	}
	if !strings.Contains(rawURL, "default_query_exec_mode") && !o.Server {
		// One round trip per statement (an unnamed prepared statement,
		// parameter types from the Go values) instead of a prepare and an
		// execute on first use: a CLI process runs each statement once.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	// A server prepares each statement once per connection and, after a
	// few executions, runs it on PostgreSQL's cached generic plan (the
	// default plan_cache_mode): planning the audit chain's state checks
	// for every read was most of PostgreSQL's time (0.8 ms of a 2 ms
	// read). The statements are written so that their generic plans are
	// their good ones (AuditScan).
	if o.Tracer != nil {
		cfg.ConnConfig.Tracer = o.Tracer
	}
	if !strings.Contains(rawURL, "pool_max_conns") {
		// Readers in parallel beside the committer; connections are opened
		// on demand, so a CLI process uses one or two.
		cfg.MaxConns = 16
	}
	s := &Store{location: loc, schema: firstSchema(cfg.ConnConfig.RuntimeParams["search_path"])}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", loc, redactErr(err, rawURL))
	}
	for start, attempt := time.Now(), 1; ; attempt++ {
		err = s.migrate(ctx, create)
		if err == nil || !restarting(err, time.Since(start)) || backoff(ctx, attempt) != nil {
			break
		}
	}
	if err != nil {
		s.pool.Close()
		cc := cfg.ConnConfig
		return nil, withHint(s.wrap(dbErr(err), rawURL), cc.Host, cc.Port, cc.Database, cc.User)
	}
	s.reqs, s.quit, s.done = make(chan *request), make(chan struct{}), make(chan struct{})
	go s.committer()
	return s, nil
}

// wrap prefixes err with the redacted location unless it already says it,
// and makes sure no part of the raw URL's password survives in it.
func (s *Store) wrap(err error, rawURL string) error {
	return fmt.Errorf("%q: %w", s.location, oneLine(redactErr(err, rawURL)))
}

// oneLine makes a multi-line driver error one line: pgx's connect error
// puts each address it tried on a line of its own, often the same line
// twice (TLS, then without), or a cause again after the line that wraps it.
// The sentinel kinds are kept.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "\n") {
		return err
	}
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		// A line already said by an earlier one (pgx repeats the cause of
		// a failed host lookup after the line that wraps it) is dropped.
		if l = strings.TrimSpace(l); l != "" && !slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(p, l) }) {
			parts = append(parts, l)
		}
	}
	return &rewordedError{msg: strings.Join(parts, " "), err: err}
}

// redactErr replaces err by its message with the URL's password cut out
// when the message contains it (pgx does not put passwords in errors, but a
// wrapped driver or network error must not be trusted to keep it so). The
// sentinel kinds are kept.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return &rewordedError{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

// rewordedError is err with its message replaced (the password cut out,
// or the lines joined), keeping what it wraps for errors.Is.
type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

// firstSchema returns the first schema of a search_path value, unquoted.
func firstSchema(sp string) string {
	first, _, _ := strings.Cut(sp, ",")
	first = strings.TrimSpace(first)
	if len(first) >= 2 && first[0] == '"' && first[len(first)-1] == '"' {
		first = strings.ReplaceAll(first[1:len(first)-1], `""`, `"`)
	}
	if first == "$user" {
		return ""
	}
	return first
}

// Describe is the store's URL without its password.
func (s *Store) Describe() string { return s.location }

// SchemaVersion is the schema version after Open's migrations.
func (s *Store) SchemaVersion() int { return s.version }

// Pool is the connection pool (for the store's own packages and tests).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the committer and closes every connection. Closing twice
// is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.done
		s.pool.Close()
	})
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var ms []migration
	for i, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(base[:4])
		if err != nil || v != i+1 {
			return nil, fmt.Errorf("migration %q out of sequence", base)
		}
		b, err := migrationFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// LatestVersion is the schema version this binary creates.
func LatestVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err)
	}
	return len(ms)
}

// readVersion reads the schema version from keysmith_schema (one row);
// its absence means no vault, version 0.
func readVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('keysmith_schema') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return 0, err
	}
	var v int
	err := q.QueryRow(ctx, "SELECT version FROM keysmith_schema").Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context, create bool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := len(ms)
	if !create {
		// The common case costs one query and no lock.
		var v int
		err := s.pool.QueryRow(ctx, "SELECT version FROM keysmith_schema").Scan(&v)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table: no vault (yet)
			v, err = 0, nil
		}
		if err != nil {
			return err
		}
		if err := checkVersion(v, latest, create); err != nil || v == latest {
			s.version = v
			return err
		}
	}
	return s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if create && s.schema != "" {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
				return err
			}
		}
		// One migrator per schema: the lock is held until commit; a second
		// opener waits here and then reads the version the first wrote.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))", lockClass); err != nil {
			return err
		}
		var cur *string
		if err := tx.QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil {
			return err
		}
		if cur == nil {
			if create {
				return fmt.Errorf("%w: no schema to create the vault in (search_path %q)", ErrNotEmpty, s.schema)
			}
			return ErrNoVault
		}
		v, err := readVersion(ctx, tx)
		if err != nil {
			return err
		}
		if err := checkVersion(v, latest, create); err != nil {
			return err
		}
		if create {
			var n int
			if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%w: schema %q holds %d tables", ErrNotEmpty, *cur, n)
			}
			if _, err := tx.Exec(ctx, "CREATE TABLE keysmith_schema (one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INTEGER NOT NULL)"); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO keysmith_schema (version) VALUES (0)"); err != nil {
				return err
			}
		}
		for _, m := range ms[v:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, "UPDATE keysmith_schema SET version = $1", m.version); err != nil {
				return err
			}
		}
		s.version = latest
		return nil
	})
}

func checkVersion(v, latest int, create bool) error {
	switch {
	case create && v > 0:
		return ErrExists
	case !create && v == 0:
		return ErrNoVault
	case v > latest:
		return fmt.Errorf("%w: schema version %d, this keysmith knows up to %d (upgrade keysmith)", ErrTooNew, v, latest)
	}
	return nil
}

// View runs fn in a read-only REPEATABLE READ transaction: one snapshot.
// It is not retried, but for reaching the server at BEGIN (a restart).
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := s.view(ctx, fn)
		var be beginError
		if errors.As(err, &be) && errors.Is(be.err, vaulterr.ErrUnavailable) &&
			time.Since(start) < unavailableBudget && attempt < maxAttempts && backoff(ctx, attempt) == nil {
			continue
		}
		return err
	}
}

// beginError: View's transaction could not begin (nothing was read, so
// the closure can run again on another connection).
type beginError struct{ err error }

func (e beginError) Error() string { return e.err.Error() }
func (e beginError) Unwrap() error { return e.err }

// view is one attempt of View. The transaction begins with its first
// read (a Prefetch sends the begin with its reads); one that read nothing
// has nothing to commit.
func (s *Store) view(ctx context.Context, fn func(store.Tx) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return beginError{dbErr(err)}
	}
	// A connection left inside a transaction (a failed rollback) is
	// closed by the pool, not reused.
	defer c.Release()
	t := &tx{q: c, qctx: ctx, ro: true, pending: "begin isolation level repeatable read read only"}
	err = fn(t)
	if !t.began {
		return err
	}
	if err != nil {
		c.Exec(ctx, "rollback") // a broken connection fails this too: Release closes it
		return err
	}
	_, err = c.Exec(ctx, "commit")
	return dbErr(err)
}

// restarting reports whether Open should try again after err, elapsed
// into its attempts: a server that says it is starting up or shutting
// down (57P03) is waited for as long as Update waits for one; a refused
// connection, what a restart looks like between stop and start, for
// openRefusedBudget only, so that a wrong port still fails at once.
func restarting(err error, elapsed time.Duration) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "57P03" {
		return elapsed < unavailableBudget
	}
	return errors.Is(err, syscall.ECONNREFUSED) && elapsed < openRefusedBudget
}

// openRefusedBudget: how long Open retries a refused connection.
const openRefusedBudget = 3 * time.Second

// maxAttempts bounds the retries of a transaction that keeps failing with
// a serialization failure or a deadlock.
const maxAttempts = 50

// inTx runs fn in a transaction and commits (the migrations). When the
// transaction fails with a serialization failure (40001) or a deadlock
// (40P01), at fn or at commit, the whole closure runs again in a new
// transaction after a short random back-off.
func (s *Store) inTx(ctx context.Context, to pgx.TxOptions, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, s.pool, to, fn)
		if err == nil || !Retryable(err) || attempt == maxAttempts {
			return err
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// Retryable reports whether err is a serialization failure or a deadlock:
// the transaction did nothing and may run again.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(attempt) * time.Millisecond
	if d > 20*time.Millisecond {
		d = 20 * time.Millisecond
	}
	d += time.Duration(rand.IntN(2000)) * time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
