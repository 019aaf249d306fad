package vault

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
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

// Unlock derives the vault's keys from the master key: one PBKDF2 and two
// HKDF steps. A key with another ID, or one that does not open the wrapped
// audit key, fails and leaves an unkeyed "unlock" audit row.
func (v *Vault) Unlock(mk masterkey.Key) error {
	if mk.ID() != v.keyID {
		err := &WrongKeyError{Path: v.path, Env: v.env, Want: v.keyID, Got: mk.ID()}
		v.auditFailedUnlock("key ID " + mk.ID().String())
		return err
	}
	k, err := deriveKeys(mk, v.env, v.vaultID, v.opts.Rand)
	if err != nil {
		return err
	}
	var wrapped []byte
	if err := v.db.QueryRow("SELECT value FROM meta WHERE key = 'audit_key'").Scan(&wrapped); err != nil {
		return dbErr(err)
	}
	// The audit key of a vault with row MACs opens with the "row-macs" AD;
	// that of a vault written before schema 5, without it.
	rowMACs := true
	ak, err := k.kek.Open(nil, wrapped, auditKeyAD(v.vaultID, true))
	if err != nil {
		rowMACs = false
		ak, err = k.kek.Open(nil, wrapped, auditKeyAD(v.vaultID, false))
	}
	if err != nil {
		v.auditFailedUnlock("key ID " + mk.ID().String() + ": audit key does not unwrap")
		return fmt.Errorf("%w: the audit key does not unwrap with key ID %s", ErrTampered, mk.ID())
	}
	if err := k.setAudit(ak); err != nil {
		return err
	}
	v.unlocked, v.rowMACs = k, rowMACs
	return nil
}

// Unlocked reports whether Unlock succeeded.
func (v *Vault) Unlocked() bool { return v.unlocked != nil }

func (v *Vault) mustUnlocked() error {
	if v.unlocked == nil {
		return ErrLocked
	}
	return nil
}

type querier interface {
	QueryRow(query string, args ...any) *sql.Row
	Query(query string, args ...any) (*sql.Rows, error)
	Exec(query string, args ...any) (sql.Result, error)
}

type tenant struct {
	id         int64
	name       string
	dekVersion int
}

func (v *Vault) tenant(q querier, name string) (*tenant, error) {
	t := &tenant{name: name}
	err := q.QueryRow("SELECT id, dek_version FROM tenants WHERE name = ?", name).Scan(&t.id, &t.dekVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNoTenant, name)
	}
	return t, dbErr(err)
}

func (v *Vault) newDEK(q querier, tenantID int64, version int) error {
	dek := make([]byte, seal.KeySize)
	defer clear(dek)
	if _, err := io.ReadFull(v.opts.Rand, dek); err != nil {
		return err
	}
	wrapped, err := wrapDEK(v.unlocked.kek, v.vaultID, tenantID, version, dek)
	if err != nil {
		return err
	}
	if _, err := q.Exec("INSERT INTO deks (tenant_id, version, wrapped, created_at) VALUES (?, ?, ?, ?)", tenantID, version, wrapped, v.timestamp()); err != nil {
		return err
	}
	a, err := seal.NewWithRand(dek, v.opts.Rand)
	if err != nil {
		return err
	}
	v.cacheDEK(tenantID, version, a)
	return nil
}

func (v *Vault) cacheDEK(tenantID int64, version int, a *seal.AEAD) {
	m := v.unlocked.deks[tenantID]
	if m == nil {
		m = map[int]*seal.AEAD{}
		v.unlocked.deks[tenantID] = m
	}
	m[version] = a
}

