package vault

// What "keysmith serve" needs from the vault until the ctx-first core lands
// (docs/server.md; /work/notes/serve-asks.md): services registering their
// own tokens, a per-call actor, stub descriptions from the RPC, and a DEK
// rotation by age.

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTokenConflict: a token with that public ID is registered already, with
// another secret part or for another service.
var ErrTokenConflict = fmt.Errorf("%w: token ID already registered", ErrAccessDenied)

// RegisterToken records a token the service made itself (seed 003's
// registration flow): pending, created by the service, only its SHA-256
// stored. Registering the same token again is a status poll: it returns the
// record as it is, with created false. A token whose ID is taken by another
// token or service fails with ErrTokenConflict; that attempt is audited.
func (v *Vault) RegisterToken(tok, service, serviceVersion string) (*Token, bool, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, false, err
	}
	if err := checkService(service); err != nil {
		return nil, false, err
	}
	if len(serviceVersion) > 64 || strings.ContainsFunc(serviceVersion, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, false, fmt.Errorf("%w: service version %q (at most 64 printable bytes)", ErrInvalidName, serviceVersion)
	}
	id, err := ParseToken(tok)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrInvalidName, err)
	}
	var out *Token
	var created bool
	var refused error
	err = v.write(context.Background(), func(tx *sql.Tx) error {
		out, created, refused = nil, false, nil
		var stored []byte
		t, err := scanToken(tx.QueryRow("SELECT "+tokenCols+", hash FROM service_tokens WHERE id = ?", id), &stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			t = &Token{ID: id, Service: service, ServiceVersion: serviceVersion, Status: TokenPending, CreatedAt: v.timestamp(), CreatedBy: service}
			if _, err := tx.Exec(`INSERT INTO service_tokens (id, service, service_version, hash, status, created_at, created_by)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Service, t.ServiceVersion, tokenHash(tok), t.Status, t.CreatedAt, t.CreatedBy); err != nil {
				return err
			}
			if err := v.sealRow(tx, macTokens, t.ID); err != nil {
				return err
			}
			out, created = t, true
			return v.appendAudit(tx, auditRow{Action: "token-create", Object: id, Success: true,
				Detail: svcDetail(service, "registered by the service, "+v.opts.Actor+", version "+orNone(serviceVersion)+", pending")})
		case err != nil:
			return err
		}
		if subtle.ConstantTimeCompare(tokenHash(tok), stored) != 1 || t.Service != service {
			refused = ErrTokenConflict
			return v.appendAudit(tx, auditRow{Action: "token-create", Object: id, Success: false,
				Detail: svcDetail(service, "registration refused, "+v.opts.Actor+": token ID already registered")})
		}
		if err := v.checkRow(tx, macTokens, id); err != nil {
			return err
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if refused != nil {
		return nil, false, refused
	}
	return out, created, nil
}

// SwapActor makes actor the audit actor (for operator rows) and the "user"
// of service-read details until the returned function restores the old
// one. The caller must not use v from another goroutine meanwhile.
func (v *Vault) SwapActor(actor string) (restore func()) {
	old := v.opts.Actor
	v.opts.Actor = actor
	return func() { v.opts.Actor = old }
}

// DescribeStub sets the description of name's open stub when it has none:
// the service's word for what the missing secret is for.
func (v *Vault) DescribeStub(tenantName, name, description string) error {
	if description == "" {
		return nil
	}
	if len(description) > 1024 || strings.ContainsFunc(description, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%w: description (at most 1024 printable bytes)", ErrInvalidName)
	}
	return v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		_, err = tx.Exec("UPDATE stubs SET description = ? WHERE tenant_id = ? AND name = ? AND filled_at IS NULL AND description = ''", description, t.id, name)
		return err
	})
}

// DEKAge returns how long ago the tenant's current data key was made.
func (v *Vault) DEKAge(tenantName string) (time.Duration, error) {
	var created string
	err := v.db.QueryRow(`SELECT d.created_at FROM deks d JOIN tenants t ON t.id = d.tenant_id AND d.version = t.dek_version WHERE t.name = ?`, tenantName).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("%w: %q", ErrNoTenant, tenantName)
	} else if err != nil {
		return 0, dbErr(err)
	}
	ts, err := time.Parse(TimeLayout, created)
	if err != nil {
		return 0, fmt.Errorf("%w: data key time %q", ErrTampered, created)
	}
	return v.opts.Now().Sub(ts), nil
}
