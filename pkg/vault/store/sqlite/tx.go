package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// tx is one transaction; ro for View's.
type tx struct {
	tx    *sql.Tx
	ro    bool
	sc    *stmtCache           // the DB's prepared statements (stmtcache.go)
	bound map[string]*sql.Stmt // those bound to this transaction
}

var _ store.Tx = (*tx)(nil)

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if t.ro {
		return nil, store.ErrReadOnlyTx
	}
	if st := t.stmt(ctx, q); st != nil {
		res, err := st.ExecContext(ctx, args...)
		return res, dbErr(err)
	}
	res, err := t.tx.ExecContext(ctx, q, args...)
	return res, dbErr(err)
}

func (t *tx) row(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// rows runs q: a cached statement when there is one.
func (t *tx) rows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

// query runs q and calls scan for every row.
func (t *tx) query(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := t.rows(ctx, q, args...)
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return dbErr(err)
		}
	}
	return dbErr(rows.Err())
}

// affected returns how many rows res changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), dbErr(err)
}

func lastID(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	return id, dbErr(err)
}

// null writes "" as NULL; zero writes 0 as NULL.
func null(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func zero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// noRow wraps sql.ErrNoRows as store.ErrNoRow, with what was looked up.
func noRow(err error, what string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", store.ErrNoRow, fmt.Sprintf(what, args...))
	}
	return dbErr(err)
}

// Meta

func (t *tx) Meta(ctx context.Context) (map[string][]byte, error) {
	m := map[string][]byte{}
	err := t.query(ctx, "SELECT key, value FROM meta", nil, func(r *sql.Rows) error {
		var k string
		var v []byte
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		m[k] = v
		return nil
	})
	return m, err
}

