package keyring

// Row authentication: docs/vault.md, "Row authentication". Every row whose
// fields drive an authorisation decision carries a MAC under the row key:
//
//	mac = HMAC-SHA256(row key, AD("keysmith/v1/vault/row/" || table, fields...))
//
// with the primary key first, then every security-relevant field, integers
// be64 and text and blobs their bytes.

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// Row is the MAC input of one row: its table, how many leading fields are
// the primary key, the fields, and the MAC stored with it.
type Row struct {
	Table  string
	PK     int
	Fields []any // int64, string or []byte
	MAC    []byte
}

// Name names the row in an error: the table and its primary key.
func (r Row) Name() string {
	parts := make([]string, r.PK)
	for i := range parts {
		parts[i] = fmt.Sprint(r.Fields[i])
	}
	return r.Table + " row (" + strings.Join(parts, ", ") + ")"
}

// Tables with row MACs, by the level that introduced them.
const (
	TableDeviceKeys = "device_keys"
	TableTokens     = "service_tokens"
	TableGrants     = "grants"
	TableRequests   = "access_requests"
	TableDevices    = "devices"
	TableAMTCerts   = "amt_certs" // schema 7; MAC always present
)

// DeviceKeyRow: id, tenant_id, device_ref, the device's public device_id,
// key_id, spki, fingerprint, role, origin, status, revoked_at ("" when
// NULL). A key is bound both to its devices row and to that row's public
// device ID.
func DeviceKeyRow(k store.DeviceKey) Row {
	return Row{TableDeviceKeys, 1, []any{k.ID, k.TenantID, k.DeviceRef, k.DeviceID, k.KeyID, k.SPKI, k.Fingerprint, k.Role, k.Origin, k.Status, k.RevokedAt}, k.MAC}
}

// TokenRow: id, service, hash, status.
func TokenRow(t store.Token) Row {
	return Row{TableTokens, 1, []any{t.ID, t.Service, t.Hash, t.Status}, t.MAC}
}

// GrantRow: tenant_id, service, name, status.
func GrantRow(g store.Grant) Row {
	return Row{TableGrants, 3, []any{g.TenantID, g.Service, g.Name, g.Status}, g.MAC}
}

// RequestRow: id, tenant_id, service, name, status.
func RequestRow(r store.Request) Row {
	return Row{TableRequests, 1, []any{r.ID, r.TenantID, r.Service, r.Name, r.Status}, r.MAC}
}

// DeviceRow: id, tenant_id, device_id, name, device_uuid ("" when NULL),
// role.
func DeviceRow(d store.Device) Row {
	return Row{TableDevices, 1, []any{d.Ref, d.TenantID, d.ID, d.Name, d.UUID, d.Role}, d.MAC}
}

// AMTCertRow: tenant_id, name, chain, root_fingerprint, allowed.
func AMTCertRow(c store.AMTCert) Row {
	return Row{TableAMTCerts, 2, []any{c.TenantID, c.Name, c.Chain, c.RootFingerprint, c.Allowed}, c.MAC}
}

// MAC computes the row's MAC.
func (k *Keys) MAC(r Row) []byte {
	enc := make([][]byte, len(r.Fields))
	for i, f := range r.Fields {
		switch f := f.(type) {
		case int64:
			enc[i] = Be64(f)
		case string:
			enc[i] = []byte(f)
		case []byte:
			enc[i] = f
		default:
			panic(fmt.Sprintf("keyring: %s field %d has type %T", r.Table, i+1, f))
		}
	}
	m := hmac.New(sha256.New, k.row)
	m.Write(seal.AD(labelRowPrefix+r.Table, enc...))
	return m.Sum(nil)
}

// Check verifies the row's stored MAC in constant time: a missing or wrong
// one is ErrTampered naming the row.
func (k *Keys) Check(r Row) error {
	if r.MAC == nil {
		return fmt.Errorf("%w: %s has no MAC: it was written without the vault's key", vaulterr.ErrTampered, r.Name())
	}
	if !hmac.Equal(r.MAC, k.MAC(r)) {
		return fmt.Errorf("%w: the MAC of %s does not verify: the row was changed without the vault's key", vaulterr.ErrTampered, r.Name())
	}
	return nil
}
