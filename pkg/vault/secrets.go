package vault

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

var (
	tenantName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`) })
	secretName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/@+-]{0,254}$`) })
)

// ValidTenant reports whether s is a valid tenant name: [a-z0-9][a-z0-9_.-]*,
// at most 63 bytes.
func ValidTenant(s string) bool { return tenantName().MatchString(s) }

// ValidName reports whether s is a valid secret name: letters, digits and
// _ . : / @ + -, not starting with punctuation other than _, at most 255
// bytes.
func ValidName(s string) bool { return secretName().MatchString(s) }

func errIs(err, target error) bool { return errors.Is(err, target) }

func checkName(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: secret %q (letters, digits and _.:/@+-, at most 255 bytes)", ErrInvalidName, name)
	}
	return nil
}

// WrongKeyError is returned by Unlock when the key's ID is not the vault's.
type WrongKeyError struct {
	Path string
	Env  string
	Want masterkey.ID // the vault's key
	Got  masterkey.ID // the key given
}

func (e *WrongKeyError) Error() string {
	return fmt.Sprintf("vault %q is locked with %s key ID %s, not key ID %s", e.Path, e.Env, e.Want, e.Got)
}

func (e *WrongKeyError) Unwrap() error { return ErrWrongKey }

// Unlock derives the vault's keys from the master key: one PBKDF2 and a
// few HKDF steps. A key with another ID, or one that does not open the
// wrapped audit key, fails and leaves an unkeyed "unlock" audit row.
// Unlock is called once, before the Vault is shared.
func (v *Vault) Unlock(ctx context.Context, mk masterkey.Key) error {
	return v.UnlockStretched(ctx, mk, nil)
}

// UnlockStretched is Unlock with the slow step perhaps done already: pre,
// when it was started for mk and the vault's environment, is the root key's
// derivation (keyring.Prestretch); any other pre is ignored. The caller
// wipes pre.
func (v *Vault) UnlockStretched(ctx context.Context, mk masterkey.Key, pre *keyring.Stretch) error {
	if id := v.KeyID(); mk.ID() != id {
		err := &WrongKeyError{Path: v.Path(), Env: v.env, Want: id, Got: mk.ID()}
		v.auditFailedUnlock(ctx, "key ID "+mk.ID().String())
		return err
	}
	k, err := keyring.DeriveStretched(pre, mk, v.env, v.vaultID, v.opts.Rand)
	if err != nil {
		return err
	}
	// The wrapped audit key Open read; read again if it does not open (a
	// rotate-master by another process since Open re-wrapped it).
	ak, level, err := k.OpenAuditKey(v.wrappedAudit)
	if err != nil {
		var wrapped []byte
		if err := v.st.View(ctx, func(tx store.Tx) error {
			m, err := tx.Meta(ctx)
			wrapped = m[store.MetaAuditKey]
			return err
		}); err != nil {
			return err
		}
		ak, level, err = k.OpenAuditKey(wrapped)
	}
	if err != nil {
		v.auditFailedUnlock(ctx, "key ID "+mk.ID().String()+": audit key does not unwrap")
		return fmt.Errorf("%w: the audit key does not unwrap with key ID %s", ErrTampered, mk.ID())
	}
	defer clear(ak)
	if k, err = k.WithAudit(ak); err != nil {
		return err
	}
	v.mu.Lock()
	v.keys, v.level = k, level
	v.mu.Unlock()
	return nil
}

// auditFailedUnlock appends an unkeyed row. Best effort.
func (v *Vault) auditFailedUnlock(ctx context.Context, detail string) {
	_ = v.update(context.WithoutCancel(ctx), func(o *op) error {
		o.auditUnkeyed(auditRow{Action: "unlock", Object: v.Path(), Success: false, Detail: detail})
		return nil
	})
}

