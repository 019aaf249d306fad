package vault

// Row authentication: docs/vault.md, "Row authentication". Every row whose
// fields drive an authorisation decision (device keys, service tokens,
// grants, access requests) carries a MAC under the row key, which only the
// master key unlocks. A decision verifies the rows it reads and fails
// closed with ErrTampered; every write of those fields recomputes the MAC.

import (
	"crypto/hmac"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// macTable says which fields of a table the row MAC covers, in order, the
// primary key first.
type macTable struct {
	table  string   // table name, also the label suffix
	pk     int      // how many of fields are the primary key
	fields []string // SQL select expressions
	from   string   // FROM clause: the table, joined to what the MAC binds
}

var (
	// A device key is bound to its device's public ID as well as to the
	// devices row it points at, so that swapping devices rows does not move
	// a key to another device.
	macDeviceKeys = macTable{"device_keys", 1, []string{"device_keys.id", "device_keys.tenant_id", "device_keys.device_ref",
		"devices.device_id", "device_keys.key_id", "device_keys.spki", "device_keys.fingerprint", "device_keys.role",
		"device_keys.origin", "device_keys.status", "coalesce(device_keys.revoked_at, '')"},
		"device_keys JOIN devices ON devices.id = device_keys.device_ref"}
	macTokens = macTable{"service_tokens", 1, []string{"service_tokens.id", "service_tokens.service", "service_tokens.hash",
		"service_tokens.status"}, "service_tokens"}
	macGrants   = macTable{"grants", 3, []string{"grants.tenant_id", "grants.service", "grants.name", "grants.status"}, "grants"}
	macRequests = macTable{"access_requests", 1, []string{"access_requests.id", "access_requests.tenant_id",
		"access_requests.service", "access_requests.name", "access_requests.status"}, "access_requests"}

	macTables = []macTable{macDeviceKeys, macTokens, macGrants, macRequests}
)

// pkWhere is the WHERE clause selecting one row by primary key.
func (m macTable) pkWhere() string {
	cols := slices.Clone(m.fields[:m.pk])
	for i, c := range cols {
		cols[i] = c + " = ?"
	}
	return strings.Join(cols, " AND ")
}

// rowName names a row in an error: the table and its primary key.
func (m macTable) rowName(fields []any) string {
	parts := make([]string, m.pk)
	for i := range parts {
		parts[i] = fmt.Sprint(fields[i])
	}
	return m.table + " row (" + strings.Join(parts, ", ") + ")"
}

// scanRows reads the MAC'd fields and the stored MAC of the rows matching
// where, and calls fn for each.
func (m macTable) scanRows(q querier, where string, args []any, fn func(fields []any, mac []byte) error) error {
	rows, err := q.Query("SELECT "+strings.Join(m.fields, ", ")+", "+m.table+".mac FROM "+m.from+" WHERE "+where, args...)
	if err != nil {
		return err
	}
	type row struct {
		fields []any
		mac    []byte
	}
	var all []row
	n := len(m.fields)
	for rows.Next() {
		r := row{fields: make([]any, n)}
		dest := make([]any, n+1)
		for i := range r.fields {
			dest[i] = &r.fields[i]
		}
		dest[n] = &r.mac
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		if err := fn(r.fields, r.mac); err != nil {
			return err
		}
	}
	return nil
}

// checkRows verifies the MAC of every row of m matching where: a missing or
// wrong MAC is ErrTampered, naming the row. No matching row is no error.
func (v *Vault) checkRows(q querier, m macTable, where string, args ...any) error {
	return m.scanRows(q, where, args, func(fields []any, mac []byte) error {
		want, err := rowMAC(v.unlocked.row, m.table, fields)
		if err != nil {
			return err
		}
		if mac == nil {
			return fmt.Errorf("%w: %s has no MAC: it was written without the vault's key", ErrTampered, m.rowName(fields))
		}
		if !hmac.Equal(mac, want) {
			return fmt.Errorf("%w: the MAC of %s does not verify: the row was changed without the vault's key", ErrTampered, m.rowName(fields))
		}
		return nil
	})
}

// checkRow verifies one row by primary key.
func (v *Vault) checkRow(q querier, m macTable, pk ...any) error {
	return v.checkRows(q, m, m.pkWhere(), pk...)
}

// sealRows recomputes and stores the MAC of every row of m matching where,
// from the row as it is now. Callers write the row's fields first.
func (v *Vault) sealRows(q querier, m macTable, where string, args ...any) (int, error) {
	n := 0
	err := m.scanRows(q, where, args, func(fields []any, _ []byte) error {
		mac, err := rowMAC(v.unlocked.row, m.table, fields)
		if err != nil {
			return err
		}
		upd := "UPDATE " + m.table + " SET mac = ? WHERE " + m.pkWhere()
		if _, err := q.Exec(upd, append([]any{mac}, fields[:m.pk]...)...); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// sealRow recomputes the MAC of one row by primary key.
func (v *Vault) sealRow(q querier, m macTable, pk ...any) error {
	_, err := v.sealRows(q, m, m.pkWhere(), pk...)
	return err
}

// ensureRowMACs runs at the start of every unlocked write transaction
// until the vault has row MACs. A vault has them from its creation, or from
// the first unlocked write after the upgrade to schema 5: then every row
// without a MAC gets one, once (trust on upgrade), and the audit key is
// re-wrapped with the "row-macs" AD in the same transaction (auditKeyAD).
// From then on, Unlock knows from the wrapped audit key that a row without
// a MAC is tampering; the wrapped key cannot be turned back without the
// KEK.
func (v *Vault) ensureRowMACs(tx *sql.Tx) error {
	var wrapped []byte
	if err := tx.QueryRow("SELECT value FROM meta WHERE key = 'audit_key'").Scan(&wrapped); err != nil {
		return err
	}
	if ak, err := v.unlocked.kek.Open(nil, wrapped, auditKeyAD(v.vaultID, true)); err == nil {
		clear(ak) // another process upgraded the vault since Unlock
		return nil
	}
	for _, m := range macTables {
		if _, err := v.sealRows(tx, m, m.table+".mac IS NULL"); err != nil {
			return err
		}
	}
	rewrapped, err := v.unlocked.kek.Seal(nil, v.unlocked.audit, auditKeyAD(v.vaultID, true))
	if err != nil {
		return err
	}
	_, err = tx.Exec("UPDATE meta SET value = ? WHERE key = 'audit_key'", rewrapped)
	return err
}
