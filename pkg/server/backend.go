// Package server implements keysmith.v1.SecretsService, "keysmith serve"
// (docs/server.md): one net/http handler speaking gRPC, gRPC-Web and
// Connect, over TLS on TCP or plaintext on a unix socket. The server holds
// the unlocked vault; callers hold only their service token.
package server

import (
	"context"
	"time"

	"github.com/keysmith/keysmith/pkg/vault"
)

// Caller is who is calling: what travels with each request. It is passed
// by value in context, never kept in shared fields.
type Caller struct {
	Token      string // the service token as presented ("" if none)
	RemoteAddr string // the peer's IP address (no port), or "unix"
	UserAgent  string
}

// SecretRef is a name to read and what the service wants it for.
type SecretRef struct {
	Name        string
	Description string
}

// Read is the outcome of a successful GetSecrets.
type Read struct {
	Service string
	Secrets []vault.Secret // in the order asked
}

// Backend is what the server needs from the vault core. Its errors are the
// vault's kinds (errors.Is with vault.ErrAccessDenied, ErrAccessPending, …,
// and the *vault.TokenError / *vault.AccessError details), mapped to gRPC
// codes in one table (errors.go). All methods are safe for concurrent use.
type Backend interface {
	// GetSecrets reads every ref as the service holding c.Token, all or
	// none, auditing each attempt with c's address and user agent.
	GetSecrets(ctx context.Context, c Caller, tenant string, refs []SecretRef) (*Read, error)
	// RegisterToken records c.Token for service (pending), or reports the
	// status of the same token registered before (created false).
	RegisterToken(ctx context.Context, c Caller, service, serviceVersion string) (tok *vault.Token, created bool, err error)
	// AuditRefused records a refusal decided before the vault was asked
	// (rate limit, missing token): one row per object.
	AuditRefused(ctx context.Context, c Caller, action, tenant string, objects []string, reason string) error
	// RotateIfOlder rotates the data key of every tenant whose current key
	// is older than age, and returns the tenants rotated.
	RotateIfOlder(ctx context.Context, age time.Duration) ([]string, error)
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
}
