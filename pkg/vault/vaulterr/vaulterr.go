// Package vaulterr holds the vault's sentinel errors and their kinds: the
// one table every layer shares (docs/vault.md, "Errors"). The core
// (pkg/vault) and the stores return these sentinels, wrapped with %w; the
// CLI maps a kind to an exit code in one place (cmd/cmdutil/errors.go) and
// the server maps it to a gRPC code in one place.
//
// It is a leaf package: it imports only the standard library.
package vaulterr

import "errors"

// Kind is what an error means to a caller deciding what to do next: which
// exit code, which gRPC code.
type Kind int

const (
	// KindOther is any error without a sentinel of this package.
	KindOther Kind = iota
	// KindNotFound: the vault, tenant, secret, device, key, token,
	// request or grant named does not exist.
	KindNotFound
	// KindDenied: the caller may not do this (a bad, pending, denied or
	// revoked token; a denied or revoked grant).
	KindDenied
	// KindPending: access waits for an operator's decision.
	KindPending
	// KindTampered: wrong key, or data that does not authenticate
	// (tampered, corrupt, rolled back, a replayed or expired challenge).
	KindTampered
	// KindWrongEnvironment: the vault belongs to another environment.
	KindWrongEnvironment
	// KindInvalid: a bad name, report or argument; or a --vault that is
	// not a vault.
	KindInvalid
	// KindConflict: the thing exists already or was already decided; the
	// state does not allow the operation.
	KindConflict
	// KindUnavailable: the store cannot be reached or is read-only; the
	// operation may succeed later.
	KindUnavailable
)

var kindNames = [...]string{"other", "not found", "denied", "pending", "tampered", "wrong environment", "invalid", "conflict", "unavailable"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "other"
	}
	return kindNames[k]
}

// Error is a sentinel with a kind. Sentinels are compared by identity
// (errors.Is); wrap them with fmt.Errorf("%w: ...", ErrX) to add detail.
type Error struct {
	kind Kind
	msg  string
	wrap error // a more general sentinel this one is a case of
}

func (e *Error) Error() string { return e.msg }

// Kind returns the sentinel's kind.
func (e *Error) Kind() Kind { return e.kind }

// Unwrap returns the more general sentinel, if any.
func (e *Error) Unwrap() error { return e.wrap }

// New returns a new sentinel of kind k.
func New(k Kind, msg string) *Error { return &Error{kind: k, msg: msg} }

// Case returns a new sentinel that is a case of parent: errors.Is(err,
// parent) holds for it, and it has parent's kind.
func Case(parent *Error, msg string) *Error { return &Error{kind: parent.kind, msg: msg, wrap: parent} }

// KindOf returns the kind of the first sentinel of this package in err's
// chain, or KindOther.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.kind
	}
	return KindOther
}

// The sentinels. Messages are the ones keysmith always printed.
var (
	// Opening and creating.
	ErrNoVault  = New(KindNotFound, "vault does not exist")
	ErrExists   = New(KindConflict, "vault already exists")
	ErrNotVault = New(KindInvalid, "not a keysmith vault")
	ErrCorrupt  = New(KindTampered, "vault file is corrupt")
	ErrTooNew   = New(KindOther, "vault schema is newer than this keysmith")
	ErrReadOnly = New(KindUnavailable, "vault is read-only")
	// ErrUnavailable: the store cannot be reached (a PostgreSQL server
	// down); the operation may succeed later.
	ErrUnavailable = New(KindUnavailable, "vault store is unavailable")

	// Keys and integrity.
	ErrWrongKey         = New(KindTampered, "wrong master key for this vault")
	ErrTampered         = New(KindTampered, "vault data does not authenticate")
	ErrAuditTampered    = New(KindTampered, "audit chain does not verify")
	ErrWrongEnvironment = New(KindWrongEnvironment, "vault belongs to another environment")
	ErrLocked           = New(KindOther, "vault is locked")

	// Secrets and tenants.
	ErrNotFound     = New(KindNotFound, "secret not found")
	ErrNoTenant     = New(KindNotFound, "tenant not found")
	ErrTenantExists = New(KindConflict, "tenant already exists")
	ErrInvalidName  = New(KindInvalid, "invalid name")
	ErrNotEmpty     = New(KindConflict, "vault already holds secrets")

	// Devices.
	ErrNoDevice          = New(KindNotFound, "device not found")
	ErrNoDeviceKey       = New(KindNotFound, "device key not found")
	ErrDeviceExists      = New(KindConflict, "device already exists")
	ErrKeyExists         = New(KindConflict, "device key already stored")
	ErrKeyRevoked        = New(KindTampered, "device key is revoked")
	ErrNoChallenge       = New(KindTampered, "challenge was not issued for this device")
	ErrChallengeExpired  = New(KindTampered, "challenge has expired")
	ErrChallengeReplayed = New(KindTampered, "challenge was already used")
	ErrReportConflict    = New(KindConflict, "request_id was already applied with a different report")
	ErrInvalidReport     = New(KindInvalid, "invalid provisioning report")

	// AMT provisioning certificates (docs/amt.md).
	ErrNoAMTCert     = New(KindNotFound, "AMT certificate not found")
	ErrAMTCertExists = New(KindConflict, "AMT certificate already exists")
	ErrAMTNotAllowed = New(KindDenied, "device may not use this AMT certificate")
	ErrAMTNonce      = New(KindInvalid, "the firmware nonce must be 20 bytes")

	// Service access.
	ErrAccessDenied  = New(KindDenied, "permission denied")
	ErrAccessPending = New(KindPending, "access pending approval")
	ErrNoRecord      = New(KindNotFound, "not found")
	ErrDecided       = New(KindConflict, "already decided")
)
