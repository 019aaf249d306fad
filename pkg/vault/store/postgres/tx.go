package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// tx is one closure's view of a PostgreSQL transaction (or of its
// savepoint, in a group commit). Its queries run under qctx, the batch's
// context: a caller's cancelled context must not break the connection that
// other closures of the batch share, so each method checks the caller's
// ctx first and then runs under qctx.
type tx struct {
	q    querier
	qctx context.Context
	ro   bool
	// pending: the begin statement still to send before the first read
	// (View's transaction, begun lazily so that Prefetch can send it with
	// its reads); began once it went out.
	pending string
	began   bool
	pf      *prefetched // what Prefetch read, if it ran
}

// querier is what a tx runs its statements on: a pgx.Tx, or View's
// pooled connection with its own begin and commit.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var _ store.Tx = (*tx)(nil)

// Text ordering is bytewise, as SQLite's: whatever the database's collation.
const byteOrder = ` COLLATE "C"`

func (t *tx) begin(ctx context.Context, write bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if write && t.ro {
		return store.ErrReadOnlyTx
	}
	if t.pending != "" {
		q := t.pending
		t.pending, t.began = "", true
		if _, err := t.q.Exec(t.qctx, q); err != nil {
			return beginError{dbErr(err)}
		}
	}
	return nil
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := t.begin(ctx, true); err != nil {
		return 0, err
	}
	tag, err := t.q.Exec(t.qctx, q, args...)
	if err != nil {
		return 0, dbErr(err)
	}
	return tag.RowsAffected(), nil
}

// execOne is exec of a statement that must change a row (ErrNoRow if none).
func (t *tx) execOne(ctx context.Context, q string, args ...any) error {
	n, err := t.exec(ctx, q, args...)
	if err == nil && n == 0 {
		err = store.ErrNoRow
	}
	return err
}