func (v *Vault) dek(q querier, tenantID int64, version int) (*seal.AEAD, error) {
	if a := v.unlocked.deks[tenantID][version]; a != nil {
		return a, nil
	}
	var wrapped []byte
	err := q.QueryRow("SELECT wrapped FROM deks WHERE tenant_id = ? AND version = ?", tenantID, version).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: data key version %d of tenant %s is missing", ErrTampered, version, tenantLabel(q, tenantID))
	} else if err != nil {
		return nil, dbErr(err)
	}
	a, err := unwrapDEK(v.unlocked.kek, v.vaultID, tenantID, version, wrapped, v.opts.Rand)
	if err != nil {
		return nil, fmt.Errorf("%w: data key version %d of tenant %s does not unwrap", ErrTampered, version, tenantLabel(q, tenantID))
	}
	v.cacheDEK(tenantID, version, a)
	return a, nil
}

// tenantLabel names a tenant by its row ID for a message: its name, or
// "#ID" when the row cannot be read.
func tenantLabel(q querier, id int64) string {
	var name string
	if err := q.QueryRow("SELECT name FROM tenants WHERE id = ?", id).Scan(&name); err != nil {
		return fmt.Sprintf("#%d", id)
	}
	return name
}

func (v *Vault) addTenant(q querier, name string) (int64, error) {
	if !ValidTenant(name) {
		return 0, fmt.Errorf("%w: tenant %q (want [a-z0-9][a-z0-9_.-]*, at most 63 bytes)", ErrInvalidName, name)
	}
	var exists int
	if err := q.QueryRow("SELECT count(*) FROM tenants WHERE name = ?", name).Scan(&exists); err != nil {
		return 0, err
	}
	if exists > 0 {
		return 0, fmt.Errorf("%w: %q", ErrTenantExists, name)
	}
	res, err := q.Exec("INSERT INTO tenants (name, dek_version, created_at) VALUES (?, 1, ?)", name, v.timestamp())
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	return id, v.newDEK(q, id, 1)
}

// AddTenant creates a tenant with a fresh data key.
func (v *Vault) AddTenant(name string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	return v.write(context.Background(), func(tx *sql.Tx) error {
		if _, err := v.addTenant(tx, name); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "tenant-add", Tenant: name, Object: name, Success: true})
	})
}

