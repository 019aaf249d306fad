package server

// The Backend over the ctx-first vault core (issue 11): one unlocked
// *vault.Vault shared by every request goroutine; each call's caller
// (address, user agent) travels in its context (vault.WithCaller). The
// lock only guards swapping the vault after a master-key rotation by
// another process.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/vault"
)

// VaultBackend serves one unlocked vault. Reopen, when set, opens and
// unlocks the vault again: it is called when the vault's master key was
// rotated by another process (the cached keys no longer open new rows).
type VaultBackend struct {
	mu       sync.RWMutex // guards v (swapped by reopen)
	v        *vault.Vault
	actor    string
	reopen   func() (*vault.Vault, error)
	smu      sync.Mutex        // guards services
	services map[string]string // token ID -> service, for tokens that read
}

var _ Backend = (*VaultBackend)(nil)

// NewVaultBackend serves v, whose audit actor is actor (the server's OS
// user). reopen may be nil.
func NewVaultBackend(v *vault.Vault, actor string, reopen func() (*vault.Vault, error)) *VaultBackend {
	return &VaultBackend{v: v, actor: actor, reopen: reopen, services: map[string]string{}}
}

// Close closes the vault.
func (b *VaultBackend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.v.Close()
}

// who is the "user" part of the audit details of c's rows (the address and
// user agent have their own audit columns).
func (b *VaultBackend) who(c Caller) string { return b.actor }

// call runs fn with the caller's identity in ctx, concurrently with other
// calls. After a master-key rotation by another process, the first call
// that fails reopens the vault and is tried once more (its transaction
// rolled back).
func (b *VaultBackend) call(ctx context.Context, c Caller, fn func(ctx context.Context, v *vault.Vault) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = vault.WithCaller(ctx, vault.Caller{Actor: b.actor, RemoteAddr: c.RemoteAddr, UserAgent: c.UserAgent})
	b.mu.RLock()
	v := b.v
	err := fn(ctx, v)
	b.mu.RUnlock()
	if err != nil && b.reopen != nil && (errors.Is(err, vault.ErrTampered) || errors.Is(err, vault.ErrWrongKey)) {
		b.mu.Lock()
		if b.v == v { // not reopened by another call meanwhile
			if nv, rerr := b.reopen(); rerr == nil {
				if nv.KeyID() != b.v.KeyID() {
					b.v.Close()
					b.v = nv
				} else {
					nv.Close()
				}
			}
		}
		retry := b.v != v
		b.mu.Unlock()
		if retry {
			b.mu.RLock()
			defer b.mu.RUnlock()
			return fn(ctx, b.v)
		}
	}
	return err
}

func names(refs []SecretRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}

// GetSecrets implements Backend.
func (b *VaultBackend) GetSecrets(ctx context.Context, c Caller, tenant string, refs []SecretRef) (*Read, error) {
	var out *Read
	descriptions := map[string]string{}
	for _, r := range refs {
		if r.Description != "" {
			descriptions[r.Name] = r.Description
		}
	}
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		secrets, err := v.ServiceGetDescribed(ctx, c.Token, tenant, names(refs), descriptions)
		if err != nil {
			return err
		}
		svc, err := b.serviceOf(ctx, v, c.Token)
		if err != nil {
			return err
		}
		out = &Read{Service: svc, Secrets: secrets}
		return nil
	})
	return out, err
}

// serviceOf returns the service of a token that just read: its ID is
// genuine, so the service can be cached by ID (it never changes).
func (b *VaultBackend) serviceOf(ctx context.Context, v *vault.Vault, tok string) (string, error) {
	id, err := vault.ParseToken(tok)
	if err != nil {
		return "", err
	}
	b.smu.Lock()
	s, ok := b.services[id]
	b.smu.Unlock()
	if ok {
		return s, nil
	}
	toks, err := v.Tokens(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range toks {
		if t.ID == id {
			b.smu.Lock()
			b.services[id] = t.Service
			b.smu.Unlock()
			return t.Service, nil
		}
	}
	return "", fmt.Errorf("token %s: %w", id, vault.ErrNoRecord)
}

// RegisterToken implements Backend.
func (b *VaultBackend) RegisterToken(ctx context.Context, c Caller, service, serviceVersion string) (*vault.Token, bool, error) {
	var tok *vault.Token
	var created bool
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		tok, created, err = v.RegisterToken(ctx, c.Token, service, serviceVersion)
		return err
	})
	return tok, created, err
}

// AuditRefused implements Backend.
func (b *VaultBackend) AuditRefused(ctx context.Context, c Caller, action, tenant string, objects []string, reason string) error {
	return b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		for _, o := range objects {
			if err := v.AppendAudit(ctx, action, tenant, o, false, "service unknown: user "+b.who(c)+": "+reason); err != nil {
				return err
			}
		}
		return nil
	})
}

// RotateIfOlder implements Backend.
func (b *VaultBackend) RotateIfOlder(ctx context.Context, age time.Duration) ([]string, error) {
	var rotated []string
	err := b.call(ctx, Caller{RemoteAddr: "local", UserAgent: "keysmith serve --rotate-every"}, func(ctx context.Context, v *vault.Vault) error {
		rotated = nil
		tenants, err := v.Tenants(ctx)
		if err != nil {
			return err
		}
		for _, t := range tenants {
			// Decided inside the rotation's transaction: several servers on
			// one store rotate once.
			_, did, err := v.RotateDEKIfOlder(ctx, t.Name, age)
			if err != nil {
				return fmt.Errorf("rotating the data key of tenant %s: %w", t.Name, err)
			}
			if did {
				rotated = append(rotated, t.Name)
			}
		}
		return nil
	})
	return rotated, err
}

// Ping implements Backend.
func (b *VaultBackend) Ping(ctx context.Context) error {
	return b.call(ctx, Caller{}, func(ctx context.Context, v *vault.Vault) error {
		_, err := v.Tenants(ctx)
		return err
	})
}