// AuditWrongEnvironment records a refused open for another environment
// than the vault's (a command run with -e prod against a dev vault) the way
// a failed unlock is recorded: an unkeyed "unlock" row, since the refusal
// happens before any key is read. from says what selected the environment
// ("-e/--env", "KEYSMITH_ENV"). Best effort.
func (v *Vault) AuditWrongEnvironment(ctx context.Context, selected, from string) {
	v.auditFailedUnlock(ctx, fmt.Sprintf("environment %s selected by %s, vault is %s", selected, from, v.env))
}

// AppendAudit records an event that happened outside the vault's own
// methods (for example a command refusing to run). The vault must be
// unlocked.
func (v *Vault) AppendAudit(ctx context.Context, action, tenantName, object string, success bool, detail string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	return v.update(ctx, func(o *op) error {
		o.audit(auditRow{Action: action, Tenant: tenantName, Object: object, Success: success, Detail: detail})
		return nil
	})
}

// tenant reads a tenant by name: ErrNoTenant.
func (o *op) tenant(name string) (store.Tenant, error) {
	t, err := o.tx.Tenant(o.ctx, name)
	if errors.Is(err, store.ErrNoRow) {
		return t, fmt.Errorf("%w: %q", ErrNoTenant, name)
	}
	return t, err
}

// lockedTenant reads a tenant and makes the transaction the only writer of
// its rows (store.TenantTx.LockTenant): for read-then-write sequences.
func (o *op) lockedTenant(name string) (store.Tenant, error) {
	t, err := o.tenant(name)
	if err != nil {
		return t, err
	}
	if err := o.tx.LockTenant(o.ctx, t.ID); err != nil {
		return t, err
	}
	// Re-read under the lock: the DEK version may have changed.
	return o.tx.TenantByID(o.ctx, t.ID)
}

// dek returns the AEAD of a tenant's DEK version: from this op, the
// Vault's cache, or unwrapped from the store.
func (o *op) dek(tenantID int64, version int) (*seal.AEAD, error) {
	r := dekRef{tenantID, version}
	if a := o.deks[r]; a != nil {
		return a, nil
	}
	o.v.mu.RLock()
	a := o.v.deks[r]
	o.v.mu.RUnlock()
	if a != nil {
		return a, nil
	}
	d, err := o.tx.DEK(o.ctx, tenantID, version)
	if errors.Is(err, store.ErrNoRow) {
		return nil, fmt.Errorf("%w: data key version %d of tenant %s is missing", ErrTampered, version, o.tenantLabel(tenantID))
	} else if err != nil {
		return nil, err
	}
	if a, err = o.keys.UnwrapDEK(tenantID, version, d.Wrapped); err != nil {
		return nil, fmt.Errorf("%w: data key version %d of tenant %s does not unwrap", ErrTampered, version, o.tenantLabel(tenantID))
	}
	o.cacheDEK(tenantID, version, a)
	return a, nil
}

// tenantLabel names a tenant in a message by name, not by internal ID.
func (o *op) tenantLabel(id int64) string {
	if t, err := o.tx.TenantByID(o.ctx, id); err == nil {
		return t.Name
	}
	return fmt.Sprintf("#%d", id)
}

func (o *op) cacheDEK(tenantID int64, version int, a *seal.AEAD) {
	if o.deks == nil {
		o.deks = map[dekRef]*seal.AEAD{}
	}
	o.deks[dekRef{tenantID, version}] = a
}

// newDEK makes, wraps and stores a fresh DEK version for the tenant.
func (o *op) newDEK(tenantID int64, version int) (*seal.AEAD, error) {
	dek, err := o.keys.NewKey()
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	wrapped, err := o.keys.WrapDEK(tenantID, version, dek)
	if err != nil {
		return nil, err
	}
	if err := o.tx.InsertDEK(o.ctx, store.DEK{TenantID: tenantID, Version: version, Wrapped: wrapped, CreatedAt: o.ts()}); err != nil {
		return nil, err
	}
	a, err := o.keys.NewAEAD(dek)
	if err != nil {
		return nil, err
	}
	o.cacheDEK(tenantID, version, a)
	return a, nil
}

