package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// Each way of failing to open that a user can fix has a hint naming the
// fix, against a real server; the hint never shows the password.
func TestOpenHints(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	mustCreate(t, u)
	pw := passwordOf(t, u)
	p, _ := url.Parse(u)
	user := p.User.Username()

	with := func(edit func(v *url.URL)) string {
		c := *p
		edit(&c)
		return c.String()
	}
	free := func() string { // a loopback port nothing listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()
	for _, tc := range []struct {
		name, url, hint string
	}{
		{"wrong password", with(func(v *url.URL) { v.User = url.UserPassword(user, "not-the-Password-42") }),
			`check the password of "` + user + `": in the URL, PGPASSWORD or PGPASSFILE (docs/vault.md, PostgreSQL)`},
		{"refused", with(func(v *url.URL) { v.Host = free }),
			"is PostgreSQL running and listening on " + free + "? check the URL's host and port"},
		{"no database", with(func(v *url.URL) { v.Path = "/no_such_db_42" }),
			"create the database first (createdb no_such_db_42), or name another one in the URL"},
		{"unknown CA", with(func(v *url.URL) {
			q := v.Query()
			if q.Get("sslmode") != "verify-full" {
				t.Skip("the test server's URL does not verify TLS")
			}
			q.Del("sslrootcert")
			v.RawQuery = q.Encode()
		}), "give the CA that signed the server's certificate with sslrootcert=FILE in the URL (or PGSSLROOTCERT)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url)
			if err == nil {
				t.Fatal("opened")
			}
			var he *HintedError
			if !errors.As(err, &he) {
				t.Fatalf("no hint on %v", err)
			}
			if he.Hint() != tc.hint {
				t.Fatalf("hint %q, want %q", he.Hint(), tc.hint)
			}
			if strings.Contains(he.Hint()+err.Error(), pw) || strings.Contains(he.Hint()+err.Error(), "not-the-Password-42") {
				t.Fatalf("a password in %v / %s", err, he.Hint())
			}
		})
	}
	// A vault that opens has nothing to hint; an error that is not about
	// connecting (a schema that is not a vault's) has no hint either.
	if hintFor(errors.New("some other failure"), "h", 5432, "d", "u") != "" {
		t.Fatal("a hint for an unrelated error")
	}
}

// oneLine joins a driver error's lines and drops a line an earlier one
// already says (pgx's failed host lookup repeats its cause), keeping kinds.
func TestOneLine(t *testing.T) {
	cause := errors.New("lookup h.invalid: no such host")
	err := fmt.Errorf("%w: failed to connect: hostname resolving error: %v\n%v\n  \nsecond line\nsecond line", errUnavailableForTest, cause, cause)
	got := oneLine(err)
	want := "unavailable: failed to connect: hostname resolving error: lookup h.invalid: no such host second line"
	if got.Error() != want {
		t.Fatalf("oneLine = %q, want %q", got.Error(), want)
	}
	if !errors.Is(got, errUnavailableForTest) {
		t.Fatal("oneLine lost the error's kind")
	}
	if plain := errors.New("one line"); oneLine(plain) != plain {
		t.Fatal("a one-line error was replaced")
	}
}

var errUnavailableForTest = errors.New("unavailable")