func (t *tx) SetMeta(ctx context.Context, key string, value []byte) error {
	_, err := t.exec(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

// Tenants

const tenantCols = "id, name, dek_version, created_at"

func scanTenant(sc interface{ Scan(...any) error }) (store.Tenant, error) {
	var x store.Tenant
	err := sc.Scan(&x.ID, &x.Name, &x.DEKVersion, &x.CreatedAt)
	return x, err
}

func (t *tx) Tenant(ctx context.Context, name string) (store.Tenant, error) {
	x, err := scanTenant(t.row(ctx, "SELECT "+tenantCols+" FROM tenants WHERE name = ?", name))
	return x, noRow(err, "tenant %q", name)
}

func (t *tx) TenantByID(ctx context.Context, id int64) (store.Tenant, error) {
	x, err := scanTenant(t.row(ctx, "SELECT "+tenantCols+" FROM tenants WHERE id = ?", id))
	return x, noRow(err, "tenant %d", id)
}

func (t *tx) Tenants(ctx context.Context) ([]store.Tenant, error) {
	var out []store.Tenant
	err := t.query(ctx, "SELECT "+tenantCols+" FROM tenants ORDER BY name", nil, func(r *sql.Rows) error {
		x, err := scanTenant(r)
		out = append(out, x)
		return err
	})
	return out, err
}

// InsertTenant: tenants are never deleted, so INTEGER PRIMARY KEY (max+1)
// never reuses an ID.
func (t *tx) InsertTenant(ctx context.Context, x store.Tenant) (int64, error) {
	return lastID(t.exec(ctx, "INSERT INTO tenants (id, name, dek_version, created_at) VALUES (?, ?, ?, ?)", zero(x.ID), x.Name, x.DEKVersion, x.CreatedAt))
}

func (t *tx) SetTenantDEKVersion(ctx context.Context, id int64, version int) error {
	_, err := t.exec(ctx, "UPDATE tenants SET dek_version = ? WHERE id = ?", version, id)
	return err
}

// LockTenant: one writer at a time already (BEGIN IMMEDIATE).
func (t *tx) LockTenant(context.Context, int64) error { return nil }

// DEKs

func (t *tx) DEK(ctx context.Context, tenantID int64, version int) (store.DEK, error) {
	d := store.DEK{TenantID: tenantID, Version: version}
	err := t.row(ctx, "SELECT wrapped, created_at FROM deks WHERE tenant_id = ? AND version = ?", tenantID, version).Scan(&d.Wrapped, &d.CreatedAt)
	return d, noRow(err, "data key %d of tenant %d", version, tenantID)
}

func (t *tx) DEKs(ctx context.Context) ([]store.DEK, error) {
	var out []store.DEK
	err := t.query(ctx, "SELECT tenant_id, version, wrapped, created_at FROM deks ORDER BY tenant_id, version", nil, func(r *sql.Rows) error {
		var d store.DEK
		err := r.Scan(&d.TenantID, &d.Version, &d.Wrapped, &d.CreatedAt)
		out = append(out, d)
		return err
	})
	return out, err
}

func (t *tx) MaxDEKVersion(ctx context.Context, tenantID int64) (int, error) {
	var n int
	err := t.row(ctx, "SELECT coalesce(max(version), 0) FROM deks WHERE tenant_id = ?", tenantID).Scan(&n)
	return n, dbErr(err)
}

func (t *tx) InsertDEK(ctx context.Context, d store.DEK) error {
	_, err := t.exec(ctx, "INSERT INTO deks (tenant_id, version, wrapped, created_at) VALUES (?, ?, ?, ?)", d.TenantID, d.Version, d.Wrapped, d.CreatedAt)
	return err
}

func (t *tx) UpdateDEK(ctx context.Context, tenantID int64, version int, wrapped []byte) error {
	n, err := affected(t.exec(ctx, "UPDATE deks SET wrapped = ? WHERE tenant_id = ? AND version = ?", wrapped, tenantID, version))
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: data key %d of tenant %d", store.ErrNoRow, version, tenantID)
	}
	return err
}

func (t *tx) DeleteDEKsExcept(ctx context.Context, tenantID int64, keep int) error {
	_, err := t.exec(ctx, "DELETE FROM deks WHERE tenant_id = ? AND version <> ?", tenantID, keep)
	return err
}

// Secrets

const secretCols = "s.id, s.tenant_id, s.name, s.version, s.dek_version, s.description, s.created_at, s.created_by, coalesce(s.deleted_at, '')"

func scanSecret(sc interface{ Scan(...any) error }, extra ...any) (store.Secret, error) {
	var x store.Secret
	err := sc.Scan(append([]any{&x.ID, &x.TenantID, &x.Name, &x.Version, &x.DEKVersion, &x.Description, &x.CreatedAt, &x.CreatedBy, &x.DeletedAt}, extra...)...)
	return x, err
}

func (t *tx) Secret(ctx context.Context, tenantID int64, name string, version int) (store.Secret, error) {
	q := "SELECT " + secretCols + ", s.sealed FROM secrets s WHERE s.tenant_id = ? AND s.name = ?"
	args := []any{tenantID, name}
	if version > 0 {
		q += " AND s.version = ?"
		args = append(args, version)
	} else {
		q += " ORDER BY s.version DESC LIMIT 1"
	}
	var sealed []byte
	x, err := scanSecret(t.row(ctx, q, args...), &sealed)
	x.Sealed = sealed
	return x, noRow(err, "secret %q version %d of tenant %d", name, version, tenantID)
}

// LatestSecrets uses SQLite's bare columns beside max() (the row with the
// maximum), over the (tenant_id, name, version) index, walked backwards
// (ORDER BY name DESC; EXPLAIN QUERY PLAN: "SEARCH s USING INDEX
// sqlite_autoindex_secrets_1 (tenant_id=?)", no sort): the first row of a
// name is then its newest version, so the table row is read once per name,
// not once per version; the result is reversed in Go. At 100,000 names the
// cost is in Go, not in SQLite, so the scan allocates little: the text
// columns come as one value read as sql.RawBytes, a row's name and
// created_at share one string, the few distinct created_by, description
// and deleted_at values are interned, and the rows are collected in fixed
// chunks copied once into a slice of the exact length.
func (t *tx) LatestSecrets(ctx context.Context, tenantID int64, prefix string, values bool) ([]store.Secret, error) {
	// The text columns come as one value (one driver allocation per row,
	// not five), NUL-separated: names, times and actors hold no NUL; the
	// description, last, is the rest whatever it holds.
	q := "SELECT s.id, max(s.version), s.dek_version, s.name || char(0) || s.created_at || char(0) || s.created_by || char(0) || coalesce(s.deleted_at, '') || char(0) || s.description"
	if values {
		q += ", s.sealed"
	}
	q += " FROM secrets s WHERE s.tenant_id = ?"
	args := []any{tenantID}
	if prefix != "" {
		q += " AND s.name >= ? AND substr(s.name, 1, ?) = ?"
		args = append(args, prefix, len([]rune(prefix)), prefix)
	}
	const chunk = 4096
	var (
		chunks [][]store.Secret
		cur    []store.Secret
		n      int
		buf    []byte
		text   sql.RawBytes
		x      store.Secret
		sealed []byte
	)
	interned := map[string]string{}
	intern := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		if s, ok := interned[string(b)]; ok { // no allocation for the lookup
			return s
		}
		if len(interned) >= 1024 { // not few after all: stop growing the map
			return string(b)
		}
		s := string(b)
		interned[s] = s
		return s
	}
	dest := []any{&x.ID, &x.Version, &x.DEKVersion, &text}
	if values {
		dest = append(dest, &sealed)
	}
	err := t.query(ctx, q+" GROUP BY s.name ORDER BY s.name DESC", args, func(r *sql.Rows) error {
		sealed = nil
		if err := r.Scan(dest...); err != nil {
			return err
		}
		var f [5][]byte
		rest, ok := []byte(text), true
		for i := 0; i < 4 && ok; i++ {
			f[i], rest, ok = bytes.Cut(rest, []byte{0})
		}
		if !ok {
			return fmt.Errorf("%w: secret row %d: its text columns do not split", vaulterr.ErrCorrupt, x.ID)
		}
		f[4] = rest
		buf = append(append(buf[:0], f[0]...), f[1]...)
		both := string(buf)
		x.TenantID = tenantID
		x.Name, x.CreatedAt = both[:len(f[0])], both[len(f[0]):]
		x.CreatedBy, x.DeletedAt, x.Description = intern(f[2]), intern(f[3]), intern(f[4])
		x.Sealed = sealed
		if cur == nil {
			cur = make([]store.Secret, 0, chunk)
		}
		cur = append(cur, x)
		if len(cur) == chunk {
			chunks, cur = append(chunks, cur), nil
		}
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Secret, 0, n)
	for _, c := range chunks {
		out = append(out, c...)
	}
	out = append(out, cur...)
	slices.Reverse(out)
	return out, nil
}

// jsonList passes a list of strings as one parameter, read back with
// json_each: one statement text (and one cached statement) whatever the
// list's length.
func jsonList(xs []string) string {
	b, _ := json.Marshal(xs) // strings always marshal
	return string(b)
}

// LatestOf: SQLite's bare columns beside max() give each name's newest
// row; the names come as one JSON parameter, each probing the (tenant_id,
// name, version) index.
func (t *tx) LatestOf(ctx context.Context, tenantID int64, names []string) ([]store.Secret, error) {
	out := []store.Secret{}
	if len(names) == 0 {
		return out, nil
	}
	q := "SELECT s.id, s.tenant_id, s.name, max(s.version), s.dek_version, s.description, s.created_at, s.created_by, coalesce(s.deleted_at, ''), s.sealed" +
		" FROM secrets s WHERE s.tenant_id = ? AND s.name IN (SELECT value FROM json_each(?)) GROUP BY s.name ORDER BY s.name"
	err := t.query(ctx, q, []any{tenantID, jsonList(names)}, func(r *sql.Rows) error {
		var sealed []byte
		x, err := scanSecret(r, &sealed)
		x.Sealed = sealed
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) SecretHistory(ctx context.Context, tenantID int64, name string) ([]store.Secret, error) {
	var out []store.Secret
	err := t.query(ctx, "SELECT "+secretCols+" FROM secrets s WHERE s.tenant_id = ? AND s.name = ? ORDER BY s.version", []any{tenantID, name}, func(r *sql.Rows) error {
		x, err := scanSecret(r)
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) SecretsPage(ctx context.Context, tenantID, afterID int64, limit int) ([]store.Secret, error) {
	q := "SELECT " + secretCols + ", s.sealed FROM secrets s WHERE s.id > ?"
	args := []any{afterID}
	if tenantID != 0 {
		q += " AND s.tenant_id = ?"
		args = append(args, tenantID)
	}
	var out []store.Secret
	err := t.query(ctx, q+" ORDER BY s.id LIMIT ?", append(args, limit), func(r *sql.Rows) error {
		var sealed []byte
		x, err := scanSecret(r, &sealed)
		x.Sealed = sealed
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) SecretCounts(ctx context.Context, tenantID int64) (live, versions int, err error) {
	err = t.row(ctx, `SELECT (SELECT count(*) FROM secrets WHERE tenant_id = ?1),
		(SELECT count(*) FROM (SELECT deleted_at, max(version) FROM secrets WHERE tenant_id = ?1 GROUP BY name) WHERE deleted_at IS NULL)`, tenantID).Scan(&versions, &live)
	return live, versions, dbErr(err)
}

func (t *tx) InsertSecret(ctx context.Context, x store.Secret) error {
	_, err := t.exec(ctx, `INSERT INTO secrets (tenant_id, name, version, dek_version, sealed, description, created_at, created_by, deleted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, x.TenantID, x.Name, x.Version, x.DEKVersion, x.Sealed, x.Description, x.CreatedAt, x.CreatedBy, null(x.DeletedAt))
	return err
}

func (t *tx) UpdateSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error {
	_, err := t.exec(ctx, "UPDATE secrets SET sealed = ?, dek_version = ? WHERE id = ?", sealed, dekVersion, id)
	return err
}

func (t *tx) RemoveSecret(ctx context.Context, tenantID int64, name, at string) (int, error) {
	return affected(t.exec(ctx, "UPDATE secrets SET deleted_at = ? WHERE tenant_id = ? AND name = ? AND deleted_at IS NULL", at, tenantID, name))
}

func (t *tx) PurgeSecret(ctx context.Context, tenantID int64, name string) (int, error) {
	return affected(t.exec(ctx, "DELETE FROM secrets WHERE tenant_id = ? AND name = ?", tenantID, name))
}

// Devices

const deviceCols = "d.id, d.tenant_id, d.device_id, d.name, coalesce(d.device_uuid, ''), d.role, d.created_at, d.created_by, d.mac, " +
	"(SELECT count(*) FROM device_keys k WHERE k.device_ref = d.id AND k.status = 'active')"

func scanDevice(sc interface{ Scan(...any) error }) (store.Device, error) {
	var d store.Device
	err := sc.Scan(&d.Ref, &d.TenantID, &d.ID, &d.Name, &d.UUID, &d.Role, &d.CreatedAt, &d.CreatedBy, &d.MAC, &d.ActiveKeys)
	return d, err
}

func (t *tx) DeviceBy(ctx context.Context, tenantID int64, field, value string) (store.Device, error) {
	switch field {
	case store.ByDeviceID, store.ByUUID, store.ByName:
	default:
		return store.Device{}, fmt.Errorf("sqlite: unknown device field %q", field)
	}
	d, err := scanDevice(t.row(ctx, "SELECT "+deviceCols+" FROM devices d WHERE d.tenant_id = ? AND d."+field+" = ?", tenantID, value))
	return d, noRow(err, "device %s %q", field, value)
}

func (t *tx) DeviceByRef(ctx context.Context, ref int64) (store.Device, error) {
	d, err := scanDevice(t.row(ctx, "SELECT "+deviceCols+" FROM devices d WHERE d.id = ?", ref))
	return d, noRow(err, "device %d", ref)
}

func (t *tx) Devices(ctx context.Context, tenantID int64, role string) ([]store.Device, error) {
	q := "SELECT " + deviceCols + " FROM devices d WHERE 1 = 1"
	var args []any
	if tenantID != 0 {
		q += " AND d.tenant_id = ?"
		args = append(args, tenantID)
	}
	if role != "" {
		q += " AND d.role = ?"
		args = append(args, role)
	}
	out := []store.Device{}
	err := t.query(ctx, q+" ORDER BY d.tenant_id, d.name", args, func(r *sql.Rows) error {
		d, err := scanDevice(r)
		out = append(out, d)
		return err
	})
	return out, err
}

func (t *tx) InsertDevice(ctx context.Context, d store.Device) (int64, error) {
	return lastID(t.exec(ctx, `INSERT INTO devices (id, tenant_id, device_id, name, device_uuid, role, created_at, created_by, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, zero(d.Ref), d.TenantID, d.ID, d.Name, null(d.UUID), d.Role, d.CreatedAt, d.CreatedBy, d.MAC))
}

func (t *tx) UpdateDevice(ctx context.Context, ref int64, role string, mac []byte) error {
	_, err := t.exec(ctx, "UPDATE devices SET role = ?, mac = ? WHERE id = ?", role, mac, ref)
	return err
}

func (t *tx) DeleteDevice(ctx context.Context, ref int64) error {
	_, err := t.exec(ctx, "DELETE FROM devices WHERE id = ?", ref)
	return err
}

func (t *tx) DeviceRowCounts(ctx context.Context, ref int64) (keys, secrets int, err error) {
	err = t.row(ctx, "SELECT (SELECT count(*) FROM device_keys WHERE device_ref = ?1), (SELECT count(*) FROM device_secrets WHERE device_ref = ?1)", ref).Scan(&keys, &secrets)
	return keys, secrets, dbErr(err)
}

// Device keys

const keyCols = "k.id, k.tenant_id, k.device_ref, d.device_id, k.key_id, k.spki, k.fingerprint, k.role, k.origin, k.status, k.created_at, k.created_by, coalesce(k.revoked_at, ''), k.mac"

func scanKey(sc interface{ Scan(...any) error }) (store.DeviceKey, error) {
	var k store.DeviceKey
	err := sc.Scan(&k.ID, &k.TenantID, &k.DeviceRef, &k.DeviceID, &k.KeyID, &k.SPKI, &k.Fingerprint, &k.Role, &k.Origin, &k.Status, &k.CreatedAt, &k.CreatedBy, &k.RevokedAt, &k.MAC)
	return k, err
}

func (t *tx) DeviceKeys(ctx context.Context, deviceRef int64) ([]store.DeviceKey, error) {
	q := "SELECT " + keyCols + " FROM device_keys k JOIN devices d ON d.id = k.device_ref"
	var args []any
	if deviceRef != 0 {
		q += " WHERE k.device_ref = ?"
		args = append(args, deviceRef)
	}
	out := []store.DeviceKey{}
	err := t.query(ctx, q+" ORDER BY k.id", args, func(r *sql.Rows) error {
		k, err := scanKey(r)
		out = append(out, k)
		return err
	})
	return out, err
}

func (t *tx) DeviceKeyFind(ctx context.Context, tenantID int64, keyID, fingerprint string) (store.DeviceKey, error) {
	k, err := scanKey(t.row(ctx, "SELECT "+keyCols+" FROM device_keys k JOIN devices d ON d.id = k.device_ref WHERE k.tenant_id = ? AND (k.key_id = ? OR k.fingerprint = ?) ORDER BY k.id LIMIT 1",
		tenantID, keyID, fingerprint))
	return k, noRow(err, "device key %q", keyID)
}

func (t *tx) InsertDeviceKey(ctx context.Context, k store.DeviceKey) (int64, error) {
	return lastID(t.exec(ctx, `INSERT INTO device_keys (id, tenant_id, device_ref, key_id, spki, fingerprint, role, origin, status, created_at, created_by, revoked_at, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, zero(k.ID), k.TenantID, k.DeviceRef, k.KeyID, k.SPKI, k.Fingerprint, k.Role, k.Origin, k.Status,
		k.CreatedAt, k.CreatedBy, null(k.RevokedAt), k.MAC))
}

func (t *tx) UpdateDeviceKey(ctx context.Context, id int64, status, revokedAt string, mac []byte) error {
	_, err := t.exec(ctx, "UPDATE device_keys SET status = ?, revoked_at = ?, mac = ? WHERE id = ?", status, null(revokedAt), mac, id)
	return err
}

// Challenges

func (t *tx) InsertChallenge(ctx context.Context, c store.Challenge) error {
	_, err := t.exec(ctx, `INSERT INTO device_challenges (nonce, tenant_id, device_ref, created_at, expires_at, consumed_at, consumed_by) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.Nonce, c.TenantID, c.DeviceRef, c.CreatedAt, c.ExpiresAt, null(c.ConsumedAt), null(c.ConsumedBy))
	return err
}

func (t *tx) Challenge(ctx context.Context, deviceRef int64, nonce []byte) (store.Challenge, error) {
	c := store.Challenge{Nonce: nonce, DeviceRef: deviceRef}
	err := t.row(ctx, "SELECT tenant_id, created_at, expires_at, coalesce(consumed_at, ''), coalesce(consumed_by, '') FROM device_challenges WHERE nonce = ? AND device_ref = ?",
		nonce, deviceRef).Scan(&c.TenantID, &c.CreatedAt, &c.ExpiresAt, &c.ConsumedAt, &c.ConsumedBy)
	return c, noRow(err, "challenge")
}

func (t *tx) ConsumeChallenge(ctx context.Context, nonce []byte, at, by string) (bool, error) {
	n, err := affected(t.exec(ctx, "UPDATE device_challenges SET consumed_at = ?, consumed_by = ? WHERE nonce = ? AND consumed_at IS NULL", at, by, nonce))
	return n == 1, err
}

// Device secrets

const deviceSecretCols = "s.id, s.tenant_id, s.device_ref, s.name, s.version, s.dek_version, s.source, s.created_at, s.created_by"

func scanDeviceSecret(sc interface{ Scan(...any) error }, extra ...any) (store.DeviceSecret, error) {
	var x store.DeviceSecret
	err := sc.Scan(append([]any{&x.ID, &x.TenantID, &x.DeviceRef, &x.Name, &x.Version, &x.DEKVersion, &x.Source, &x.CreatedAt, &x.CreatedBy}, extra...)...)
	return x, err
}

func (t *tx) DeviceSecret(ctx context.Context, deviceRef int64, name string) (store.DeviceSecret, error) {
	var sealed []byte
	x, err := scanDeviceSecret(t.row(ctx, "SELECT "+deviceSecretCols+", s.sealed FROM device_secrets s WHERE s.device_ref = ? AND s.name = ? ORDER BY s.version DESC LIMIT 1",
		deviceRef, name), &sealed)
	x.Sealed = sealed
	return x, noRow(err, "device secret %q", name)
}

func (t *tx) LatestDeviceSecrets(ctx context.Context, deviceRef int64) ([]store.DeviceSecret, error) {
	out := []store.DeviceSecret{}
	err := t.query(ctx, `SELECT `+deviceSecretCols+` FROM device_secrets s
		WHERE s.device_ref = ? AND s.version = (SELECT max(version) FROM device_secrets x WHERE x.device_ref = s.device_ref AND x.name = s.name)
		ORDER BY s.name`, []any{deviceRef}, func(r *sql.Rows) error {
		x, err := scanDeviceSecret(r)
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) DeviceSecretsOf(ctx context.Context, tenantID int64) ([]store.DeviceSecret, error) {
	q := "SELECT " + deviceSecretCols + ", s.sealed FROM device_secrets s"
	var args []any
	if tenantID != 0 {
		q += " WHERE s.tenant_id = ?"
		args = append(args, tenantID)
	}
	var out []store.DeviceSecret
	err := t.query(ctx, q+" ORDER BY s.id", args, func(r *sql.Rows) error {
		var sealed []byte
		x, err := scanDeviceSecret(r, &sealed)
		x.Sealed = sealed
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) MaxDeviceSecretVersion(ctx context.Context, deviceRef int64, name string) (int, error) {
	var n int
	err := t.row(ctx, "SELECT coalesce(max(version), 0) FROM device_secrets WHERE device_ref = ? AND name = ?", deviceRef, name).Scan(&n)
	return n, dbErr(err)
}

func (t *tx) InsertDeviceSecret(ctx context.Context, x store.DeviceSecret) error {
	_, err := t.exec(ctx, `INSERT INTO device_secrets (tenant_id, device_ref, name, version, dek_version, sealed, source, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, x.TenantID, x.DeviceRef, x.Name, x.Version, x.DEKVersion, x.Sealed, x.Source, x.CreatedAt, x.CreatedBy)
	return err
}

func (t *tx) UpdateDeviceSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error {
	_, err := t.exec(ctx, "UPDATE device_secrets SET sealed = ?, dek_version = ? WHERE id = ?", sealed, dekVersion, id)
	return err
}

// Reports

const reportCols = "id, tenant_id, request_id, coalesce(device_ref, 0), device_uuid, digest, secrets, applied_at, applied_by"

func scanReport(sc interface{ Scan(...any) error }) (store.Report, error) {
	var r store.Report
	err := sc.Scan(&r.ID, &r.TenantID, &r.RequestID, &r.DeviceRef, &r.DeviceUUID, &r.Digest, &r.Secrets, &r.AppliedAt, &r.AppliedBy)
	return r, err
}

func (t *tx) Report(ctx context.Context, tenantID int64, requestID string) (store.Report, error) {
	r, err := scanReport(t.row(ctx, "SELECT "+reportCols+" FROM device_reports WHERE tenant_id = ? AND request_id = ?", tenantID, requestID))
	return r, noRow(err, "report %q", requestID)
}

func (t *tx) Reports(ctx context.Context) ([]store.Report, error) {
	var out []store.Report
	err := t.query(ctx, "SELECT "+reportCols+" FROM device_reports ORDER BY id", nil, func(r *sql.Rows) error {
		x, err := scanReport(r)
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) InsertReport(ctx context.Context, r store.Report) error {
	_, err := t.exec(ctx, `INSERT INTO device_reports (id, tenant_id, request_id, device_ref, device_uuid, digest, secrets, applied_at, applied_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, zero(r.ID), r.TenantID, r.RequestID, zero(r.DeviceRef), r.DeviceUUID, r.Digest, r.Secrets, r.AppliedAt, r.AppliedBy)
	return err
}

// Tokens

const tokenCols = "id, service, service_version, hash, status, created_at, created_by, coalesce(decided_at, ''), coalesce(decided_by, ''), coalesce(last_used, ''), use_count, mac"

func scanToken(sc interface{ Scan(...any) error }) (store.Token, error) {
	var x store.Token
	err := sc.Scan(&x.ID, &x.Service, &x.ServiceVersion, &x.Hash, &x.Status, &x.CreatedAt, &x.CreatedBy, &x.DecidedAt, &x.DecidedBy, &x.LastUsed, &x.UseCount, &x.MAC)
	return x, err
}

func (t *tx) Token(ctx context.Context, id string) (store.Token, error) {
	x, err := scanToken(t.row(ctx, "SELECT "+tokenCols+" FROM service_tokens WHERE id = ?", id))
	return x, noRow(err, "token %q", id)
}

func (t *tx) Tokens(ctx context.Context) ([]store.Token, error) {
	out := []store.Token{}
	err := t.query(ctx, "SELECT "+tokenCols+" FROM service_tokens ORDER BY service, created_at, id", nil, func(r *sql.Rows) error {
		x, err := scanToken(r)
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) InsertToken(ctx context.Context, x store.Token) error {
	_, err := t.exec(ctx, `INSERT INTO service_tokens (id, service, service_version, hash, status, created_at, created_by, decided_at, decided_by, last_used, use_count, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, x.ID, x.Service, x.ServiceVersion, x.Hash, x.Status, x.CreatedAt, x.CreatedBy,
		null(x.DecidedAt), null(x.DecidedBy), null(x.LastUsed), x.UseCount, x.MAC)
	return err
}

func (t *tx) DecideToken(ctx context.Context, id, status, at, by string, mac []byte) error {
	_, err := t.exec(ctx, "UPDATE service_tokens SET status = ?, decided_at = ?, decided_by = ?, mac = ? WHERE id = ?", status, at, by, mac, id)
	return err
}

func (t *tx) TouchToken(ctx context.Context, id, at string) error {
	_, err := t.exec(ctx, "UPDATE service_tokens SET last_used = ?, use_count = use_count + 1 WHERE id = ?", at, id)
	return err
}

func (t *tx) SetTokenMAC(ctx context.Context, id string, mac []byte) error {
	_, err := t.exec(ctx, "UPDATE service_tokens SET mac = ? WHERE id = ?", mac, id)
	return err
}

// Grants

const grantCols = "tenant_id, service, name, status, decided_at, decided_by, access_count, coalesce(last_access, ''), mac"

func scanGrant(sc interface{ Scan(...any) error }) (store.Grant, error) {
	var g store.Grant
	err := sc.Scan(&g.TenantID, &g.Service, &g.Name, &g.Status, &g.DecidedAt, &g.DecidedBy, &g.AccessCount, &g.LastAccess, &g.MAC)
	return g, err
}

func (t *tx) Grant(ctx context.Context, tenantID int64, service, name string) (store.Grant, error) {
	g, err := scanGrant(t.row(ctx, "SELECT "+grantCols+" FROM grants WHERE tenant_id = ? AND service = ? AND name = ?", tenantID, service, name))
	return g, noRow(err, "grant of %s for %q", service, name)
}

func (t *tx) GrantsOf(ctx context.Context, tenantID int64, service string, names []string) ([]store.Grant, error) {
	out := []store.Grant{}
	if len(names) == 0 {
		return out, nil
	}
	q := "SELECT " + grantCols + " FROM grants WHERE tenant_id = ? AND service = ? AND name IN (SELECT value FROM json_each(?)) ORDER BY name"
	err := t.query(ctx, q, []any{tenantID, service, jsonList(names)}, func(r *sql.Rows) error {
		g, err := scanGrant(r)
		out = append(out, g)
		return err
	})
	return out, err
}

func (t *tx) Grants(ctx context.Context, tenantID int64) ([]store.Grant, error) {
	q := "SELECT " + grantCols + " FROM grants"
	var args []any
	if tenantID != 0 {
		q += " WHERE tenant_id = ?"
		args = append(args, tenantID)
	}
	out := []store.Grant{}
	err := t.query(ctx, q+" ORDER BY tenant_id, service, name", args, func(r *sql.Rows) error {
		g, err := scanGrant(r)
		out = append(out, g)
		return err
	})
	return out, err
}

func (t *tx) PutGrant(ctx context.Context, g store.Grant) error {
	_, err := t.exec(ctx, `INSERT INTO grants (tenant_id, service, name, status, decided_at, decided_by, access_count, last_access, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, service, name) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by, mac = excluded.mac`,
		g.TenantID, g.Service, g.Name, g.Status, g.DecidedAt, g.DecidedBy, g.AccessCount, null(g.LastAccess), g.MAC)
	return err
}

func (t *tx) TouchGrant(ctx context.Context, tenantID int64, service, name, at string) error {
	_, err := t.exec(ctx, "UPDATE grants SET access_count = access_count + 1, last_access = ? WHERE tenant_id = ? AND service = ? AND name = ?", at, tenantID, service, name)
	return err
}

func (t *tx) TouchGrants(ctx context.Context, tenantID int64, service string, names []string, at string) error {
	if len(names) == 0 {
		return nil
	}
	list := jsonList(names)
	_, err := t.exec(ctx, `UPDATE grants SET access_count = access_count + (SELECT count(*) FROM json_each(?) WHERE value = grants.name), last_access = ?
		WHERE tenant_id = ? AND service = ? AND name IN (SELECT value FROM json_each(?))`, list, at, tenantID, service, list)
	return err
}

// Requests

const requestCols = "id, tenant_id, service, name, status, requested_by, requested_at, origin, coalesce(decided_at, ''), coalesce(decided_by, ''), mac"

func scanRequest(sc interface{ Scan(...any) error }) (store.Request, error) {
	var r store.Request
	err := sc.Scan(&r.ID, &r.TenantID, &r.Service, &r.Name, &r.Status, &r.RequestedBy, &r.RequestedAt, &r.Origin, &r.DecidedAt, &r.DecidedBy, &r.MAC)
	return r, err
}

func (t *tx) Request(ctx context.Context, id int64) (store.Request, error) {
	r, err := scanRequest(t.row(ctx, "SELECT "+requestCols+" FROM access_requests WHERE id = ?", id))
	return r, noRow(err, "request %d", id)
}

func (t *tx) PendingRequest(ctx context.Context, tenantID int64, service, name string) (store.Request, error) {
	r, err := scanRequest(t.row(ctx, "SELECT "+requestCols+" FROM access_requests WHERE tenant_id = ? AND service = ? AND name = ? AND status = 'pending'", tenantID, service, name))
	return r, noRow(err, "pending request of %s for %q", service, name)
}

func (t *tx) Requests(ctx context.Context, tenantID int64, pendingOnly bool) ([]store.Request, error) {
	q := "SELECT " + requestCols + " FROM access_requests WHERE 1 = 1"
	var args []any
	if tenantID != 0 {
		q += " AND tenant_id = ?"
		args = append(args, tenantID)
	}
	if pendingOnly {
		q += " AND status = 'pending'"
	}
	out := []store.Request{}
	err := t.query(ctx, q+" ORDER BY id", args, func(r *sql.Rows) error {
		x, err := scanRequest(r)
		out = append(out, x)
		return err
	})
	return out, err
}

// InsertRequest relies on the partial unique index: at most one pending
// request per (tenant, service, name), even from another process.
func (t *tx) InsertRequest(ctx context.Context, r store.Request) (int64, bool, error) {
	if r.Status == "" {
		r.Status = "pending"
	}
	n, err := affected(t.exec(ctx, `INSERT INTO access_requests (id, tenant_id, service, name, status, requested_by, requested_at, origin, decided_at, decided_by, mac)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, zero(r.ID), r.TenantID, r.Service, r.Name, r.Status, r.RequestedBy, r.RequestedAt, r.Origin,
		null(r.DecidedAt), null(r.DecidedBy), r.MAC))
	if err != nil {
		return 0, false, err
	}
	if n == 1 {
		var id int64
		err := t.row(ctx, "SELECT last_insert_rowid()").Scan(&id)
		return id, true, dbErr(err)
	}
	p, err := t.PendingRequest(ctx, r.TenantID, r.Service, r.Name)
	if errors.Is(err, store.ErrNoRow) {
		return 0, false, fmt.Errorf("%w: request %d", store.ErrConflict, r.ID)
	}
	return p.ID, false, err
}

func (t *tx) DecideRequest(ctx context.Context, id int64, status, at, by string, mac []byte) error {
	_, err := t.exec(ctx, "UPDATE access_requests SET status = ?, decided_at = ?, decided_by = ?, mac = ? WHERE id = ?", status, at, by, mac, id)
	return err
}

// Stubs

func (t *tx) Stub(ctx context.Context, tenantID int64, name string) (store.Stub, error) {
	s := store.Stub{TenantID: tenantID, Name: name}
	err := t.row(ctx, "SELECT requested_by, description, created_at, coalesce(filled_at, '') FROM stubs WHERE tenant_id = ? AND name = ?", tenantID, name).
		Scan(&s.RequestedBy, &s.Description, &s.CreatedAt, &s.FilledAt)
	return s, noRow(err, "stub %q", name)
}

func (t *tx) Stubs(ctx context.Context, tenantID int64) ([]store.Stub, error) {
	q := `SELECT s.tenant_id, s.name, s.requested_by, s.description, s.created_at, coalesce(s.filled_at, ''),
			coalesce((SELECT group_concat(service, ',') FROM (SELECT DISTINCT service FROM access_requests r
				WHERE r.tenant_id = s.tenant_id AND r.name = s.name ORDER BY service)), '')
		FROM stubs s`
	var args []any
	if tenantID != 0 {
		q += " WHERE s.tenant_id = ? AND s.filled_at IS NULL"
		args = append(args, tenantID)
	}
	out := []store.Stub{}
	err := t.query(ctx, q+" ORDER BY s.tenant_id, s.name", args, func(r *sql.Rows) error {
		var s store.Stub
		var asked string
		if err := r.Scan(&s.TenantID, &s.Name, &s.RequestedBy, &s.Description, &s.CreatedAt, &s.FilledAt, &asked); err != nil {
			return err
		}
		s.AskedBy = []string{}
		if asked != "" {
			s.AskedBy = strings.Split(asked, ",")
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

func (t *tx) OpenStub(ctx context.Context, s store.Stub) (bool, error) {
	n, err := affected(t.exec(ctx, `INSERT INTO stubs (tenant_id, name, requested_by, description, created_at, filled_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET filled_at = NULL, requested_by = excluded.requested_by, created_at = excluded.created_at
		WHERE filled_at IS NOT NULL`, s.TenantID, s.Name, s.RequestedBy, s.Description, s.CreatedAt, null(s.FilledAt)))
	return n > 0, err
}

func (t *tx) FillStub(ctx context.Context, tenantID int64, name, at string) error {
	_, err := t.exec(ctx, "UPDATE stubs SET filled_at = ? WHERE tenant_id = ? AND name = ? AND filled_at IS NULL", at, tenantID, name)
	return err
}

// Audit

const auditCols = "seq, ts, actor, action, tenant, object, success, detail, ip_address, user_agent, mac"

func scanAudit(sc interface{ Scan(...any) error }) (store.AuditRow, error) {
	var r store.AuditRow
	err := sc.Scan(&r.Seq, &r.TS, &r.Actor, &r.Action, &r.Tenant, &r.Object, &r.Success, &r.Detail, &r.IPAddress, &r.UserAgent, &r.MAC)
	return r, err
}

// AuditTail reads backwards from the newest row to the last keyed one:
// usually one row.
func (t *tx) AuditTail(ctx context.Context) ([]store.AuditRow, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT "+auditCols+" FROM audit ORDER BY seq DESC")
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []store.AuditRow
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, r)
		if r.MAC != nil {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func (t *tx) AppendAudit(ctx context.Context, rows []store.AuditRow) error {
	if t.ro {
		return store.ErrReadOnlyTx
	}
	stmt, err := t.tx.PrepareContext(ctx, "INSERT INTO audit ("+auditCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return dbErr(err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.Seq, r.TS, r.Actor, r.Action, r.Tenant, r.Object, r.Success, r.Detail, r.IPAddress, r.UserAgent, r.MAC); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

func (t *tx) AuditScan(ctx context.Context, f store.AuditFilter, fn func(store.AuditRow) error) error {
	where := ""
	var common []any
	add := func(cond string, v any) {
		where += " AND " + cond
		common = append(common, v)
	}
	if f.FromSeq > 0 {
		add("seq >= ?", f.FromSeq)
	}
	if f.ToSeq > 0 {
		add("seq <= ?", f.ToSeq)
	}
	if f.Since != "" {
		add("ts >= ?", f.Since)
	}
	bounds, boundArgs := where, slices.Clone(common)
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	objects := f.Objects
	if f.Object != "" {
		objects = append(slices.Clip(objects), f.Object)
	}
	switch {
	case len(objects) == 1:
		f.Object = objects[0]
		add("object = ?", f.Object)
	case len(objects) > 1:
		// Several names (a service read's state checks): audit_object
		// probed once per name and action; their rows (a few per name)
		// are gathered and sorted.
		f.Object = ""
		add("object IN (SELECT value FROM json_each(?))", jsonList(objects))
	}
	sel := "SELECT " + auditCols + " FROM audit WHERE 1 = 1" + where
	var q string
	var args []any
	switch {
	case len(f.Actions) > 1 && f.Object != "":
		// One arm per action, merged in seq order: each arm walks
		// audit_object (object, tenant, action, seq) in order, so the
		// newest row about a name costs one index probe per action
		// however many rows the name has ("MERGE (UNION ALL)"); an IN
		// list made SQLite gather and sort every one of them first.
		arms := make([]string, len(f.Actions))
		for i, a := range f.Actions {
			arms[i] = sel + " AND action = ?"
			args = append(append(args, common...), a)
		}
		q = strings.Join(arms, " UNION ALL ")
	case len(f.Actions) > 0:
		q = sel + " AND action IN (?" + strings.Repeat(", ?", len(f.Actions)-1) + ")"
		args = common
		for _, a := range f.Actions {
			args = append(args, a)
		}
	default:
		q, args = sel, common
	}
	if len(f.OrActions) > 0 {
		// One more arm, merged in the same order: the rows of these
		// actions anywhere (audit_action_ts finds them; they are few).
		q += " UNION ALL SELECT " + auditCols + " FROM audit WHERE 1 = 1" + bounds + " AND action IN (?" + strings.Repeat(", ?", len(f.OrActions)-1) + ")"
		args = append(args, boundArgs...)
		for _, a := range f.OrActions {
			args = append(args, a)
		}
	}
	q += " ORDER BY seq"
	if f.Desc {
		q += " DESC"
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := t.rows(ctx, q, args...)
	if err != nil {
		return dbErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return dbErr(err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return dbErr(rows.Err())
}

// Counts

func (t *tx) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	err := t.row(ctx, `SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM deks), (SELECT count(*) FROM secrets),
		(SELECT count(*) FROM devices), (SELECT count(*) FROM device_keys), (SELECT count(*) FROM device_secrets), (SELECT count(*) FROM device_reports),
		(SELECT count(*) FROM service_tokens), (SELECT count(*) FROM grants), (SELECT count(*) FROM access_requests),
		(SELECT count(*) FROM stubs WHERE filled_at IS NULL), (SELECT count(*) FROM audit), (SELECT count(*) FROM device_challenges),
		(SELECT count(*) FROM amt_certs)`).
		Scan(&c.Tenants, &c.DEKs, &c.SecretVersions, &c.Devices, &c.DeviceKeys, &c.DeviceSecrets, &c.DeviceReports,
			&c.Tokens, &c.Grants, &c.Requests, &c.OpenStubs, &c.Audit, &c.Challenges, &c.AMTCerts)
	return c, dbErr(err)
}

// AMT provisioning certificates

const amtCertCols = "tenant_id, name, chain, subject, root_fingerprint, not_after, dek_version, sealed_key, allowed, created_at, created_by, mac"

func scanAMTCert(sc interface{ Scan(...any) error }) (store.AMTCert, error) {
	var x store.AMTCert
	err := sc.Scan(&x.TenantID, &x.Name, &x.Chain, &x.Subject, &x.RootFingerprint, &x.NotAfter, &x.DEKVersion, &x.SealedKey, &x.Allowed,
		&x.CreatedAt, &x.CreatedBy, &x.MAC)
	return x, err
}

func (t *tx) AMTCert(ctx context.Context, tenantID int64, name string) (store.AMTCert, error) {
	x, err := scanAMTCert(t.row(ctx, "SELECT "+amtCertCols+" FROM amt_certs WHERE tenant_id = ? AND name = ?", tenantID, name))
	return x, noRow(err, "AMT certificate %q", name)
}

func (t *tx) AMTCerts(ctx context.Context, tenantID int64) ([]store.AMTCert, error) {
	q := "SELECT " + amtCertCols + " FROM amt_certs"
	var args []any
	if tenantID != 0 {
		q += " WHERE tenant_id = ?"
		args = append(args, tenantID)
	}
	out := []store.AMTCert{}
	err := t.query(ctx, q+" ORDER BY tenant_id, name", args, func(r *sql.Rows) error {
		x, err := scanAMTCert(r)
		out = append(out, x)
		return err
	})
	return out, err
}

func (t *tx) InsertAMTCert(ctx context.Context, x store.AMTCert) error {
	_, err := t.exec(ctx, `INSERT INTO amt_certs (`+amtCertCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.TenantID, x.Name, x.Chain, x.Subject, x.RootFingerprint, x.NotAfter, x.DEKVersion, x.SealedKey, x.Allowed, x.CreatedAt, x.CreatedBy, x.MAC)
	return err
}

func (t *tx) UpdateAMTCertSeal(ctx context.Context, tenantID int64, name string, dekVersion int, sealed []byte) error {
	n, err := affected(t.exec(ctx, "UPDATE amt_certs SET dek_version = ?, sealed_key = ? WHERE tenant_id = ? AND name = ?", dekVersion, sealed, tenantID, name))
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: AMT certificate %q", store.ErrNoRow, name)
	}
	return err
}

func (t *tx) SetAMTCertAllowed(ctx context.Context, tenantID int64, name, allowed string, mac []byte) error {
	n, err := affected(t.exec(ctx, "UPDATE amt_certs SET allowed = ?, mac = ? WHERE tenant_id = ? AND name = ?", allowed, mac, tenantID, name))
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: AMT certificate %q", store.ErrNoRow, name)
	}
	return err
}

func (t *tx) DeleteAMTCert(ctx context.Context, tenantID int64, name string) (bool, error) {
	n, err := affected(t.exec(ctx, "DELETE FROM amt_certs WHERE tenant_id = ? AND name = ?", tenantID, name))
	return n == 1, err
}