func (o *op) addTenant(name string) (store.Tenant, error) {
	if !ValidTenant(name) {
		return store.Tenant{}, fmt.Errorf("%w: tenant %q (want [a-z0-9][a-z0-9_.-]*, at most 63 bytes)", ErrInvalidName, name)
	}
	if _, err := o.tx.Tenant(o.ctx, name); err == nil {
		return store.Tenant{}, fmt.Errorf("%w: %q", ErrTenantExists, name)
	} else if !errors.Is(err, store.ErrNoRow) {
		return store.Tenant{}, err
	}
	t := store.Tenant{Name: name, DEKVersion: 1, CreatedAt: o.ts()}
	id, err := o.tx.InsertTenant(o.ctx, t)
	if errors.Is(err, store.ErrConflict) {
		return t, fmt.Errorf("%w: %q", ErrTenantExists, name)
	} else if err != nil {
		return t, err
	}
	t.ID = id
	_, err = o.newDEK(id, 1)
	return t, err
}

// AddTenant creates a tenant with a fresh data key.
func (v *Vault) AddTenant(ctx context.Context, name string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	return v.update(ctx, func(o *op) error {
		if _, err := o.addTenant(name); err != nil {
			return err
		}
		o.audit(auditRow{Action: "tenant-add", Tenant: name, Object: name, Success: true})
		return nil
	})
}

// Tenants lists the tenants with their counts. It needs no key.
func (v *Vault) Tenants(ctx context.Context) ([]TenantInfo, error) {
	in, err := v.Info(ctx)
	if err != nil {
		return nil, err
	}
	return in.Tenants, nil
}

// Item is a secret to store.
type Item struct {
	Name  string
	Value []byte
	// Description is stored in clear with the new version. An empty one
	// keeps the description of the name's latest version, unless
	// ClearDescription is set.
	Description      string
	ClearDescription bool
}

// Secret is one version of a secret with its value.
type Secret struct {
	SecretInfo
	Value []byte
}

// SecretInfo is one version of a secret without its value.
type SecretInfo struct {
	Tenant      string `json:"tenant"`
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Description string `json:"description"`
	CreatedAt   string `json:"updated_at"`
	CreatedBy   string `json:"updated_by"`
	DeletedAt   string `json:"removed_at,omitempty"`
	DEKVersion  int    `json:"dek_version"`
}

func secretInfo(tenant string, s store.Secret) SecretInfo {
	return SecretInfo{Tenant: tenant, Name: s.Name, Version: s.Version, Description: s.Description, CreatedAt: s.CreatedAt,
		CreatedBy: s.CreatedBy, DeletedAt: s.DeletedAt, DEKVersion: s.DEKVersion}
}

// Put stores value as a new version of name and returns the version. An
// empty description keeps the one of the latest version.
func (v *Vault) Put(ctx context.Context, tenantName, name string, value []byte, description string) (int, error) {
	vers, err := v.PutMany(ctx, tenantName, []Item{{Name: name, Value: value, Description: description}}, nil)
	if err != nil {
		return 0, err
	}
	return vers[0], nil
}

