package vault

// What "keysmith serve" needs from the core (docs/server.md): services
// registering their own tokens, stub descriptions from the RPC, and a DEK
// rotation by age decided inside its transaction (once across servers on
// one PostgreSQL). The caller (address, user agent) comes from the
// context: WithCaller.

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// ErrTokenConflict: a token with that public ID is registered already, with
// another secret part or for another service.
var ErrTokenConflict = fmt.Errorf("%w: token ID already registered", ErrAccessDenied)

// RegisterToken records a token the service made itself (seed 003's
// registration flow): pending, created by the service, only its SHA-256
// stored. Registering the same token again is a status poll: it returns the
// record as it is, with created false. A token whose ID is taken by another
// token or service fails with ErrTokenConflict; that attempt is audited.
func (v *Vault) RegisterToken(ctx context.Context, tok, service, serviceVersion string) (*Token, bool, error) {
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
	err = v.update(ctx, func(o *op) error {
		out, created, refused = nil, false, nil
		t, err := o.tx.Token(o.ctx, id)
		switch {
		case errors.Is(err, store.ErrNoRow):
			t = store.Token{ID: id, Service: service, ServiceVersion: serviceVersion, Hash: keyring.TokenHash(tok), Status: TokenPending,
				CreatedAt: o.ts(), CreatedBy: service}
			t.MAC = o.keys.MAC(keyring.TokenRow(t))
			if err := o.tx.InsertToken(o.ctx, t); err != nil {
				return err
			}
			out, created = tokenInfo(t), true
			o.audit(auditRow{Action: "token-create", Object: id, Success: true,
				Detail: svcDetail(service, "registered by the service, "+o.caller.Actor+", version "+orNone(serviceVersion)+", pending")})
			return nil
		case err != nil:
			return err
		}
		if subtle.ConstantTimeCompare(keyring.TokenHash(tok), t.Hash) != 1 || t.Service != service {
			refused = ErrTokenConflict
			o.audit(auditRow{Action: "token-create", Object: id, Success: false,
				Detail: svcDetail(service, "registration refused, "+o.caller.Actor+": token ID already registered")})
			return nil
		}
		if err := o.check(keyring.TokenRow(t)); err != nil {
			return err
		}
		if err := o.checkTokenState(t); err != nil {
			return err
		}
		out = tokenInfo(t)
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

// ServiceGetDescribed is ServiceGetMany where the stubs it creates for
// missing secrets get the service's description of each (descriptions by
// name; at most 1024 printable bytes, longer or unprintable ones are
// dropped).
func (v *Vault) ServiceGetDescribed(ctx context.Context, tok, tenantName string, names []string, descriptions map[string]string) ([]Secret, error) {
	return v.serviceReadDescribed(ctx, tok, tenantName, names, 0, descriptions)
}

func validDescription(d string) bool {
	return len(d) <= 1024 && !strings.ContainsFunc(d, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// DEKAge returns how long ago the tenant's current data key was made.
func (v *Vault) DEKAge(ctx context.Context, tenantName string) (time.Duration, error) {
	var age time.Duration
	err := v.view(ctx, func(o *op) error {
		var err error
		age, err = o.dekAge(tenantName)
		return err
	})
	return age, err
}

func (o *op) dekAge(tenantName string) (time.Duration, error) {
	t, err := o.tenant(tenantName)
	if err != nil {
		return 0, err
	}
	d, err := o.tx.DEK(o.ctx, t.ID, t.DEKVersion)
	if errors.Is(err, store.ErrNoRow) {
		return 0, fmt.Errorf("%w: data key %d of tenant %s is missing", ErrTampered, t.DEKVersion, t.Name)
	} else if err != nil {
		return 0, err
	}
	ts, err := time.Parse(TimeLayout, d.CreatedAt)
	if err != nil {
		return 0, fmt.Errorf("%w: data key time %q", ErrTampered, d.CreatedAt)
	}
	return o.v.opts.Now().Sub(ts), nil
}

// RotateDEKIfOlder rotates the tenant's DEK (RotateDEK) when its current
// one is at least age old, deciding inside the rotation's transaction
// under the tenant lock: several servers on one store rotate once. It
// reports whether it rotated.
func (v *Vault) RotateDEKIfOlder(ctx context.Context, tenantName string, age time.Duration) (RotateDEKResult, bool, error) {
	res, err := v.rotateDEK(ctx, tenantName, nil, age)
	if errors.Is(err, errYoungDEK) {
		return RotateDEKResult{}, false, nil
	}
	return res, err == nil, err
}

var errYoungDEK = errors.New("data key is younger than the rotation age")
