// Package pgtest gives tests a PostgreSQL database of their own on the
// server named by KEYSMITH_TEST_POSTGRES (scripts/pg-test-cluster.sh starts
// one; .ci/run does). Without that variable the tests skip, saying how to
// run them, except in CI (CI or KEYSMITH_REQUIRE_POSTGRES set), where they
// fail: a CI run that silently skipped the PostgreSQL store proves nothing.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the variable naming the test server: a URL whose role may
// CREATE DATABASE.
const EnvURL = "KEYSMITH_TEST_POSTGRES"

// EnvRequire, when set (as .ci/run sets it, or CI=true), turns a missing
// EnvURL into a test failure.
const EnvRequire = "KEYSMITH_REQUIRE_POSTGRES"

// HowTo says how to run the PostgreSQL tests.
const HowTo = `dir=$(mktemp -d); export KEYSMITH_TEST_POSTGRES=$(scripts/pg-test-cluster.sh start "$dir"); go test ./...; scripts/pg-test-cluster.sh stop "$dir"`

// Required reports whether a missing server is a failure (CI) rather than
// a skip (a developer's machine).
func Required() bool {
	return os.Getenv(EnvRequire) != "" || os.Getenv("CI") == "true" || os.Getenv("CI") == "1"
}

// ServerURL returns the test server's URL, or skips t (fails it in CI).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if Required() {
			t.Fatalf("%s is not set but this is CI (%s or CI): the PostgreSQL tests must run; .ci/run starts a server with scripts/pg-test-cluster.sh", EnvURL, EnvRequire)
		}
		t.Skipf("PostgreSQL tests skipped: %s is not set. To run them: %s", EnvURL, HowTo)
	}
	return u
}

// NewDatabase creates an empty database on the test server and returns its
// URL (the server URL with the database name replaced). The database is
// dropped when the test ends, connections and all.
func NewDatabase(t testing.TB) string {
	t.Helper()
	u, err := CreateDatabase(ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := DropDatabase(u); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

// NewSchema creates an empty schema with a fresh name in the test server's
// own database and returns the server URL with search_path set to it: a
// vault created there lives in that schema alone. It is dropped, with
// everything in it, when the test ends. Cheaper than NewDatabase (no
// CREATE DATABASE), for suites that make many stores.
func NewSchema(t testing.TB) string {
	t.Helper()
	u, drop, err := CreateSchema(ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

// CreateSchema is NewSchema for callers without a testing.TB (testscript
// setups): drop removes the schema.
func CreateSchema(serverURL string) (schemaURL string, drop func() error, err error) {
	name := "ks_test_" + randomHex()
	sql := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, q)
		return err
	}
	if err := sql("CREATE SCHEMA " + pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	drop = func() error { return sql("DROP SCHEMA " + pgx.Identifier{name}.Sanitize() + " CASCADE") }
	u, err := url.Parse(serverURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateDatabase creates a database with a fresh name on the server of
// serverURL and returns its URL. Scripts (and testscript setups) that
// cannot use t.Cleanup pair it with DropDatabase.
func CreateDatabase(serverURL string) (string, error) {
	name := "ks_test_" + randomHex()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return WithDatabase(serverURL, name)
}

// DropDatabase drops the database a CreateDatabase URL names, closing any
// connections still open to it.
func DropDatabase(dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	name := u.Path[1:]
	admin, err := WithDatabase(dbURL, "postgres")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, admin)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// WithDatabase returns serverURL naming database name instead.
func WithDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}
