package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/value"
	"github.com/keysmith/keysmith/pkg/vault"
)

// Exit codes, the same for every command; docs/exit-codes.md lists them.
const (
	ExitOK         = 0 // success
	ExitFailure    = 1 // any other failure
	ExitUsage      = 2 // bad flag, argument or configuration value
	ExitAuth       = 3 // wrong key or tampered data
	ExitWrongEnv   = 4 // value or vault belongs to another environment
	ExitNotFound   = 5 // a named file, variable, secret, device or key does not exist
	ExitProblems   = 6 // a check ran and found problems
	ExitPermission = 7 // permission denied (token not approved, insecure key file)
	ExitPending    = 8 // access is pending approval
)

// Sentinels for conditions that have their own exit code. Libraries define
// their own sentinels; ExitCode maps both.
var (
	ErrNotFound   = errors.New("not found")
	ErrProblems   = errors.New("problems found")
	ErrPermission = errors.New("permission denied")
	ErrPending    = errors.New("pending approval")
	ErrAuth       = errors.New("authentication failed")
)

// Error is an error with hints shown after it and, optionally, a fixed exit
// code.
type Error struct {
	Err   error
	Hints []string
	Code  int // 0: derive from Err
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// WithHint adds "keysmith: hint:" lines to err.
func WithHint(err error, hints ...string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		e.Hints = append(e.Hints, hints...)
		return err
	}
	return &Error{Err: err, Hints: hints}
}

// UsageError is a bad flag or argument: exit code 2, and usage is printed.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, a ...any) error {
	return &UsageError{Err: fmt.Errorf(format, a...)}
}

// Hints returns the hints attached anywhere in err's chain: an Error's,
// and those of errors with a Hint method.
func Hints(err error) []string {
	var out []string
	for err != nil {
		if e, ok := err.(*Error); ok {
			out = append(out, e.Hints...)
		}
		if h, ok := err.(interface{ Hint() string }); ok && h.Hint() != "" {
			out = append(out, h.Hint()) // a library's own hint (the PostgreSQL store's HintedError)
		}
		err = errors.Unwrap(err)
	}
	return out
}

// ExitCode maps an error to the documented exit code.
func ExitCode(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Code != 0 {
		return e.Code
	}
	var u *UsageError
	var x *exec.ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u):
		return ExitUsage
	case errors.Is(err, value.ErrWrongEnvironment):
		return ExitWrongEnv
	case errors.Is(err, vault.ErrWrongEnvironment):
		return ExitWrongEnv
	case errors.Is(err, vault.ErrWrongKey), errors.Is(err, vault.ErrTampered), errors.Is(err, vault.ErrAuditTampered), errors.Is(err, vault.ErrCorrupt):
		return ExitAuth
	case errors.Is(err, vault.ErrNotVault): // --vault names a file that is not a vault
		return ExitUsage
	case errors.Is(err, vault.ErrNoVault), errors.Is(err, vault.ErrNotFound), errors.Is(err, vault.ErrNoTenant):
		return ExitNotFound
	case errors.Is(err, vault.ErrInvalidName), errors.Is(err, devicecred.ErrAMTPassword):
		return ExitUsage
	case errors.Is(err, vault.ErrAccessDenied): // service access: a bad token, a denied or revoked grant
		return ExitPermission
	case errors.Is(err, vault.ErrAccessPending): // service access: no grant yet, or a stub
		return ExitPending
	case errors.Is(err, vault.ErrNoRecord): // service access: no such token, request or grant
		return ExitNotFound
	case errors.Is(err, vault.ErrNoDevice), errors.Is(err, vault.ErrNoDeviceKey), errors.Is(err, vault.ErrNoAMTCert):
		return ExitNotFound
	case errors.Is(err, vault.ErrAMTNotAllowed):
		return ExitPermission
	case errors.Is(err, vault.ErrAMTNonce):
		return ExitUsage
	case errors.Is(err, devicecred.ErrWrongPassphrase), errors.Is(err, devicecred.ErrCorrupted), errors.Is(err, devicecred.ErrBadSignature),
		errors.Is(err, vault.ErrKeyRevoked), errors.Is(err, vault.ErrNoChallenge), errors.Is(err, vault.ErrChallengeExpired), errors.Is(err, vault.ErrChallengeReplayed):
		return ExitAuth
	case errors.Is(err, devicecred.ErrUnsupportedKey), errors.Is(err, vault.ErrInvalidReport):
		return ExitUsage
	case errors.Is(err, value.ErrUnauthenticated), errors.Is(err, value.ErrUnknownKey), errors.Is(err, value.ErrMalformed), errors.Is(err, ErrAuth):
		return ExitAuth
	case errors.Is(err, ErrPending):
		return ExitPending
	case errors.Is(err, ErrPermission), errors.Is(err, keysource.ErrInsecureFile), errors.Is(err, fs.ErrPermission):
		return ExitPermission
	case errors.Is(err, ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, keysource.ErrNoKey):
		return ExitNotFound
	case errors.Is(err, masterkey.ErrKeyFile), errors.Is(err, masterkey.ErrInvalidKey):
		return ExitUsage // a configuration error, not a wrong key
	case errors.Is(err, ErrProblems):
		return ExitProblems
	case errors.As(err, &x):
		return ExitFailure
	case errors.Is(err, context.Canceled):
		return ExitFailure
	}
	return ExitFailure
}