// withBegin sends View's pending begin and the transaction's first read
// q together, in one round trip, and returns the batch with the begin's
// answer read: the caller reads q's and closes it. ok is false when there
// is no pending begin or q cannot go in a batch (it names its own exec
// mode); begin then sends the begin alone.
func (t *tx) withBegin(ctx context.Context, q string, args []any) (br pgx.BatchResults, ok bool, err error) {
	if t.pending == "" || (len(args) > 0 && isExecMode(args[0])) {
		return nil, false, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	b := &pgx.Batch{}
	b.Queue(t.pending)
	b.Queue(q, args...)
	// Whatever happens now, the begin went out: a failed batch leaves the
	// transaction for View to roll back.
	t.pending, t.began = "", true
	br = t.q.SendBatch(t.qctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, false, beginError{dbErr(err)} // nothing was read: View may try another connection
	}
	return br, true, nil
}

func isExecMode(a any) bool {
	_, ok := a.(pgx.QueryExecMode)
	return ok
}

// batchRow is the row of a read sent behind the begin (withBegin).
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

func (t *tx) row(ctx context.Context, q string, args ...any) (pgx.Row, error) {
	if br, ok, err := t.withBegin(ctx, q, args); err != nil {
		return nil, err
	} else if ok {
		return batchRow{br}, nil
	}
	if err := t.begin(ctx, false); err != nil {
		return nil, err
	}
	return t.q.QueryRow(t.qctx, q, args...), nil
}

func (t *tx) scanOne(ctx context.Context, q string, args []any, dest ...any) error {
	r, err := t.row(ctx, q, args...)
	if err != nil {
		return err
	}
	return dbErr(r.Scan(dest...))
}

// list runs q and scans each row with scan.
func list[T any](t *tx, ctx context.Context, q string, args []any, scan func(pgx.Rows) (T, error)) ([]T, error) {
	if br, ok, err := t.withBegin(ctx, q, args); err != nil {
		return nil, err
	} else if ok {
		out, err := collect(br, scan)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return out, dbErr(err)
	}
	if err := t.begin(ctx, false); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(t.qctx, q, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	out, err := scanAll(rows, scan)
	return out, dbErr(err)
}

// scanAll scans each of rows with scan and closes them.
func scanAll[T any](rows pgx.Rows, scan func(pgx.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// dbErr maps driver errors to the store's sentinels: no row, a unique key
// collision, an unreachable server. Other PostgreSQL errors (including the
// retryable ones, which Update handles) pass unchanged.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNoRow
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %s", store.ErrConflict, pe.ConstraintName)
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300":
			return fmt.Errorf("%w: %w", vaulterr.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, store.ErrNoRow) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrReadOnlyTx) || vaulterr.KindOf(err) != vaulterr.KindOther {
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || isConnErr(err) {
		return oneLine(fmt.Errorf("%w: %w", vaulterr.ErrUnavailable, err))
	}
	return err
}

func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "unexpected EOF") || strings.Contains(s, "EOF")
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ---- meta

func (t *tx) Meta(ctx context.Context) (map[string][]byte, error) {
	type kv struct {
		k string
		v []byte
	}
	rows, err := list(t, ctx, "SELECT key, value FROM meta", nil, func(r pgx.Rows) (kv, error) {
		var x kv
		return x, r.Scan(&x.k, &x.v)
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(rows))
	for _, x := range rows {
		m[x.k] = x.v
	}
	return m, nil
}

func (t *tx) SetMeta(ctx context.Context, key string, value []byte) error {
	_, err := t.exec(ctx, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, value)
	return err
}

// ---- tenants

const tenantCols = "id, name, dek_version, created_at"

func scanTenant(r pgx.Row) (store.Tenant, error) {
	var x store.Tenant
	err := r.Scan(&x.ID, &x.Name, &x.DEKVersion, &x.CreatedAt)
	return x, err
}

const tenantQuery = "SELECT " + tenantCols + " FROM tenants WHERE name = $1"

func (t *tx) Tenant(ctx context.Context, name string) (store.Tenant, error) {
	if x, err, ok := t.pf.tenantOf(name); ok {
		return x, ctxOr(ctx, err)
	}
	r, err := t.row(ctx, tenantQuery, name)
	if err != nil {
		return store.Tenant{}, err
	}
	x, err := scanTenant(r)
	return x, dbErr(err)
}

func (t *tx) TenantByID(ctx context.Context, id int64) (store.Tenant, error) {
	r, err := t.row(ctx, "SELECT "+tenantCols+" FROM tenants WHERE id = $1", id)
	if err != nil {
		return store.Tenant{}, err
	}
	x, err := scanTenant(r)
	return x, dbErr(err)
}

func (t *tx) Tenants(ctx context.Context) ([]store.Tenant, error) {
	return list(t, ctx, "SELECT "+tenantCols+" FROM tenants ORDER BY name"+byteOrder, nil, func(r pgx.Rows) (store.Tenant, error) { return scanTenant(r) })
}

// insertReturningID inserts with an explicit id (a copy) or an identity
// one. A unique collision is ErrConflict and leaves the transaction usable
// (ON CONFLICT DO NOTHING instead of an error, which would abort it). An
// explicit id moves the identity sequence past it, so that ids assigned
// later are greater than every id stored.
func (t *tx) insertReturningID(ctx context.Context, table string, id int64, cols []string, args []any) (int64, error) {
	if err := t.begin(ctx, true); err != nil {
		return 0, err
	}
	if id != 0 {
		cols = append([]string{"id"}, cols...)
		args = append([]any{id}, args...)
	}
	ph := make([]string, len(cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id", table, strings.Join(cols, ", "), strings.Join(ph, ", "))
	var got int64
	if err := t.q.QueryRow(t.qctx, q, args...).Scan(&got); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("%w: %s", store.ErrConflict, table)
		}
		return 0, dbErr(err)
	}
	if id != 0 {
		if _, err := t.q.Exec(t.qctx, fmt.Sprintf("SELECT setval('%[1]s_id_seq', GREATEST((SELECT last_value FROM %[1]s_id_seq), $1))", table), id); err != nil {
			return 0, dbErr(err)
		}
	}
	return got, nil
}

func (t *tx) InsertTenant(ctx context.Context, x store.Tenant) (int64, error) {
	return t.insertReturningID(ctx, "tenants", x.ID, []string{"name", "dek_version", "created_at"}, []any{x.Name, x.DEKVersion, x.CreatedAt})
}

func (t *tx) SetTenantDEKVersion(ctx context.Context, id int64, version int) error {
	return t.execOne(ctx, "UPDATE tenants SET dek_version = $2 WHERE id = $1", id, version)
}

func (t *tx) LockTenant(ctx context.Context, id int64) error {
	q := "SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE"
	if t.ro { // a snapshot needs no lock
		q = "SELECT 1 FROM tenants WHERE id = $1"
	}
	var one int
	return t.scanOne(ctx, q, []any{id}, &one)
}

// ---- DEKs

func scanDEK(r pgx.Row) (store.DEK, error) {
	var d store.DEK
	err := r.Scan(&d.TenantID, &d.Version, &d.Wrapped, &d.CreatedAt)
	return d, err
}

func (t *tx) DEK(ctx context.Context, tenantID int64, version int) (store.DEK, error) {
	r, err := t.row(ctx, "SELECT tenant_id, version, wrapped, created_at FROM deks WHERE tenant_id = $1 AND version = $2", tenantID, version)
	if err != nil {
		return store.DEK{}, err
	}
	d, err := scanDEK(r)
	return d, dbErr(err)
}

func (t *tx) DEKs(ctx context.Context) ([]store.DEK, error) {
	return list(t, ctx, "SELECT tenant_id, version, wrapped, created_at FROM deks ORDER BY tenant_id, version", nil, func(r pgx.Rows) (store.DEK, error) { return scanDEK(r) })
}

func (t *tx) MaxDEKVersion(ctx context.Context, tenantID int64) (int, error) {
	var v int
	err := t.scanOne(ctx, "SELECT coalesce(max(version), 0) FROM deks WHERE tenant_id = $1", []any{tenantID}, &v)
	return v, err
}

func (t *tx) insertOne(ctx context.Context, what, q string, args ...any) error {
	n, err := t.exec(ctx, q, args...)
	if err == nil && n == 0 {
		err = fmt.Errorf("%w: %s", store.ErrConflict, what)
	}
	return err
}

func (t *tx) InsertDEK(ctx context.Context, d store.DEK) error {
	return t.insertOne(ctx, "deks", "INSERT INTO deks (tenant_id, version, wrapped, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		d.TenantID, d.Version, d.Wrapped, d.CreatedAt)
}

func (t *tx) UpdateDEK(ctx context.Context, tenantID int64, version int, wrapped []byte) error {
	return t.execOne(ctx, "UPDATE deks SET wrapped = $3 WHERE tenant_id = $1 AND version = $2", tenantID, version, wrapped)
}

func (t *tx) DeleteDEKsExcept(ctx context.Context, tenantID int64, keep int) error {
	_, err := t.exec(ctx, "DELETE FROM deks WHERE tenant_id = $1 AND version <> $2", tenantID, keep)
	return err
}

// ---- secrets

const secretCols = "id, tenant_id, name, version, dek_version, description, created_at, created_by, deleted_at"

func scanSecret(r pgx.Row, sealed bool) (store.Secret, error) {
	var s store.Secret
	var del *string
	dest := []any{&s.ID, &s.TenantID, &s.Name, &s.Version, &s.DEKVersion, &s.Description, &s.CreatedAt, &s.CreatedBy, &del}
	if sealed {
		dest = append(dest, &s.Sealed)
	}
	err := r.Scan(dest...)
	s.DeletedAt = str(del)
	return s, err
}

func (t *tx) Secret(ctx context.Context, tenantID int64, name string, version int) (store.Secret, error) {
	q := "SELECT " + secretCols + ", sealed FROM secrets WHERE tenant_id = $1 AND name = $2 AND version = $3"
	args := []any{tenantID, name, version}
	if version == 0 {
		if ss, ok := t.pf.latestOf(tenantID, []string{name}); ok {
			if len(ss) == 0 {
				return store.Secret{}, ctxOr(ctx, store.ErrNoRow)
			}
			return ss[0], ctxOr(ctx, nil)
		}
		q = "SELECT " + secretCols + ", sealed FROM secrets WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
		args = args[:2]
	}
	r, err := t.row(ctx, q, args...)
	if err != nil {
		return store.Secret{}, err
	}
	s, err := scanSecret(r, true)
	return s, dbErr(err)
}

func (t *tx) LatestSecrets(ctx context.Context, tenantID int64, prefix string, values bool) ([]store.Secret, error) {
	sealed := "NULL::bytea"
	if values {
		sealed = "sealed"
	}
	q := "SELECT DISTINCT ON (name" + byteOrder + ") " + secretCols + ", " + sealed + " FROM secrets WHERE tenant_id = $1"
	args := []any{tenantID}
	if prefix != "" {
		q += " AND starts_with(name, $2)"
		args = append(args, prefix)
	}
	q += " ORDER BY name" + byteOrder + ", version DESC"
	return list(t, ctx, q, args, func(r pgx.Rows) (store.Secret, error) { return scanSecret(r, true) })
}

// LatestOf: one index probe per distinct name, each reading the name's
// newest row only (LIMIT 1 in a lateral subquery), however many versions
// it has.
// latestQuery selects the newest row of each name in $2 in the tenant
// whose ID is tenant (a parameter, or a statement).
func latestQuery(tenant string) string {
	return "SELECT s.* FROM (SELECT DISTINCT u.name FROM unnest($2::text[]) AS u(name)) n CROSS JOIN LATERAL (SELECT " + secretCols +
		", sealed FROM secrets WHERE tenant_id = " + tenant + " AND name = n.name ORDER BY version DESC LIMIT 1) s ORDER BY s.name" + byteOrder
}

func (t *tx) LatestOf(ctx context.Context, tenantID int64, names []string) ([]store.Secret, error) {
	if len(names) == 0 {
		return []store.Secret{}, nil
	}
	if ss, ok := t.pf.latestOf(tenantID, names); ok {
		return ss, ctxOr(ctx, nil)
	}
	out, err := list(t, ctx, latestQuery("$1"), []any{tenantID, names}, func(r pgx.Rows) (store.Secret, error) { return scanSecret(r, true) })
	if out == nil && err == nil {
		out = []store.Secret{}
	}
	return out, err
}

func (t *tx) SecretHistory(ctx context.Context, tenantID int64, name string) ([]store.Secret, error) {
	return list(t, ctx, "SELECT "+secretCols+" FROM secrets WHERE tenant_id = $1 AND name = $2 ORDER BY version", []any{tenantID, name},
		func(r pgx.Rows) (store.Secret, error) { return scanSecret(r, false) })
}

func (t *tx) SecretsPage(ctx context.Context, tenantID, afterID int64, limit int) ([]store.Secret, error) {
	q := "SELECT " + secretCols + ", sealed FROM secrets WHERE id > $1 AND ($2 = 0 OR tenant_id = $2) ORDER BY id LIMIT $3"
	return list(t, ctx, q, []any{afterID, tenantID, limit}, func(r pgx.Rows) (store.Secret, error) { return scanSecret(r, true) })
}

func (t *tx) SecretCounts(ctx context.Context, tenantID int64) (live, versions int, err error) {
	err = t.scanOne(ctx, `SELECT
		(SELECT count(*) FROM (SELECT DISTINCT ON (name) deleted_at FROM secrets WHERE tenant_id = $1 ORDER BY name, version DESC) l WHERE deleted_at IS NULL),
		(SELECT count(*) FROM secrets WHERE tenant_id = $1)`, []any{tenantID}, &live, &versions)
	return live, versions, err
}

func (t *tx) InsertSecret(ctx context.Context, s store.Secret) error {
	return t.insertOne(ctx, "secrets", `INSERT INTO secrets (tenant_id, name, version, dek_version, sealed, description, created_at, created_by, deleted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		s.TenantID, s.Name, s.Version, s.DEKVersion, s.Sealed, s.Description, s.CreatedAt, s.CreatedBy, nullable(s.DeletedAt))
}

// InsertSecrets adds many versions at once (COPY), for vault copy and
// restore: the rows are s as given, ids assigned by the store.
func (t *tx) InsertSecrets(ctx context.Context, ss []store.Secret) error {
	if err := t.begin(ctx, true); err != nil {
		return err
	}
	_, err := t.q.CopyFrom(t.qctx, pgx.Identifier{"secrets"},
		[]string{"tenant_id", "name", "version", "dek_version", "sealed", "description", "created_at", "created_by", "deleted_at"},
		pgx.CopyFromSlice(len(ss), func(i int) ([]any, error) {
			s := ss[i]
			return []any{s.TenantID, s.Name, int64(s.Version), int64(s.DEKVersion), s.Sealed, s.Description, s.CreatedAt, s.CreatedBy, nullable(s.DeletedAt)}, nil
		}))
	return dbErr(err)
}

func (t *tx) UpdateSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error {
	return t.execOne(ctx, "UPDATE secrets SET dek_version = $2, sealed = $3 WHERE id = $1", id, dekVersion, sealed)
}

func (t *tx) RemoveSecret(ctx context.Context, tenantID int64, name, at string) (int, error) {
	n, err := t.exec(ctx, "UPDATE secrets SET deleted_at = $3 WHERE tenant_id = $1 AND name = $2 AND deleted_at IS NULL", tenantID, name, at)
	return int(n), err
}

func (t *tx) PurgeSecret(ctx context.Context, tenantID int64, name string) (int, error) {
	n, err := t.exec(ctx, "DELETE FROM secrets WHERE tenant_id = $1 AND name = $2", tenantID, name)
	return int(n), err
}

// ---- devices

const deviceCols = `d.id, d.tenant_id, d.device_id, d.name, d.device_uuid, d.role, d.created_at, d.created_by,
	(SELECT count(*) FROM device_keys k WHERE k.device_ref = d.id AND k.status = 'active'), d.mac`

func scanDevice(r pgx.Row) (store.Device, error) {
	var d store.Device
	var uuid *string
	err := r.Scan(&d.Ref, &d.TenantID, &d.ID, &d.Name, &uuid, &d.Role, &d.CreatedAt, &d.CreatedBy, &d.ActiveKeys, &d.MAC)
	d.UUID = str(uuid)
	return d, err
}

func (t *tx) DeviceBy(ctx context.Context, tenantID int64, field, value string) (store.Device, error) {
	switch field {
	case store.ByDeviceID, store.ByUUID, store.ByName:
	default:
		return store.Device{}, fmt.Errorf("postgres: DeviceBy: unknown field %q", field)
	}
	r, err := t.row(ctx, "SELECT "+deviceCols+" FROM devices d WHERE d.tenant_id = $1 AND d."+field+" = $2", tenantID, value)
	if err != nil {
		return store.Device{}, err
	}
	d, err := scanDevice(r)
	return d, dbErr(err)
}

func (t *tx) DeviceByRef(ctx context.Context, ref int64) (store.Device, error) {
	r, err := t.row(ctx, "SELECT "+deviceCols+" FROM devices d WHERE d.id = $1", ref)
	if err != nil {
		return store.Device{}, err
	}
	d, err := scanDevice(r)
	return d, dbErr(err)
}

func (t *tx) Devices(ctx context.Context, tenantID int64, role string) ([]store.Device, error) {
	q := "SELECT " + deviceCols + " FROM devices d WHERE ($1 = 0 OR d.tenant_id = $1) AND ($2 = '' OR d.role = $2) ORDER BY "
	if tenantID == 0 {
		q += "d.tenant_id, "
	}
	q += "d.name" + byteOrder
	return list(t, ctx, q, []any{tenantID, role}, func(r pgx.Rows) (store.Device, error) { return scanDevice(r) })
}

func (t *tx) InsertDevice(ctx context.Context, d store.Device) (int64, error) {
	return t.insertReturningID(ctx, "devices", d.Ref,
		[]string{"tenant_id", "device_id", "name", "device_uuid", "role", "created_at", "created_by", "mac"},
		[]any{d.TenantID, d.ID, d.Name, nullable(d.UUID), d.Role, d.CreatedAt, d.CreatedBy, d.MAC})
}

func (t *tx) UpdateDevice(ctx context.Context, ref int64, role string, mac []byte) error {
	return t.execOne(ctx, "UPDATE devices SET role = $2, mac = $3 WHERE id = $1", ref, role, mac)
}

func (t *tx) DeleteDevice(ctx context.Context, ref int64) error {
	_, err := t.exec(ctx, "DELETE FROM devices WHERE id = $1", ref)
	return err
}

func (t *tx) DeviceRowCounts(ctx context.Context, ref int64) (keys, secrets int, err error) {
	err = t.scanOne(ctx, "SELECT (SELECT count(*) FROM device_keys WHERE device_ref = $1), (SELECT count(*) FROM device_secrets WHERE device_ref = $1)",
		[]any{ref}, &keys, &secrets)
	return keys, secrets, err
}

// ---- device keys

const deviceKeyCols = `k.id, k.tenant_id, k.device_ref, d.device_id, k.key_id, k.spki, k.fingerprint, k.role, k.origin, k.status,
	k.created_at, k.created_by, k.revoked_at, k.mac FROM device_keys k JOIN devices d ON d.id = k.device_ref`

func scanDeviceKey(r pgx.Row) (store.DeviceKey, error) {
	var k store.DeviceKey
	var rev *string
	err := r.Scan(&k.ID, &k.TenantID, &k.DeviceRef, &k.DeviceID, &k.KeyID, &k.SPKI, &k.Fingerprint, &k.Role, &k.Origin, &k.Status,
		&k.CreatedAt, &k.CreatedBy, &rev, &k.MAC)
	k.RevokedAt = str(rev)
	return k, err
}

func (t *tx) DeviceKeys(ctx context.Context, deviceRef int64) ([]store.DeviceKey, error) {
	return list(t, ctx, "SELECT "+deviceKeyCols+" WHERE ($1 = 0 OR k.device_ref = $1) ORDER BY k.id", []any{deviceRef},
		func(r pgx.Rows) (store.DeviceKey, error) { return scanDeviceKey(r) })
}

func (t *tx) DeviceKeyFind(ctx context.Context, tenantID int64, keyID, fingerprint string) (store.DeviceKey, error) {
	r, err := t.row(ctx, "SELECT "+deviceKeyCols+` WHERE k.tenant_id = $1 AND (($2 <> '' AND k.key_id = $2) OR ($3 <> '' AND k.fingerprint = $3))
		ORDER BY k.id LIMIT 1`, tenantID, keyID, fingerprint)
	if err != nil {
		return store.DeviceKey{}, err
	}
	k, err := scanDeviceKey(r)
	return k, dbErr(err)
}

func (t *tx) InsertDeviceKey(ctx context.Context, k store.DeviceKey) (int64, error) {
	return t.insertReturningID(ctx, "device_keys", k.ID,
		[]string{"tenant_id", "device_ref", "key_id", "spki", "fingerprint", "role", "origin", "status", "created_at", "created_by", "revoked_at", "mac"},
		[]any{k.TenantID, k.DeviceRef, k.KeyID, k.SPKI, k.Fingerprint, k.Role, k.Origin, k.Status, k.CreatedAt, k.CreatedBy, nullable(k.RevokedAt), k.MAC})
}

func (t *tx) UpdateDeviceKey(ctx context.Context, id int64, status, revokedAt string, mac []byte) error {
	return t.execOne(ctx, "UPDATE device_keys SET status = $2, revoked_at = $3, mac = $4 WHERE id = $1", id, status, nullable(revokedAt), mac)
}

// ---- challenges

func (t *tx) InsertChallenge(ctx context.Context, c store.Challenge) error {
	return t.insertOne(ctx, "device_challenges", `INSERT INTO device_challenges (nonce, tenant_id, device_ref, created_at, expires_at, consumed_at, consumed_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		c.Nonce, c.TenantID, c.DeviceRef, c.CreatedAt, c.ExpiresAt, nullable(c.ConsumedAt), nullable(c.ConsumedBy))
}

func (t *tx) Challenge(ctx context.Context, deviceRef int64, nonce []byte) (store.Challenge, error) {
	var c store.Challenge
	var at, by *string
	err := t.scanOne(ctx, "SELECT nonce, tenant_id, device_ref, created_at, expires_at, consumed_at, consumed_by FROM device_challenges WHERE device_ref = $1 AND nonce = $2",
		[]any{deviceRef, nonce}, &c.Nonce, &c.TenantID, &c.DeviceRef, &c.CreatedAt, &c.ExpiresAt, &at, &by)
	c.ConsumedAt, c.ConsumedBy = str(at), str(by)
	return c, err
}

func (t *tx) ConsumeChallenge(ctx context.Context, nonce []byte, at, by string) (bool, error) {
	n, err := t.exec(ctx, "UPDATE device_challenges SET consumed_at = $2, consumed_by = $3 WHERE nonce = $1 AND consumed_at IS NULL", nonce, at, by)
	return n == 1, err
}

// ---- device secrets

const deviceSecretCols = "id, tenant_id, device_ref, name, version, dek_version, source, created_at, created_by"

func scanDeviceSecret(r pgx.Row, sealed bool) (store.DeviceSecret, error) {
	var s store.DeviceSecret
	dest := []any{&s.ID, &s.TenantID, &s.DeviceRef, &s.Name, &s.Version, &s.DEKVersion, &s.Source, &s.CreatedAt, &s.CreatedBy}
	if sealed {
		dest = append(dest, &s.Sealed)
	}
	return s, r.Scan(dest...)
}

func (t *tx) DeviceSecret(ctx context.Context, deviceRef int64, name string) (store.DeviceSecret, error) {
	r, err := t.row(ctx, "SELECT "+deviceSecretCols+", sealed FROM device_secrets WHERE device_ref = $1 AND name = $2 ORDER BY version DESC LIMIT 1", deviceRef, name)
	if err != nil {
		return store.DeviceSecret{}, err
	}
	s, err := scanDeviceSecret(r, true)
	return s, dbErr(err)
}

func (t *tx) LatestDeviceSecrets(ctx context.Context, deviceRef int64) ([]store.DeviceSecret, error) {
	return list(t, ctx, "SELECT DISTINCT ON (name"+byteOrder+") "+deviceSecretCols+" FROM device_secrets WHERE device_ref = $1 ORDER BY name"+byteOrder+", version DESC",
		[]any{deviceRef}, func(r pgx.Rows) (store.DeviceSecret, error) { return scanDeviceSecret(r, false) })
}

func (t *tx) DeviceSecretsOf(ctx context.Context, tenantID int64) ([]store.DeviceSecret, error) {
	return list(t, ctx, "SELECT "+deviceSecretCols+", sealed FROM device_secrets WHERE ($1 = 0 OR tenant_id = $1) ORDER BY id",
		[]any{tenantID}, func(r pgx.Rows) (store.DeviceSecret, error) { return scanDeviceSecret(r, true) })
}

func (t *tx) MaxDeviceSecretVersion(ctx context.Context, deviceRef int64, name string) (int, error) {
	var v int
	err := t.scanOne(ctx, "SELECT coalesce(max(version), 0) FROM device_secrets WHERE device_ref = $1 AND name = $2", []any{deviceRef, name}, &v)
	return v, err
}

func (t *tx) InsertDeviceSecret(ctx context.Context, s store.DeviceSecret) error {
	_, err := t.insertReturningID(ctx, "device_secrets", s.ID,
		[]string{"tenant_id", "device_ref", "name", "version", "dek_version", "sealed", "source", "created_at", "created_by"},
		[]any{s.TenantID, s.DeviceRef, s.Name, s.Version, s.DEKVersion, s.Sealed, s.Source, s.CreatedAt, s.CreatedBy})
	return err
}

func (t *tx) UpdateDeviceSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error {
	return t.execOne(ctx, "UPDATE device_secrets SET dek_version = $2, sealed = $3 WHERE id = $1", id, dekVersion, sealed)
}

// ---- reports

const reportCols = "id, tenant_id, request_id, device_ref, device_uuid, digest, secrets, applied_at, applied_by"

func scanReport(r pgx.Row) (store.Report, error) {
	var x store.Report
	var ref *int64
	err := r.Scan(&x.ID, &x.TenantID, &x.RequestID, &ref, &x.DeviceUUID, &x.Digest, &x.Secrets, &x.AppliedAt, &x.AppliedBy)
	if ref != nil {
		x.DeviceRef = *ref
	}
	return x, err
}

func (t *tx) Report(ctx context.Context, tenantID int64, requestID string) (store.Report, error) {
	r, err := t.row(ctx, "SELECT "+reportCols+" FROM device_reports WHERE tenant_id = $1 AND request_id = $2", tenantID, requestID)
	if err != nil {
		return store.Report{}, err
	}
	x, err := scanReport(r)
	return x, dbErr(err)
}

func (t *tx) Reports(ctx context.Context) ([]store.Report, error) {
	return list(t, ctx, "SELECT "+reportCols+" FROM device_reports ORDER BY id", nil, func(r pgx.Rows) (store.Report, error) { return scanReport(r) })
}

func (t *tx) InsertReport(ctx context.Context, x store.Report) error {
	_, err := t.insertReturningID(ctx, "device_reports", x.ID,
		[]string{"tenant_id", "request_id", "device_ref", "device_uuid", "digest", "secrets", "applied_at", "applied_by"},
		[]any{x.TenantID, x.RequestID, nullID(x.DeviceRef), x.DeviceUUID, x.Digest, x.Secrets, x.AppliedAt, x.AppliedBy})
	return err
}

// ---- tokens

const tokenCols = "id, service, service_version, hash, status, created_at, created_by, decided_at, decided_by, last_used, use_count, mac"

func scanToken(r pgx.Row) (store.Token, error) {
	var x store.Token
	var da, db, lu *string
	err := r.Scan(&x.ID, &x.Service, &x.ServiceVersion, &x.Hash, &x.Status, &x.CreatedAt, &x.CreatedBy, &da, &db, &lu, &x.UseCount, &x.MAC)
	x.DecidedAt, x.DecidedBy, x.LastUsed = str(da), str(db), str(lu)
	return x, err
}

const tokenQuery = "SELECT " + tokenCols + " FROM service_tokens WHERE id = $1"

func (t *tx) Token(ctx context.Context, id string) (store.Token, error) {
	if x, err, ok := t.pf.tokenOf(id); ok {
		return x, ctxOr(ctx, err)
	}
	r, err := t.row(ctx, tokenQuery, id)
	if err != nil {
		return store.Token{}, err
	}
	x, err := scanToken(r)
	return x, dbErr(err)
}

func (t *tx) Tokens(ctx context.Context) ([]store.Token, error) {
	return list(t, ctx, "SELECT "+tokenCols+" FROM service_tokens ORDER BY service"+byteOrder+", created_at"+byteOrder+", id"+byteOrder, nil,
		func(r pgx.Rows) (store.Token, error) { return scanToken(r) })
}

func (t *tx) InsertToken(ctx context.Context, x store.Token) error {
	return t.insertOne(ctx, "service_tokens", `INSERT INTO service_tokens (`+tokenCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		x.ID, x.Service, x.ServiceVersion, x.Hash, x.Status, x.CreatedAt, x.CreatedBy, nullable(x.DecidedAt), nullable(x.DecidedBy), nullable(x.LastUsed), x.UseCount, x.MAC)
}

func (t *tx) DecideToken(ctx context.Context, id, status, at, by string, mac []byte) error {
	return t.execOne(ctx, "UPDATE service_tokens SET status = $2, decided_at = $3, decided_by = $4, mac = $5 WHERE id = $1", id, status, nullable(at), nullable(by), mac)
}

func (t *tx) TouchToken(ctx context.Context, id, at string) error {
	return t.execOne(ctx, "UPDATE service_tokens SET last_used = $2, use_count = use_count + 1 WHERE id = $1", id, at)
}

func (t *tx) SetTokenMAC(ctx context.Context, id string, mac []byte) error {
	return t.execOne(ctx, "UPDATE service_tokens SET mac = $2 WHERE id = $1", id, mac)
}

// ---- grants

const grantCols = "tenant_id, service, name, status, decided_at, decided_by, access_count, last_access, mac"

func scanGrant(r pgx.Row) (store.Grant, error) {
	var g store.Grant
	var la *string
	err := r.Scan(&g.TenantID, &g.Service, &g.Name, &g.Status, &g.DecidedAt, &g.DecidedBy, &g.AccessCount, &la, &g.MAC)
	g.LastAccess = str(la)
	return g, err
}

func (t *tx) Grant(ctx context.Context, tenantID int64, service, name string) (store.Grant, error) {
	if gs, ok := t.pf.grantsOf(tenantID, service, []string{name}); ok {
		if len(gs) == 0 {
			return store.Grant{}, ctxOr(ctx, store.ErrNoRow)
		}
		return gs[0], ctxOr(ctx, nil)
	}
	r, err := t.row(ctx, "SELECT "+grantCols+" FROM grants WHERE tenant_id = $1 AND service = $2 AND name = $3", tenantID, service, name)
	if err != nil {
		return store.Grant{}, err
	}
	g, err := scanGrant(r)
	return g, dbErr(err)
}

func (t *tx) GrantsOf(ctx context.Context, tenantID int64, service string, names []string) ([]store.Grant, error) {
	if len(names) == 0 {
		return []store.Grant{}, nil
	}
	if gs, ok := t.pf.grantsOf(tenantID, service, names); ok {
		return gs, ctxOr(ctx, nil)
	}
	out, err := list(t, ctx, "SELECT "+grantCols+" FROM grants WHERE tenant_id = $1 AND service = $2 AND name = ANY($3) ORDER BY name"+byteOrder,
		[]any{tenantID, service, names}, func(r pgx.Rows) (store.Grant, error) { return scanGrant(r) })
	if out == nil && err == nil {
		out = []store.Grant{}
	}
	return out, err
}

func (t *tx) Grants(ctx context.Context, tenantID int64) ([]store.Grant, error) {
	q := "SELECT " + grantCols + " FROM grants WHERE ($1 = 0 OR tenant_id = $1) ORDER BY "
	if tenantID == 0 {
		q += "tenant_id, "
	}
	q += "service" + byteOrder + ", name" + byteOrder
	return list(t, ctx, q, []any{tenantID}, func(r pgx.Rows) (store.Grant, error) { return scanGrant(r) })
}

func (t *tx) PutGrant(ctx context.Context, g store.Grant) error {
	_, err := t.exec(ctx, `INSERT INTO grants (`+grantCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (tenant_id, service, name) DO UPDATE SET status = EXCLUDED.status, decided_at = EXCLUDED.decided_at,
			decided_by = EXCLUDED.decided_by, mac = EXCLUDED.mac`,
		g.TenantID, g.Service, g.Name, g.Status, g.DecidedAt, g.DecidedBy, g.AccessCount, nullable(g.LastAccess), g.MAC)
	return err
}

func (t *tx) TouchGrant(ctx context.Context, tenantID int64, service, name, at string) error {
	return t.execOne(ctx, "UPDATE grants SET access_count = access_count + 1, last_access = $4 WHERE tenant_id = $1 AND service = $2 AND name = $3",
		tenantID, service, name, at)
}

func (t *tx) TouchGrants(ctx context.Context, tenantID int64, service string, names []string, at string) error {
	if len(names) == 0 {
		return nil
	}
	_, err := t.exec(ctx, `UPDATE grants g SET access_count = g.access_count + c.n, last_access = $4
		FROM (SELECT u.name, count(*) AS n FROM unnest($3::text[]) AS u(name) GROUP BY u.name) c
		WHERE g.tenant_id = $1 AND g.service = $2 AND g.name = c.name`, tenantID, service, names, at)
	return err
}

// ---- requests

const requestCols = "id, tenant_id, service, name, status, requested_by, requested_at, origin, decided_at, decided_by, mac"

func scanRequest(r pgx.Row) (store.Request, error) {
	var x store.Request
	var da, db *string
	err := r.Scan(&x.ID, &x.TenantID, &x.Service, &x.Name, &x.Status, &x.RequestedBy, &x.RequestedAt, &x.Origin, &da, &db, &x.MAC)
	x.DecidedAt, x.DecidedBy = str(da), str(db)
	return x, err
}

func (t *tx) Request(ctx context.Context, id int64) (store.Request, error) {
	r, err := t.row(ctx, "SELECT "+requestCols+" FROM access_requests WHERE id = $1", id)
	if err != nil {
		return store.Request{}, err
	}
	x, err := scanRequest(r)
	return x, dbErr(err)
}

func (t *tx) PendingRequest(ctx context.Context, tenantID int64, service, name string) (store.Request, error) {
	r, err := t.row(ctx, "SELECT "+requestCols+" FROM access_requests WHERE tenant_id = $1 AND service = $2 AND name = $3 AND status = 'pending'", tenantID, service, name)
	if err != nil {
		return store.Request{}, err
	}
	x, err := scanRequest(r)
	return x, dbErr(err)
}

func (t *tx) Requests(ctx context.Context, tenantID int64, pendingOnly bool) ([]store.Request, error) {
	return list(t, ctx, "SELECT "+requestCols+" FROM access_requests WHERE ($1 = 0 OR tenant_id = $1) AND (NOT $2 OR status = 'pending') ORDER BY id",
		[]any{tenantID, pendingOnly}, func(r pgx.Rows) (store.Request, error) { return scanRequest(r) })
}

func (t *tx) InsertRequest(ctx context.Context, x store.Request) (int64, bool, error) {
	status := x.Status
	if x.ID == 0 || status == "" {
		status = "pending"
	}
	if x.ID == 0 {
		// Look first: an INSERT that meets the pending one would still
		// use up a value of the id sequence, and request ids are shown to
		// operators (access approve N) as on SQLite, without gaps.
		p, err := t.PendingRequest(ctx, x.TenantID, x.Service, x.Name)
		if err == nil {
			return p.ID, false, nil
		} else if !errors.Is(err, store.ErrNoRow) {
			return 0, false, err
		}
	}
	id, err := t.insertReturningID(ctx, "access_requests", x.ID,
		[]string{"tenant_id", "service", "name", "status", "requested_by", "requested_at", "origin", "decided_at", "decided_by", "mac"},
		[]any{x.TenantID, x.Service, x.Name, status, x.RequestedBy, x.RequestedAt, x.Origin, nullable(x.DecidedAt), nullable(x.DecidedBy), x.MAC})
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, store.ErrConflict) || status != "pending" {
		return 0, false, err
	}
	p, err := t.PendingRequest(ctx, x.TenantID, x.Service, x.Name)
	if err != nil {
		if errors.Is(err, store.ErrNoRow) { // the collision was on the ID, not the pending key
			return 0, false, fmt.Errorf("%w: access_requests", store.ErrConflict)
		}
		return 0, false, err
	}
	return p.ID, false, nil
}

func (t *tx) DecideRequest(ctx context.Context, id int64, status, at, by string, mac []byte) error {
	return t.execOne(ctx, "UPDATE access_requests SET status = $2, decided_at = $3, decided_by = $4, mac = $5 WHERE id = $1", id, status, nullable(at), nullable(by), mac)
}

// ---- stubs

const stubCols = `s.tenant_id, s.name, s.requested_by, s.description, s.created_at, s.filled_at,
	array(SELECT r.service FROM access_requests r WHERE r.tenant_id = s.tenant_id AND r.name = s.name GROUP BY r.service ORDER BY r.service` + byteOrder + `)`

func scanStub(r pgx.Row) (store.Stub, error) {
	var x store.Stub
	var fa *string
	err := r.Scan(&x.TenantID, &x.Name, &x.RequestedBy, &x.Description, &x.CreatedAt, &fa, &x.AskedBy)
	x.FilledAt = str(fa)
	if len(x.AskedBy) == 0 {
		x.AskedBy = nil
	}
	return x, err
}

func (t *tx) Stub(ctx context.Context, tenantID int64, name string) (store.Stub, error) {
	r, err := t.row(ctx, "SELECT "+stubCols+" FROM stubs s WHERE s.tenant_id = $1 AND s.name = $2", tenantID, name)
	if err != nil {
		return store.Stub{}, err
	}
	x, err := scanStub(r)
	return x, dbErr(err)
}

func (t *tx) Stubs(ctx context.Context, tenantID int64) ([]store.Stub, error) {
	q := "SELECT " + stubCols + " FROM stubs s WHERE s.tenant_id = $1 AND s.filled_at IS NULL ORDER BY s.name" + byteOrder
	if tenantID == 0 {
		q = "SELECT " + stubCols + " FROM stubs s WHERE $1 = 0 ORDER BY s.tenant_id, s.name" + byteOrder
	}
	return list(t, ctx, q, []any{tenantID}, func(r pgx.Rows) (store.Stub, error) { return scanStub(r) })
}

func (t *tx) OpenStub(ctx context.Context, x store.Stub) (bool, error) {
	n, err := t.exec(ctx, `INSERT INTO stubs (tenant_id, name, requested_by, description, created_at, filled_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant_id, name) DO UPDATE SET filled_at = NULL, requested_by = EXCLUDED.requested_by, created_at = EXCLUDED.created_at
		WHERE stubs.filled_at IS NOT NULL`,
		x.TenantID, x.Name, x.RequestedBy, x.Description, x.CreatedAt, nullable(x.FilledAt))
	return n == 1, err
}

func (t *tx) FillStub(ctx context.Context, tenantID int64, name, at string) error {
	_, err := t.exec(ctx, "UPDATE stubs SET filled_at = $3 WHERE tenant_id = $1 AND name = $2 AND filled_at IS NULL", tenantID, name, at)
	return err
}

// ---- audit

const auditCols = "seq, ts, actor, action, tenant, object, success, detail, ip_address, user_agent, mac"

func scanAudit(r pgx.Row) (store.AuditRow, error) {
	var a store.AuditRow
	var ok int64
	err := r.Scan(&a.Seq, &a.TS, &a.Actor, &a.Action, &a.Tenant, &a.Object, &ok, &a.Detail, &a.IPAddress, &a.UserAgent, &a.MAC)
	a.Success = ok != 0
	return a, err
}

// AuditTail takes the chain head FOR UPDATE (held to commit: appends from
// every host queue here), then reads, in a new statement and so a new
// snapshot, the rows from the last keyed one on.
func (t *tx) AuditTail(ctx context.Context) ([]store.AuditRow, error) {
	const newestQ = "SELECT " + auditCols + " FROM audit ORDER BY seq DESC LIMIT $1"
	var newest []store.AuditRow
	if t.ro { // a snapshot (View) reads the tail without locking
		var err error
		if newest, err = list(t, ctx, newestQ, []any{auditFirstPage}, func(r pgx.Rows) (store.AuditRow, error) { return scanAudit(r) }); err != nil {
			return nil, err
		}
	} else {
		// The lock on the chain head and the read of the newest rows in
		// one round trip: in READ COMMITTED the read, the pipeline's
		// second statement, takes its snapshot once the lock is held.
		if err := t.begin(ctx, true); err != nil {
			return nil, err
		}
		b := &pgx.Batch{}
		b.Queue("SELECT 1 FROM audit_head FOR UPDATE")
		b.Queue(newestQ, auditFirstPage)
		br := t.q.SendBatch(t.qctx, b)
		_, err := br.Exec()
		if err == nil {
			newest, err = collect(br, func(r pgx.Rows) (store.AuditRow, error) { return scanAudit(r) })
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, dbErr(err)
		}
	}
	// The tail is nearly always the newest row alone (every row written
	// with the key is keyed): read the newest few rows backwards along the
	// primary key and stop at the first keyed one. Only a longer unkeyed
	// run (failed unlocks) needs the second query. That one's bound is
	// known only at run time, so the planner costs it as a third of the
	// table and chose a sequential scan: 1.3 ms per append at 16k rows,
	// growing with the chain (pg_stat_statements), on every audited read.
	for i, r := range newest {
		if r.MAC != nil || (i == len(newest)-1 && len(newest) < auditFirstPage) {
			tail := newest[:i+1]
			slices.Reverse(tail)
			return tail, nil
		}
	}
	if len(newest) == 0 {
		return nil, nil
	}
	return list(t, ctx, "SELECT "+auditCols+` FROM audit
		WHERE seq >= coalesce((SELECT max(seq) FROM audit WHERE mac IS NOT NULL), 0) ORDER BY seq`, nil,
		func(r pgx.Rows) (store.AuditRow, error) { return scanAudit(r) })
}

// auditChunk bounds the rows of one INSERT: 11 parameters a row, and the
// protocol allows 65,535.
const auditChunk = 1000

func (t *tx) AppendAudit(ctx context.Context, rows []store.AuditRow) error {
	if err := t.begin(ctx, true); err != nil {
		return err
	}
	for len(rows) > 0 {
		n := min(len(rows), auditChunk)
		if err := t.appendAudit(rows[:n]); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

func (t *tx) appendAudit(rows []store.AuditRow) error {
	var b strings.Builder
	b.WriteString("INSERT INTO audit (" + auditCols + ") VALUES ")
	args := make([]any, 0, len(rows)*11)
	for i, a := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
		ok := 0
		if a.Success {
			ok = 1
		}
		args = append(args, a.Seq, a.TS, a.Actor, a.Action, a.Tenant, a.Object, ok, a.Detail, a.IPAddress, a.UserAgent, a.MAC)
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	tag, err := t.q.Exec(t.qctx, b.String(), args...)
	if err != nil {
		return dbErr(err)
	}
	if int(tag.RowsAffected()) != len(rows) {
		return fmt.Errorf("%w: audit seq", store.ErrConflict)
	}
	return nil
}

// AppendAuditRows adds many rows at once (COPY), for vault copy.
func (t *tx) AppendAuditRows(ctx context.Context, rows []store.AuditRow) error {
	if err := t.begin(ctx, true); err != nil {
		return err
	}
	_, err := t.q.CopyFrom(t.qctx, pgx.Identifier{"audit"}, strings.Split(strings.ReplaceAll(auditCols, " ", ""), ","),
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			a := rows[i]
			ok := int64(0)
			if a.Success {
				ok = 1
			}
			return []any{a.Seq, a.TS, a.Actor, a.Action, a.Tenant, a.Object, ok, a.Detail, a.IPAddress, a.UserAgent, a.MAC}, nil
		}))
	return dbErr(err)
}

// auditPage is the most rows AuditScan fetches at a time: it stops
// fetching when fn stops it, and never holds a whole chain in memory.
// The first page is auditFirstPage rows and each next one twice the last:
// most scans stop at their first row or two (the newest row about a name,
// the keyed row before a row), and fetching 500 rows for each of them made
// verifying 10,000 names decode 5 million rows.
const (
	auditPage      = 500
	auditFirstPage = 8
)

// ctxOr is err, or the caller's ctx's error when it is done: a prefetched
// answer is refused to a caller that gave up, as a read would be.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// actionWord: an action as the core names them (lower-case words joined
// by hyphens), safe to write into a statement as a literal.
func actionWord(a string) bool {
	if a == "" || len(a) > 32 || a[0] == '-' {
		return false
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// auditScan is the statement AuditScan runs for f, page by page: q with
// args, whose $1 (the keyset cursor on seq, starting at cursor) and $2
// (the page size, size first) are set per page; mode, when not empty, is
// the query exec mode to pass before them.
type auditScan struct {
	q      string
	args   []any
	mode   []any
	cursor int64
	size   int
}

func buildAuditScan(f store.AuditFilter) auditScan {
	// $1 is the keyset cursor on seq and $2 the page size, set per page.
	args := []any{nil, nil}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	// Actions are the core's own words, so they are written into the
	// statement: its plan, also the generic one a server caches after a
	// few executions, knows a restore or a grant is rare and a get is
	// not. As a parameter, the generic plan of the chain's newest restore
	// walked the whole chain along the primary key (1/n_distinct of the
	// rows looked like a few pages away). Anything else is a parameter.
	action := func(as ...string) string {
		lit := make([]string, len(as))
		for i, a := range as {
			if !actionWord(a) {
				return "action = ANY(" + arg(as) + ")"
			}
			lit[i] = "'" + a + "'"
		}
		if len(lit) == 1 {
			return "action = " + lit[0]
		}
		return "action IN (" + strings.Join(lit, ", ") + ")"
	}
	cmp, order := ">", ""
	cursor := int64(0)
	if f.Desc {
		cmp, order, cursor = "<", " DESC", 1<<62
	}
	bounds := []string{"seq " + cmp + " $1"}
	if f.FromSeq > 0 {
		bounds = append(bounds, "seq >= "+arg(f.FromSeq))
	}
	if f.ToSeq > 0 {
		bounds = append(bounds, "seq <= "+arg(f.ToSeq))
	}
	if f.Since != "" {
		bounds = append(bounds, "ts >= "+arg(f.Since))
	}
	sel := func(conds ...string) string {
		return "SELECT " + auditCols + " FROM audit WHERE " + strings.Join(append(slices.Clip(bounds), conds...), " AND ")
	}
	objects := f.Objects
	if f.Object != "" {
		objects = append(slices.Clip(objects), f.Object)
	}
	f.Object = ""
	if len(objects) == 1 {
		f.Object = objects[0]
	}
	size := auditFirstPage
	var q string
	var mode []any // a query exec mode before the arguments, or none
	if len(objects) > 1 {
		// Several names (a service read's state checks): as for one name
		// below, one arm per action, each probing audit_object once per
		// name (object = ANY, tenant, action: equalities on its first
		// three columns) and sorting the few rows it finds ("seq + 0"),
		// the arms merged. With action = ANY(...) in one arm, the generic
		// plan kept only object and tenant as index conditions and
		// filtered every get row of the names on action (12.8 ms for 20
		// names with 870 get rows each, against about 1 ms). A few rows
		// per name: the first page is sized for all of them.
		common := []string{"object = ANY(" + arg(objects) + ")"}
		if f.Tenant != "" {
			common = append(common, "tenant = "+arg(f.Tenant))
		}
		var arms []string
		for _, a := range f.Actions {
			arms = append(arms, sel(append(slices.Clip(common), action(a))...)+" ORDER BY seq + 0"+order+" LIMIT $2")
		}
		if len(f.Actions) == 0 {
			arms = append(arms, sel(common...)+" ORDER BY seq + 0"+order+" LIMIT $2")
		}
		if len(f.OrActions) > 0 {
			arms = append(arms, sel(action(f.OrActions...))+" ORDER BY seq + 0"+order+" LIMIT $2")
		}
		q = arms[0]
		if len(arms) > 1 {
			q = "(" + strings.Join(arms, ") UNION ALL (") + ") ORDER BY seq" + order + " LIMIT $2"
		}
		size = min(auditPage, max(auditFirstPage, 4*len(objects)))
	} else if f.Object != "" && len(f.Actions) > 0 {
		// The rows of some actions about one name (the state checks' scan):
		// one arm per action, each an equality on every column of
		// audit_object (object, tenant, action, seq) but the last, then
		// the arms merged. Each arm sorts its rows ("seq + 0": a handful, or
		// one per version of the name) rather than offering the planner
		// seq order, which it took from walking the whole chain backwards
		// along the primary key, filtering, whenever it could not tell the
		// rows asked for from the name's many get rows: a generic plan
		// always, a custom one often (60 ms a read at 80,000 rows). With
		// action = ANY(...) in one scan, a stale estimate made it filter
		// the name's every row on action (0.75 ms at 3,300 get rows).
		common := []string{"object = " + arg(f.Object)}
		if f.Tenant != "" {
			common = append(common, "tenant = "+arg(f.Tenant))
		}
		var arms []string
		for _, a := range f.Actions {
			arms = append(arms, sel(append(slices.Clip(common), action(a))...)+" ORDER BY seq + 0"+order+" LIMIT $2")
		}
		if len(f.OrActions) > 0 {
			arms = append(arms, sel(action(f.OrActions...))+" ORDER BY seq + 0"+order+" LIMIT $2")
		}
		q = arms[0]
		if len(arms) > 1 {
			q = "(" + strings.Join(arms, ") UNION ALL (") + ") ORDER BY seq" + order + " LIMIT $2"
		}
	} else {
		var match []string
		if len(f.Actions) > 0 {
			match = append(match, action(f.Actions...))
		}
		if f.Tenant != "" {
			match = append(match, "tenant = "+arg(f.Tenant))
		}
		if f.Object != "" {
			match = append(match, "object = "+arg(f.Object))
		}
		if len(f.OrActions) > 0 {
			if len(match) == 0 {
				match = []string{"true"}
			}
			match = []string{"((" + strings.Join(match, " AND ") + ") OR " + action(f.OrActions...) + ")"}
		}
		q = sel(match...) + " ORDER BY seq" + order + " LIMIT $2"
		// Any filter (keysmith audit's): planned for its values every
		// time, never on a cached generic plan, which cannot tell a
		// filter matching a few rows from one matching most and may walk
		// the chain along the primary key for either.
		mode = []any{pgx.QueryExecModeExec}
	}
	return auditScan{q: q, args: args, mode: mode, cursor: cursor, size: size}
}

func (t *tx) AuditScan(ctx context.Context, f store.AuditFilter, fn func(store.AuditRow) error) error {
	if err := t.begin(ctx, false); err != nil {
		return err
	}
	b := buildAuditScan(f)
	q, args, mode, cursor, size := b.q, b.args, b.mode, b.cursor, b.size
	left := f.Limit
	for {
		n := size
		size = min(2*size, auditPage)
		if f.Limit > 0 && left < n {
			n = left
		}
		args[0], args[1] = cursor, n
		var page []store.AuditRow
		ok := false
		if cursor == b.cursor {
			page, ok = t.pf.scan(f, n)
		}
		if !ok {
			var err error
			page, err = list(t, ctx, q, append(mode, args...), func(r pgx.Rows) (store.AuditRow, error) { return scanAudit(r) })
			if err != nil {
				return err
			}
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if f.Limit > 0 {
			left -= len(page)
		}
		if len(page) < n || (f.Limit > 0 && left <= 0) {
			return nil
		}
		cursor = page[len(page)-1].Seq
	}
}

// ---- counts

func (t *tx) Counts(ctx context.Context) (store.Counts, error) {
	var c store.Counts
	err := t.scanOne(ctx, `SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM deks), (SELECT count(*) FROM secrets),
		(SELECT count(*) FROM devices), (SELECT count(*) FROM device_keys), (SELECT count(*) FROM device_secrets), (SELECT count(*) FROM device_reports),
		(SELECT count(*) FROM service_tokens), (SELECT count(*) FROM grants), (SELECT count(*) FROM access_requests),
		(SELECT count(*) FROM stubs WHERE filled_at IS NULL), (SELECT count(*) FROM audit), (SELECT count(*) FROM device_challenges),
		(SELECT count(*) FROM amt_certs)`, nil,
		&c.Tenants, &c.DEKs, &c.SecretVersions, &c.Devices, &c.DeviceKeys, &c.DeviceSecrets, &c.DeviceReports,
		&c.Tokens, &c.Grants, &c.Requests, &c.OpenStubs, &c.Audit, &c.Challenges, &c.AMTCerts)
	return c, err
}

// ---- AMT provisioning certificates

const amtCertCols = "tenant_id, name, chain, subject, root_fingerprint, not_after, dek_version, sealed_key, allowed, created_at, created_by, mac"

func scanAMTCert(r pgx.Row) (store.AMTCert, error) {
	var x store.AMTCert
	err := r.Scan(&x.TenantID, &x.Name, &x.Chain, &x.Subject, &x.RootFingerprint, &x.NotAfter, &x.DEKVersion, &x.SealedKey, &x.Allowed,
		&x.CreatedAt, &x.CreatedBy, &x.MAC)
	return x, err
}

func (t *tx) AMTCert(ctx context.Context, tenantID int64, name string) (store.AMTCert, error) {
	r, err := t.row(ctx, "SELECT "+amtCertCols+" FROM amt_certs WHERE tenant_id = $1 AND name = $2", tenantID, name)
	if err != nil {
		return store.AMTCert{}, err
	}
	x, err := scanAMTCert(r)
	return x, dbErr(err)
}

func (t *tx) AMTCerts(ctx context.Context, tenantID int64) ([]store.AMTCert, error) {
	out, err := list(t, ctx, "SELECT "+amtCertCols+" FROM amt_certs WHERE ($1 = 0 OR tenant_id = $1) ORDER BY tenant_id, name"+byteOrder,
		[]any{tenantID}, func(r pgx.Rows) (store.AMTCert, error) { return scanAMTCert(r) })
	if out == nil && err == nil {
		out = []store.AMTCert{}
	}
	return out, err
}

func (t *tx) InsertAMTCert(ctx context.Context, x store.AMTCert) error {
	return t.insertOne(ctx, "amt_certs", `INSERT INTO amt_certs (`+amtCertCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		x.TenantID, x.Name, x.Chain, x.Subject, x.RootFingerprint, x.NotAfter, x.DEKVersion, x.SealedKey, x.Allowed, x.CreatedAt, x.CreatedBy, x.MAC)
}

func (t *tx) UpdateAMTCertSeal(ctx context.Context, tenantID int64, name string, dekVersion int, sealed []byte) error {
	return t.execOne(ctx, "UPDATE amt_certs SET dek_version = $3, sealed_key = $4 WHERE tenant_id = $1 AND name = $2", tenantID, name, dekVersion, sealed)
}

func (t *tx) SetAMTCertAllowed(ctx context.Context, tenantID int64, name, allowed string, mac []byte) error {
	return t.execOne(ctx, "UPDATE amt_certs SET allowed = $3, mac = $4 WHERE tenant_id = $1 AND name = $2", tenantID, name, allowed, mac)
}

func (t *tx) DeleteAMTCert(ctx context.Context, tenantID int64, name string) (bool, error) {
	n, err := t.exec(ctx, "DELETE FROM amt_certs WHERE tenant_id = $1 AND name = $2", tenantID, name)
	return n == 1, err
}
