package postgres

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// HintedError is an error of Open with one line that says what to do about
// it: the CLI prints it as "keysmith: hint: …". The error's message and its
// kinds are those of Err.
type HintedError struct {
	Err  error
	hint string
}

func (e *HintedError) Error() string { return e.Err.Error() }
func (e *HintedError) Unwrap() error { return e.Err }

// Hint returns the line to show after the error.
func (e *HintedError) Hint() string { return e.hint }

// withHint attaches a hint to an error of opening a store at host:port,
// when the cause is one a user can act on: the server is not there, the
// password or the user is wrong, the database is missing, the user lacks
// a privilege, or the server's certificate does not verify. Anything else
// is returned unchanged.
func withHint(err error, host string, port uint16, database, user string) error {
	if h := hintFor(err, host, port, database, user); h != "" {
		return &HintedError{Err: err, hint: h}
	}
	return err
}

func hintFor(err error, host string, port uint16, database, user string) string {
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			return fmt.Sprintf("check the password of %q: in the URL, PGPASSWORD or PGPASSFILE (docs/vault.md, PostgreSQL)", user)
		case "28000":
			return fmt.Sprintf("the server at %s does not let %q connect to %q: see its pg_hba.conf", addr, user, database)
		case "3D000":
			return fmt.Sprintf("create the database first (createdb %s), or name another one in the URL", database)
		case "42501":
			return fmt.Sprintf("%q lacks a privilege on the vault's schema: grant it, or connect as its owner", user)
		case "53300":
			return fmt.Sprintf("the server at %s has no free connection: lower pool_max_conns in the URL or raise max_connections", addr)
		}
		return ""
	}
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("is PostgreSQL running and listening on %s? check the URL's host and port", addr)
	case errors.As(err, &unknownCA):
		return "give the CA that signed the server's certificate with sslrootcert=FILE in the URL (or PGSSLROOTCERT)"
	case errors.As(err, &badHost):
		return fmt.Sprintf("the server's certificate does not name %q: connect by a name it lists, or use sslmode=verify-ca", host)
	case errors.As(err, &invalid):
		return "the server's certificate is not valid (expired or not for a server): renew it"
	case isTimeout(err):
		return fmt.Sprintf("no answer from %s: check the URL's host and port, and the network between", addr)
	}
	if errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return fmt.Sprintf("%s cannot be reached: check the URL's host", addr)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("the host name %q does not resolve: check the URL", host)
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
