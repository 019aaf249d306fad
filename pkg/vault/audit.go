package vault

import (
	"context"
	"crypto/hmac"
	"errors"
	"slices"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/chain"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// AuditRecord is one row of the audit trail. It never holds a value.
type AuditRecord struct {
	Seq       int64  `json:"seq"`
	Timestamp string `json:"timestamp"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Tenant    string `json:"tenant"`
	Object    string `json:"object"`
	Success   bool   `json:"success"`
	Detail    string `json:"detail,omitempty"`
	IPAddress string `json:"ip_address"`
	UserAgent string `json:"user_agent"`
	Keyed     bool   `json:"keyed"` // false for rows written without the key (failed unlocks)
}

func auditRecord(r store.AuditRow) AuditRecord {
	return AuditRecord{Seq: r.Seq, Timestamp: r.TS, Actor: r.Actor, Action: r.Action, Tenant: r.Tenant, Object: r.Object,
		Success: r.Success, Detail: r.Detail, IPAddress: r.IPAddress, UserAgent: r.UserAgent, Keyed: r.MAC != nil}
}

// AuditFilter selects audit rows. Zero fields select everything.
type AuditFilter struct {
	Since  string // rows at or after this time (TimeLayout or a prefix of it)
	Action string
	Tenant string
}

// Audit returns the audit rows matching filter, oldest first. It reads no
// secret material and needs no key.
func (v *Vault) Audit(ctx context.Context, filter AuditFilter) ([]AuditRecord, error) {
	out := []AuditRecord{}
	err := v.AuditEach(ctx, filter, func(r AuditRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// AuditEach calls fn for each audit row matching filter, oldest first,
// without holding them all in memory; an error from fn stops the walk and
// is returned.
func (v *Vault) AuditEach(ctx context.Context, filter AuditFilter, fn func(AuditRecord) error) error {
	f := store.AuditFilter{Since: filter.Since, Tenant: filter.Tenant}
	if filter.Action != "" {
		f.Actions = []string{filter.Action}
	}
	return v.st.View(ctx, func(tx store.Tx) error {
		return tx.AuditScan(ctx, f, func(r store.AuditRow) error { return fn(auditRecord(r)) })
	})
}

// VerifyResult is the outcome of VerifyAudit.
type VerifyResult = chain.Result

// AuditError names the first row that fails verification.
type AuditError = chain.Error

// VerifyAudit walks the audit chain and checks every MAC. Rows edited,
// deleted, reordered or appended without the key make it fail with an
// *AuditError naming the first bad row; so does a chain that does not start
// with the vault's keyed init row (a wiped or cut audit table). Unkeyed
// rows (failed unlocks) after the last keyed row are counted as
// unverified, not as tampering: the next keyed row will cover them. Then
// every row MAC of the authorisation tables is checked (docs/vault.md,
// "Row authentication"): a bad one fails with ErrTampered naming the row.
func (v *Vault) VerifyAudit(ctx context.Context) (*VerifyResult, error) {
	keys, level := v.state()
	if keys == nil {
		return nil, ErrLocked
	}
	var res *VerifyResult
	err := v.st.View(ctx, func(tx store.Tx) error {
		ver := &chain.Verifier{Key: keys.AuditKey(), Genesis: v.vaultID}
		err := tx.AuditScan(ctx, store.AuditFilter{}, func(r store.AuditRow) error { return ver.Add(&r) })
		res = &ver.Result
		if err != nil {
			return err
		}
		if res, err = ver.Done(); err != nil {
			return err
		}
		o := v.newOp(ctx, tx, keys, level)
		return o.forEachMACRow(func(r keyring.Row, _ func([]byte) error) error {
			if r.Table == keyring.TableDevices && level < keyring.LevelDevices {
				return nil
			}
			if level < keyring.LevelRows {
				return nil
			}
			return keys.Check(r)
		})
	})
	return res, err
}

// IsAuditError reports whether err is an audit verification failure.
func IsAuditError(err error) bool {
	var ae *AuditError
	return errors.As(err, &ae)
}

// actionList is the documented list of audit actions.
func actionList() []string {
	return slices.Concat(
		[]string{"init", "unlock", "tenant-add", "put", "get", "rm", "purge", "import", "export", "restore", "rotate-master", "rotate-dek"},
		deviceActions, accessActions)
}

// Actions returns the audit actions keysmith writes.
func Actions() string { return strings.Join(actionList(), ", ") }

// AuditHasHead reports the seq of the keyed audit row whose MAC is mac (a
// head printed by "vault audit verify" and recorded elsewhere), or 0 when
// no row has it: the chain was cut after that head or the vault rolled
// back to before it. Call it after VerifyAudit succeeded.
func (v *Vault) AuditHasHead(ctx context.Context, mac []byte) (int64, error) {
	var seq int64
	err := v.st.View(ctx, func(tx store.Tx) error {
		return tx.AuditScan(ctx, store.AuditFilter{Desc: true}, func(r store.AuditRow) error {
			if r.MAC != nil && hmac.Equal(r.MAC, mac) {
				seq = r.Seq
				return errStop
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return seq, err
}