// Tenants lists the tenants with their counts. It needs no key.
func (v *Vault) Tenants() ([]TenantInfo, error) {
	in, err := v.Info()
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

// Put stores value as a new version of name and returns the version. An
// empty description keeps the one of the latest version.
func (v *Vault) Put(tenantName, name string, value []byte, description string) (int, error) {
	vers, err := v.PutMany(tenantName, []Item{{Name: name, Value: value, Description: description}}, nil)
	if err != nil {
		return 0, err
	}
	return vers[0], nil
}

// PutMany stores every item as a new version, all in one transaction: all
// land or none. progress, if not nil, is called after each item.
func (v *Vault) PutMany(tenantName string, items []Item, progress func(done, total int)) ([]int, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	for _, it := range items {
		if !ValidName(it.Name) {
			return nil, fmt.Errorf("%w: secret %q (letters, digits and _.:/@+-, at most 255 bytes)", ErrInvalidName, it.Name)
		}
	}
	versions := make([]int, len(items))
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		dek, err := v.dek(tx, t.id, t.dekVersion)
		if err != nil {
			return err
		}
		now := v.timestamp()
		// The next version, and the latest version's description (kept
		// when the item has none).
		next, err := tx.Prepare("SELECT version + 1, description FROM secrets WHERE tenant_id = ? AND name = ? ORDER BY version DESC LIMIT 1")
		if err != nil {
			return err
		}
		defer next.Close()
		ins, err := tx.Prepare(`INSERT INTO secrets (tenant_id, name, version, dek_version, sealed, description, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		a := v.auditor(tx)
		defer a.close()
		for i, it := range items {
			ver, prevDesc := 1, ""
			if err := next.QueryRow(t.id, it.Name).Scan(&ver, &prevDesc); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			desc := it.Description
			if desc == "" && !it.ClearDescription {
				desc = prevDesc
			}
			sealed, err := sealValue(dek, t.id, it.Name, ver, t.dekVersion, it.Value)
			if err != nil {
				return err
			}
			if _, err := ins.Exec(t.id, it.Name, ver, t.dekVersion, sealed, desc, now, v.opts.Actor); err != nil {
				return err
			}
			if err := v.fillStub(tx, t.id, it.Name); err != nil {
				return err
			}
			if err := a.append(auditRow{Action: "put", Tenant: t.name, Object: it.Name, Success: true, Detail: fmt.Sprintf("version %d", ver)}); err != nil {
				return err
			}
			versions[i] = ver
			if progress != nil {
				progress(i+1, len(items))
			}
		}
		return nil
	})
	if err != nil {
		v.auditFailure("put", tenantName, itemNames(items), err)
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

const infoCols = "s.name, s.version, s.description, s.created_at, s.created_by, coalesce(s.deleted_at, ''), s.dek_version"

// secretRow reads one version of a secret (version > 0) or its latest
// version, with the sealed value; sql.ErrNoRows when there is none.
func secretRow(q querier, t *tenant, name string, version int) (SecretInfo, []byte, error) {
	query := "SELECT " + infoCols + ", s.sealed FROM secrets s WHERE s.tenant_id = ? AND s.name = ?"
	args := []any{t.id, name}
	if version > 0 {
		query += " AND s.version = ?"
		args = append(args, version)
	} else {
		query += " ORDER BY s.version DESC LIMIT 1"
	}
	var sealed []byte
	si, err := scanInfo(q.QueryRow(query, args...), t.name, &sealed)
	return si, sealed, err
}

func scanInfo(sc interface{ Scan(...any) error }, tenant string, extra ...any) (SecretInfo, error) {
	si := SecretInfo{Tenant: tenant}
	err := sc.Scan(append([]any{&si.Name, &si.Version, &si.Description, &si.CreatedAt, &si.CreatedBy, &si.DeletedAt, &si.DEKVersion}, extra...)...)
	return si, err
}

// Get returns version of name, or its latest version when version is 0. A
// removed secret is not found unless a version is asked for. The read is
// audited.
func (v *Vault) Get(tenantName, name string, version int) (*Secret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *Secret
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		si, sealed, err := secretRow(tx, t, name, version)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && version == 0 && si.DeletedAt != "") {
			what := fmt.Sprintf("%q in tenant %s", name, t.name)
			if version > 0 {
				what = fmt.Sprintf("%q version %d in tenant %s", name, version, t.name)
			} else if err == nil {
				what += " (removed)"
			}
			return fmt.Errorf("%w: %s", ErrNotFound, what)
		} else if err != nil {
			return err
		}
		dek, err := v.dek(tx, t.id, si.DEKVersion)
		if err != nil {
			return err
		}
		pt, err := openValue(dek, t.id, si.Name, si.Version, si.DEKVersion, sealed)
		if err != nil {
			return err
		}
		out = &Secret{SecretInfo: si, Value: pt}
		return v.appendAudit(tx, auditRow{Action: "get", Tenant: t.name, Object: name, Success: true, Detail: fmt.Sprintf("version %d", si.Version)})
	})
	if err != nil {
		v.auditFailure("get", tenantName, name, err)
		return nil, err
	}
	return out, nil
}

// GetAll returns the latest version of every secret of the tenant whose
// name starts with prefix, skipping removed ones. Each read is audited with
// the given purpose as detail.
func (v *Vault) GetAll(tenantName, prefix, purpose string) ([]Secret, error) {
	return v.GetAllChecked(tenantName, prefix, purpose, nil)
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
func (v *Vault) GetAllChecked(tenantName, prefix, purpose string, check func([]ValueSize) error) ([]Secret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []Secret
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT `+infoCols+`, s.sealed, max(s.version) FROM secrets s
			WHERE s.tenant_id = ? AND substr(s.name, 1, ?) = ? GROUP BY s.name ORDER BY s.name`, t.id, len(prefix), prefix)
		if err != nil {
			return err
		}
		type row struct {
			si     SecretInfo
			sealed []byte
		}
		var rs []row
		for rows.Next() {
			var r row
			var maxv int
			if r.si, err = scanInfo(rows, t.name, &r.sealed, &maxv); err != nil {
				rows.Close()
				return err
			}
			if r.si.DeletedAt == "" {
				rs = append(rs, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if check != nil {
			sizes := make([]ValueSize, len(rs))
			for i, r := range rs {
				sizes[i] = ValueSize{Name: r.si.Name, Size: max(len(r.sealed)-seal.Overhead, 0)}
			}
			if err := check(sizes); err != nil {
				return err
			}
		}
		a := v.auditor(tx)
		defer a.close()
		for _, r := range rs {
			dek, err := v.dek(tx, t.id, r.si.DEKVersion)
			if err != nil {
				return err
			}
			pt, err := openValue(dek, t.id, r.si.Name, r.si.Version, r.si.DEKVersion, r.sealed)
			if err != nil {
				return err
			}
			out = append(out, Secret{SecretInfo: r.si, Value: pt})
			if err := a.append(auditRow{Action: "get", Tenant: t.name, Object: r.si.Name, Success: true, Detail: fmt.Sprintf("version %d, %s", r.si.Version, purpose)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		v.auditFailure("get", tenantName, prefix+"*", err)
		return nil, err
	}
	return out, nil
}

// List returns the latest version of each secret of the tenant that is not
// removed, by name. It reads no values.
func (v *Vault) List(tenantName string) ([]SecretInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	rows, err := v.db.Query(`SELECT `+infoCols+`, max(s.version) FROM secrets s WHERE s.tenant_id = ? GROUP BY s.name ORDER BY s.name`, t.id)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []SecretInfo{}
	for rows.Next() {
		var maxv int
		si, err := scanInfo(rows, t.name, &maxv)
		if err != nil {
			return nil, dbErr(err)
		}
		if si.DeletedAt == "" {
			out = append(out, si)
		}
	}
	return out, dbErr(rows.Err())
}

// History returns every stored version of name, oldest first.
func (v *Vault) History(tenantName, name string) ([]SecretInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	rows, err := v.db.Query(`SELECT `+infoCols+` FROM secrets s WHERE s.tenant_id = ? AND s.name = ? ORDER BY s.version`, t.id, name)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []SecretInfo
	for rows.Next() {
		si, err := scanInfo(rows, t.name)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, si)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q in tenant %s", ErrNotFound, name, t.name)
	}
	return out, nil
}

// Remove marks every version of name removed (history is kept), or with
// purge deletes them all. It returns the number of versions affected.
func (v *Vault) Remove(tenantName, name string, purge bool) (int, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	var n int64
	action := "rm"
	if purge {
		action = "purge"
	}
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		var res sql.Result
		if purge {
			res, err = tx.Exec("DELETE FROM secrets WHERE tenant_id = ? AND name = ?", t.id, name)
		} else {
			res, err = tx.Exec("UPDATE secrets SET deleted_at = ? WHERE tenant_id = ? AND name = ? AND deleted_at IS NULL", v.timestamp(), t.id, name)
		}
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: %q in tenant %s", ErrNotFound, name, t.name)
		}
		return v.appendAudit(tx, auditRow{Action: action, Tenant: t.name, Object: name, Success: true, Detail: fmt.Sprintf("%d versions", n)})
	})
	if err != nil {
		v.auditFailure(action, tenantName, name, err)
		return 0, err
	}
	return int(n), nil
}

// auditFailure records a failed operation, keyed when the vault is
// unlocked. It is best effort: the operation's own error is what matters.
func (v *Vault) auditFailure(action, tenantName, object string, cause error) {
	if v.unlocked == nil || errors.Is(cause, ErrInvalidName) {
		return
	}
	detail := "failed"
	switch {
	case errors.Is(cause, ErrNotFound):
		detail = "not found"
	case errors.Is(cause, ErrNoTenant):
		detail = "no such tenant"
	case errors.Is(cause, ErrTampered):
		detail = "does not authenticate"
	}
	_ = v.write(context.Background(), func(tx *sql.Tx) error {
		return v.appendAudit(tx, auditRow{Action: action, Tenant: tenantName, Object: object, Success: false, Detail: detail})
	})
}