// PutMany stores every item as a new version, all in one transaction: all
// land or none. progress, if not nil, is called after each item (again
// from the start if the store re-runs the transaction).
func (v *Vault) PutMany(ctx context.Context, tenantName string, items []Item, progress func(done, total int)) ([]int, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	for _, it := range items {
		if err := checkName(it.Name); err != nil {
			return nil, err
		}
	}
	versions := make([]int, len(items))
	err := v.update(ctx, func(o *op) error {
		t, err := o.lockedTenant(tenantName)
		if err != nil {
			return err
		}
		dek, err := o.sealingDEK(t) // dekstate.go
		if err != nil {
			return err
		}
		now := o.ts()
		for i, it := range items {
			// The next version, and the latest version's description (kept
			// when the item has none).
			ver, prevDesc := 1, ""
			if cur, err := o.tx.Secret(o.ctx, t.ID, it.Name, 0); err == nil {
				ver, prevDesc = cur.Version+1, cur.Description
			} else if !errors.Is(err, store.ErrNoRow) {
				return err
			}
			desc := it.Description
			if desc == "" && !it.ClearDescription {
				desc = prevDesc
			}
			sealed, err := keyring.SealValue(dek, t.ID, it.Name, ver, t.DEKVersion, it.Value)
			if err != nil {
				return err
			}
			if err := o.tx.InsertSecret(o.ctx, store.Secret{TenantID: t.ID, Name: it.Name, Version: ver, DEKVersion: t.DEKVersion, Sealed: sealed,
				Description: desc, CreatedAt: now, CreatedBy: o.caller.Actor}); err != nil {
				return err
			}
			if err := o.tx.FillStub(o.ctx, t.ID, it.Name, o.ts()); err != nil {
				return err
			}
			o.audit(auditRow{Action: "put", Tenant: t.Name, Object: it.Name, Success: true, Detail: fmt.Sprintf("version %d", ver)})
			versions[i] = ver
			if progress != nil {
				progress(i+1, len(items))
			}
		}
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "put", tenantName, itemNames(items), err)
		return nil, err
	}
	return versions, nil
}

func itemNames(items []Item) string {
	if len(items) == 1 {
		return items[0].Name
	}
	return fmt.Sprintf("%d secrets", len(items))
}

// secretRow reads one version of a secret (version > 0) or its latest,
// with the sealed value; store.ErrNoRow when there is none.
func (o *op) secretRow(t store.Tenant, name string, version int) (store.Secret, error) {
	return o.tx.Secret(o.ctx, t.ID, name, version)
}

// open opens a secret row's value.
func (o *op) open(t store.Tenant, s store.Secret) ([]byte, error) {
	dek, err := o.dek(t.ID, s.DEKVersion)
	if err != nil {
		return nil, err
	}
	return keyring.OpenValue(dek, t.ID, s.Name, s.Version, s.DEKVersion, s.Sealed)
}

// Get returns version of name, or its latest version when version is 0. A
// removed secret is not found unless a version is asked for. The read is
// audited. A latest version older than what the audit chain recorded for
// the name fails closed (ErrTampered): see checkLatest.
func (v *Vault) Get(ctx context.Context, tenantName, name string, version int) (*Secret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *Secret
	err := v.audited(ctx, func(o *op) error {
		out = nil
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		s, err := o.secretRow(t, name, version)
		if errors.Is(err, store.ErrNoRow) {
			s = store.Secret{}
		} else if err != nil {
			return err
		}
		if version == 0 {
			if err := o.checkLatest(t, name, s); err != nil {
				return err
			}
		}
		if s.Version == 0 || (version == 0 && s.DeletedAt != "") {
			what := fmt.Sprintf("%q in tenant %s", name, t.Name)
			if version > 0 {
				what = fmt.Sprintf("%q version %d in tenant %s", name, version, t.Name)
			} else if s.Version != 0 {
				what += " (removed)"
			}
			return fmt.Errorf("%w: %s", ErrNotFound, what)
		}
		pt, err := o.open(t, s)
		if err != nil {
			return err
		}
		out = &Secret{SecretInfo: secretInfo(t.Name, s), Value: pt}
		o.audit(auditRow{Action: "get", Tenant: t.Name, Object: name, Success: true, Detail: fmt.Sprintf("version %d", s.Version)})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "get", tenantName, name, err)
		return nil, err
	}
	return out, nil
}

// GetAll returns the latest version of every secret of the tenant whose
// name starts with prefix, skipping removed ones. Each read is audited with
// the given purpose as detail.
func (v *Vault) GetAll(ctx context.Context, tenantName, prefix, purpose string) ([]Secret, error) {
	return v.GetAllChecked(ctx, tenantName, prefix, purpose, nil)
}

// ValueSize is a secret's name and the length of its latest value.
type ValueSize struct {
	Name string
	Size int
}

