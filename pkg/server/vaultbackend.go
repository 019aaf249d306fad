package server

// The Backend over today's *vault.Vault, serialised by a mutex. When the
// ctx-first core lands (issue 11) this file is the one to rewrite.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/vault"
)

// VaultBackend serves one unlocked vault. Reopen, when set, opens and
// unlocks the vault again: it is called when the vault's master key was
// rotated by another process (the cached keys no longer open new rows).
type VaultBackend struct {
	mu       sync.Mutex
	v        *vault.Vault
	actor    string
	reopen   func() (*vault.Vault, error)
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

// who is the "user" part of the audit details of c's rows.
func (b *VaultBackend) who(c Caller) string {
	return fmt.Sprintf("%s from %s, agent %q", b.actor, c.RemoteAddr, c.UserAgent)
}

// call runs fn with the caller's identity as the vault's actor. After a
// master-key rotation by another process, the first call that fails
// reopens the vault and is tried once more (its transaction rolled back).
func (b *VaultBackend) call(ctx context.Context, c Caller, fn func(v *vault.Vault) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	run := func() error {
		restore := b.v.SwapActor(b.who(c))
		defer restore()
		return fn(b.v)
	}
	err := run()
	if err != nil && b.reopen != nil && (errors.Is(err, vault.ErrTampered) || errors.Is(err, vault.ErrWrongKey)) {
		if nv, rerr := b.reopen(); rerr == nil {
			if nv.KeyID() != b.v.KeyID() {
				b.v.Close()
				b.v = nv
				return run()
			}
			nv.Close()
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
	err := b.call(ctx, c, func(v *vault.Vault) error {
		secrets, err := v.ServiceGetMany(c.Token, tenant, names(refs))
		var ae *vault.AccessError
		if errors.As(err, &ae) {
			for _, p := range ae.Problems {
				if strings.HasPrefix(p.Reason, "missing") {
					for _, r := range refs {
						if r.Name == p.Name && r.Description != "" {
							if derr := v.DescribeStub(tenant, r.Name, r.Description); derr != nil && !errors.Is(derr, vault.ErrInvalidName) {
								return derr
							}
						}
					}
				}
			}
		}
		if err != nil {
			return err
		}
		svc, err := b.serviceOf(v, c.Token)
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
func (b *VaultBackend) serviceOf(v *vault.Vault, tok string) (string, error) {
	id, err := vault.ParseToken(tok)
	if err != nil {
		return "", err
	}
	if s, ok := b.services[id]; ok {
		return s, nil
	}
	toks, err := v.Tokens()
	if err != nil {
		return "", err
	}
	for _, t := range toks {
		if t.ID == id {
			b.services[id] = t.Service
			return t.Service, nil
		}
	}
	return "", fmt.Errorf("token %s: %w", id, vault.ErrNoRecord)
}

// RegisterToken implements Backend.
func (b *VaultBackend) RegisterToken(ctx context.Context, c Caller, service, serviceVersion string) (*vault.Token, bool, error) {
	var tok *vault.Token
	var created bool
	err := b.call(ctx, c, func(v *vault.Vault) error {
		var err error
		tok, created, err = v.RegisterToken(c.Token, service, serviceVersion)
		return err
	})
	return tok, created, err
}

// AuditRefused implements Backend.
func (b *VaultBackend) AuditRefused(ctx context.Context, c Caller, action, tenant string, objects []string, reason string) error {
	return b.call(ctx, c, func(v *vault.Vault) error {
		for _, o := range objects {
			if err := v.AppendAudit(action, tenant, o, false, "service unknown: user "+b.who(c)+": "+reason); err != nil {
				return err
			}
		}
		return nil
	})
}

// RotateIfOlder implements Backend.
func (b *VaultBackend) RotateIfOlder(ctx context.Context, age time.Duration) ([]string, error) {
	var rotated []string
	err := b.call(ctx, Caller{RemoteAddr: "local", UserAgent: "keysmith serve --rotate-every"}, func(v *vault.Vault) error {
		tenants, err := v.Tenants()
		if err != nil {
			return err
		}
		for _, t := range tenants {
			old, err := v.DEKAge(t.Name)
			if err != nil {
				return err
			}
			if old < age {
				continue
			}
			if _, err := v.RotateDEK(t.Name, nil); err != nil {
				return fmt.Errorf("rotating the data key of tenant %s: %w", t.Name, err)
			}
			rotated = append(rotated, t.Name)
		}
		return nil
	})
	return rotated, err
}

// Ping implements Backend.
func (b *VaultBackend) Ping(ctx context.Context) error {
	return b.call(ctx, Caller{}, func(v *vault.Vault) error {
		_, err := v.Tenants()
		return err
	})
}
