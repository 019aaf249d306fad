package postgres

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://alice:s3cret@db.example:5432/vault?sslmode=verify-full", "postgres://alice@db.example:5432/vault?sslmode=verify-full"},
		{"postgresql://alice@db/vault", "postgresql://alice@db/vault"},
		{"postgres://db/vault?password=s3cret&sslmode=require", "postgres://db/vault?sslmode=require"},
		{"postgres://al%20ice:p%40ss@db/v", "postgres://al%20ice@db/v"},
		{"postgres://alice:s3cret@[::1", "postgres://(unparsable URL)"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(Redact(c.in), "s3cret") {
			t.Errorf("Redact(%q) keeps the password", c.in)
		}
	}
}

func TestFirstSchema(t *testing.T) {
	for in, want := range map[string]string{"": "", "team": "team", " team , public": "team", `"Team ""A"""`: `Team "A"`, "$user, public": ""} {
		if got := firstSchema(in); got != want {
			t.Errorf("firstSchema(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustCreate(t *testing.T, u string) *Store {
	t.Helper()
	s, err := Create(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCreateOpen(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	if _, err := Open(ctx, u); !errors.Is(err, ErrNoVault) {
		t.Fatalf("Open on an empty database: %v, want ErrNoVault", err)
	}
	s := mustCreate(t, u)
	if s.SchemaVersion() != LatestVersion() || LatestVersion() < 5 {
		t.Fatalf("schema version %d, latest %d", s.SchemaVersion(), LatestVersion())
	}
	if _, err := Create(ctx, u); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	o, err := Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.SchemaVersion() != LatestVersion() {
		t.Fatalf("reopened at version %d", o.SchemaVersion())
	}
	if strings.Contains(o.Describe(), passwordOf(t, u)) {
		t.Fatalf("Location %q shows the password", o.Describe())
	}
}

func passwordOf(t *testing.T, u string) string {
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := p.User.Password()
	if pw == "" {
		t.Skip("the test server URL has no password")
	}
	return pw
}

func TestCreateRefusesOtherTables(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE TABLE orders (id int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, u); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("Create over another application's table: %v, want ErrNotEmpty", err)
	}
	var n int
	c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n)
	if n != 1 {
		t.Fatalf("refused Create left %d tables", n)
	}
}

// Two vaults in two schemas of one database (search_path in the URL), and
// none in the default schema.
func TestNamedSchemas(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	for _, sch := range []string{"team_a", "team_b"} {
		su := withParam(t, u, "search_path", sch)
		s := mustCreate(t, su)
		if _, err := Create(ctx, su); !errors.Is(err, ErrExists) {
			t.Fatalf("second Create in %s: %v", sch, err)
		}
		var cur string
		if err := s.Pool().QueryRow(ctx, "SELECT current_schema()").Scan(&cur); err != nil || cur != sch {
			t.Fatalf("current_schema %q, %v", cur, err)
		}
	}
	if _, err := Open(ctx, u); !errors.Is(err, ErrNoVault) {
		t.Fatalf("Open of the default schema: %v, want ErrNoVault", err)
	}
	if _, err := Open(ctx, withParam(t, u, "search_path", "team_c")); !errors.Is(err, ErrNoVault) {
		t.Fatalf("Open of a missing schema: %v, want ErrNoVault", err)
	}
}

func withParam(t *testing.T, raw, k, v string) string {
	p, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set(k, v)
	p.RawQuery = q.Encode()
	return p.String()
}

func TestTooNew(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	s := mustCreate(t, u)
	if _, err := s.Pool().Exec(ctx, "UPDATE keysmith_schema SET version = 999"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, u)
	if !errors.Is(err, ErrTooNew) || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Open of a newer schema: %v, want ErrTooNew naming 999", err)
	}
}

// Two openers of an old schema at once: one migrates, the other waits on
// the advisory lock and then finds the schema current. The test holds the
// lock itself first, so both are certainly waiting at the same time.
func TestConcurrentMigration(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	s := mustCreate(t, u)
	// Back to schema 5: migrations 0006 and 0007 have to run again.
	for _, q := range []string{
		"DROP TABLE amt_certs", "ALTER TABLE devices DROP COLUMN mac", "ALTER TABLE audit DROP COLUMN ip_address", "ALTER TABLE audit DROP COLUMN user_agent",
		"DROP TABLE audit_head", "DROP INDEX audit_keyed", "DROP INDEX audit_object", "DROP INDEX secrets_latest", "UPDATE keysmith_schema SET version = 5",
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	holder, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext('public'))", lockClass); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := Open(ctx, u)
			if err == nil {
				if o.SchemaVersion() != LatestVersion() {
					err = errors.New("opened below the latest version")
				}
				o.Close()
			}
			errs[i] = err
		}()
	}
	// Both are blocked on the lock.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		if err := holder.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d openers waiting on the migration lock, want 2", waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1, hashtext('public'))", lockClass); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("opener %d: %v", i, err)
		}
	}
	var cols int
	if err := holder.QueryRow(ctx, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'mac' AND table_name = 'devices'").Scan(&cols); err != nil || cols != 1 {
		t.Fatalf("devices.mac columns: %d, %v", cols, err)
	}
}

// The password may come from the URL, PGPASSWORD or a PGPASSFILE (pgx
// reads both); a wrong one fails without showing itself.
func TestPasswordSources(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	mustCreate(t, u)
	pw := passwordOf(t, u)
	p, _ := url.Parse(u)
	user := p.User.Username()
	p.User = url.User(user)
	bare := p.String()

	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
		t.Setenv("PGPASSWORD", pw)
		s, err := Open(ctx, bare)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("PGPASSFILE", func(t *testing.T) {
		t.Setenv("PGPASSWORD", "")
		os.Unsetenv("PGPASSWORD")
		f := filepath.Join(t.TempDir(), "pgpass")
		if err := os.WriteFile(f, []byte("*:*:*:"+user+":"+pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PGPASSFILE", f)
		s, err := Open(ctx, bare)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
	t.Run("wrong password", func(t *testing.T) {
		p.User = url.UserPassword(user, "not-the-Password-42")
		_, err := Open(ctx, p.String())
		if err == nil {
			t.Fatal("opened with a wrong password")
		}
		if strings.Contains(err.Error(), "not-the-Password-42") || strings.Contains(err.Error(), pw) {
			t.Fatalf("error shows a password: %v", err)
		}
		if !strings.Contains(err.Error(), strconv.Quote(Redact(p.String()))) {
			t.Fatalf("error does not name the redacted URL: %v", err)
		}
	})
}

// A closure that hits a serialization failure runs again as a whole and
// both transactions commit; the caller never sees 40001.
func TestRetrySerializationFailure(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	s := mustCreate(t, u)
	if _, err := s.Pool().Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		attempts int
		barrier  sync.WaitGroup
	)
	barrier.Add(2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			errs[i] = s.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
				mu.Lock()
				attempts++
				mu.Unlock()
				var n int
				if err := tx.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
					return err
				}
				if first { // both read before either writes
					first = false
					barrier.Done()
					barrier.Wait()
				}
				_, err := tx.Exec(ctx, "INSERT INTO t VALUES ($1)", n+1)
				return err
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("transaction failed: %v", err)
		}
	}
	var ns []int
	rows, _ := s.Pool().Query(ctx, "SELECT n FROM t ORDER BY n")
	ns, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0] != 1 || ns[1] != 2 {
		t.Fatalf("rows %v, want [1 2]", ns)
	}
	if attempts < 3 {
		t.Fatalf("%d attempts: the conflict did not happen", attempts)
	}
}