// GetAllChecked is GetAll that first calls check, when not nil, with the
// name and value length of every secret it would return, before it
// decrypts or audits any: an error from check is returned and nothing is
// read ("run --vault" refuses an environment too large to exec).
func (v *Vault) GetAllChecked(ctx context.Context, tenantName, prefix, purpose string, check func([]ValueSize) error) ([]Secret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []Secret
	err := v.audited(ctx, func(o *op) error {
		out = nil
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		all, err := o.tx.LatestSecrets(o.ctx, t.ID, prefix, true)
		if err != nil {
			return err
		}
		var rows []store.Secret
		for _, s := range all {
			if s.DeletedAt == "" {
				rows = append(rows, s)
			}
		}
		if check != nil {
			sizes := make([]ValueSize, len(rows))
			for i, r := range rows {
				sizes[i] = ValueSize{Name: r.Name, Size: max(len(r.Sealed)-seal.Overhead, 0)}
			}
			if err := check(sizes); err != nil {
				return err
			}
		}
		for _, s := range rows {
			pt, err := o.open(t, s)
			if err != nil {
				return err
			}
			out = append(out, Secret{SecretInfo: secretInfo(t.Name, s), Value: pt})
			o.audit(auditRow{Action: "get", Tenant: t.Name, Object: s.Name, Success: true, Detail: fmt.Sprintf("version %d, %s", s.Version, purpose)})
		}
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "get", tenantName, prefix+"*", err)
		return nil, err
	}
	return out, nil
}

// List returns the latest version of each secret of the tenant that is not
// removed, by name. It reads no values.
func (v *Vault) List(ctx context.Context, tenantName string) ([]SecretInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	out := []SecretInfo{}
	err := v.view(ctx, func(o *op) error {
		out = out[:0]
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		rows, err := o.tx.LatestSecrets(o.ctx, t.ID, "", false)
		if err != nil {
			return err
		}
		out = slices.Grow(out, len(rows))
		for _, s := range rows {
			if s.DeletedAt == "" {
				out = append(out, secretInfo(t.Name, s))
			}
		}
		return nil
	})
	return out, err
}

// History returns every stored version of name, oldest first.
func (v *Vault) History(ctx context.Context, tenantName, name string) ([]SecretInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []SecretInfo
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		rows, err := o.tx.SecretHistory(o.ctx, t.ID, name)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("%w: %q in tenant %s", ErrNotFound, name, t.Name)
		}
		out = nil
		for _, s := range rows {
			out = append(out, secretInfo(t.Name, s))
		}
		return nil
	})
	return out, err
}

// Remove marks every version of name removed (history is kept), or with
// purge deletes them all. It returns the number of versions affected.
func (v *Vault) Remove(ctx context.Context, tenantName, name string, purge bool) (int, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	var n int
	action := "rm"
	if purge {
		action = "purge"
	}
	err := v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		if purge {
			n, err = o.tx.PurgeSecret(o.ctx, t.ID, name)
		} else {
			n, err = o.tx.RemoveSecret(o.ctx, t.ID, name, o.ts())
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: %q in tenant %s", ErrNotFound, name, t.Name)
		}
		o.audit(auditRow{Action: action, Tenant: t.Name, Object: name, Success: true, Detail: fmt.Sprintf("%d versions", n)})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, action, tenantName, name, err)
		return 0, err
	}
	if purge {
		v.checkpoint(ctx)
	}
	return n, nil
}

// checkpoint asks the store to overwrite what was just rewritten, when it
// can (SQLite's WAL checkpoint). Best effort.
func (v *Vault) checkpoint(ctx context.Context) {
	if c, ok := v.st.(store.Compacter); ok {
		c.Checkpoint(ctx)
	}
}

// Compact asks the store to reclaim the space of deleted and rewritten
// rows (SQLite: checkpoint and VACUUM).
func (v *Vault) Compact(ctx context.Context) error {
	if c, ok := v.st.(store.Compacter); ok {
		return c.Compact(ctx)
	}
	return nil
}
