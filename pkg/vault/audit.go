package vault

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keysmith/keysmith/pkg/seal"
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
	Keyed     bool   `json:"keyed"` // false for rows written without the key (failed unlocks)
}

type auditRow struct {
	Action, Tenant, Object, Detail string
	Success                        bool
}

// rowBytes is what the chain hashes for one row: docs/vault.md, "Audit
// chain".
func rowBytes(prev []byte, r *AuditRecord) []byte {
	ok := []byte{0}
	if r.Success {
		ok[0] = 1
	}
	return seal.AD(labelAuditRow, prev, be64(r.Seq), []byte(r.Timestamp), []byte(r.Actor), []byte(r.Action),
		[]byte(r.Tenant), []byte(r.Object), ok, []byte(r.Detail))
}

// keyedLink is the MAC of a keyed row: HMAC-SHA256(audit key, rowBytes).
func keyedLink(key, prev []byte, r *AuditRecord) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(rowBytes(prev, r))
	return m.Sum(nil)
}

// unkeyedLink is the chain value of an unkeyed row, which anyone can
// compute: SHA-256("keysmith/v1/vault/audit-unkeyed" framed, rowBytes).
func unkeyedLink(prev []byte, r *AuditRecord) []byte {
	h := sha256.New()
	h.Write(seal.AD(labelAuditNoMAC, rowBytes(prev, r)))
	return h.Sum(nil)
}

// genesis is the chain value before the first row: the vault ID.
func (v *Vault) genesis() []byte { return v.vaultID }

// auditor appends keyed rows within one transaction, keeping the chain
// head in memory between appends.
type auditor struct {
	v    *Vault
	tx   *sql.Tx
	seq  int64
	head []byte
	stmt *sql.Stmt
}

func (v *Vault) auditor(tx *sql.Tx) *auditor { return &auditor{v: v, tx: tx} }

func (a *auditor) load() error {
	// The chain value after the last row: the last keyed row's MAC, hashed
	// forward over any unkeyed rows after it.
	var start int64
	err := a.tx.QueryRow("SELECT coalesce(max(seq), 0) FROM audit WHERE mac IS NOT NULL").Scan(&start)
	if err != nil {
		return err
	}
	a.head = a.v.genesis()
	rows, err := a.tx.Query("SELECT seq, ts, actor, action, tenant, object, success, detail, mac FROM audit WHERE seq >= ? ORDER BY seq", start)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, mac, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if mac != nil {
			a.head = mac
		} else {
			a.head = unkeyedLink(a.head, r)
		}
		a.seq = r.Seq
	}
	if err := rows.Err(); err != nil {
		return err
	}
	a.stmt, err = a.tx.Prepare("INSERT INTO audit (seq, ts, actor, action, tenant, object, success, detail, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
	return err
}

func (a *auditor) append(row auditRow) error {
	if a.v.unlocked == nil {
		return ErrLocked
	}
	if a.stmt == nil {
		if err := a.load(); err != nil {
			return err
		}
	}
	r := &AuditRecord{Seq: a.seq + 1, Timestamp: a.v.timestamp(), Actor: a.v.opts.Actor, Action: row.Action,
		Tenant: row.Tenant, Object: row.Object, Success: row.Success, Detail: row.Detail, Keyed: true}
	mac := keyedLink(a.v.unlocked.audit, a.head, r)
	if _, err := a.stmt.Exec(r.Seq, r.Timestamp, r.Actor, r.Action, r.Tenant, r.Object, r.Success, r.Detail, mac); err != nil {
		return err
	}
	a.seq, a.head = r.Seq, mac
	return nil
}

func (a *auditor) close() {
	if a.stmt != nil {
		a.stmt.Close()
	}
}

// appendAudit appends one keyed row within tx.
func (v *Vault) appendAudit(tx *sql.Tx, row auditRow) error {
	a := v.auditor(tx)
	defer a.close()
	return a.append(row)
}

// auditFailedUnlock appends an unkeyed row: a failed unlock cannot be MACed
// with the right key. Best effort.
func (v *Vault) auditFailedUnlock(detail string) {
	_ = v.write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO audit (seq, ts, actor, action, tenant, object, success, detail, mac)
			VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM audit), ?, ?, 'unlock', '', ?, 0, ?, NULL)`,
			v.timestamp(), v.opts.Actor, v.path, detail)
		return err
	})
}

// AuditWrongEnvironment records a refused open for another environment
// than the vault's (a command run with -e prod against a dev vault) the way
// a failed unlock is recorded: an unkeyed "unlock" row, since the refusal
// happens before any key is read. from says what selected the environment
// ("-e/--env", "KEYSMITH_ENV"). Best effort.
func (v *Vault) AuditWrongEnvironment(selected, from string) {
	v.auditFailedUnlock(fmt.Sprintf("environment %s selected by %s, vault is %s", selected, from, v.env))
}

// AppendAudit records an event that happened outside the vault's own
// methods (for example a command refusing to run). The vault must be
// unlocked.
func (v *Vault) AppendAudit(action, tenantName, object string, success bool, detail string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	return v.write(context.Background(), func(tx *sql.Tx) error {
		return v.appendAudit(tx, auditRow{Action: action, Tenant: tenantName, Object: object, Success: success, Detail: detail})
	})
}

func scanAudit(sc interface{ Scan(...any) error }) (*AuditRecord, []byte, error) {
	r := &AuditRecord{}
	var mac []byte
	err := sc.Scan(&r.Seq, &r.Timestamp, &r.Actor, &r.Action, &r.Tenant, &r.Object, &r.Success, &r.Detail, &mac)
	r.Keyed = mac != nil
	return r, mac, err
}

// AuditFilter selects audit rows. Zero fields select everything.
type AuditFilter struct {
	Since  string // rows at or after this time (TimeLayout or a prefix of it)
	Action string
	Tenant string
}

// Audit returns the audit rows matching filter, oldest first. It reads no
// secret material and needs no key.
func (v *Vault) Audit(filter AuditFilter) ([]AuditRecord, error) {
	q := "SELECT seq, ts, actor, action, tenant, object, success, detail, mac FROM audit WHERE 1=1"
	var args []any
	if filter.Since != "" {
		q += " AND ts >= ?"
		args = append(args, filter.Since)
	}
	if filter.Action != "" {
		q += " AND action = ?"
		args = append(args, filter.Action)
	}
	if filter.Tenant != "" {
		q += " AND tenant = ?"
		args = append(args, filter.Tenant)
	}
	rows, err := v.db.Query(q+" ORDER BY seq", args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		r, _, err := scanAudit(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, *r)
	}
	return out, dbErr(rows.Err())
}

// VerifyResult is the outcome of VerifyAudit.
type VerifyResult struct {
	Rows       int    `json:"rows"`       // rows read
	Verified   int    `json:"verified"`   // rows covered by a valid MAC
	Unverified int    `json:"unverified"` // trailing unkeyed rows no MAC covers yet
	HeadSeq    int64  `json:"head_seq"`   // last keyed row
	HeadMAC    string `json:"head_mac"`   // its MAC, hex: record it elsewhere to detect rollback
}

// AuditError names the first row that fails verification.
type AuditError struct {
	Seq    int64
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit row %d: %s", e.Seq, e.Reason)
}

func (e *AuditError) Unwrap() error { return ErrAuditTampered }

// VerifyAudit walks the audit chain and checks every MAC. Rows edited,
// deleted, reordered or appended without the key make it fail with an
// *AuditError naming the first bad row. Unkeyed rows (failed unlocks) after
// the last keyed row are counted as unverified, not as tampering: the next
// keyed row will cover them. Then every row MAC of the authorisation tables
// is checked (docs/vault.md, "Row authentication"): a bad one fails with
// ErrTampered naming the row.
func (v *Vault) VerifyAudit() (*VerifyResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	rows, err := v.db.Query("SELECT seq, ts, actor, action, tenant, object, success, detail, mac FROM audit ORDER BY seq")
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	res := &VerifyResult{}
	head := v.genesis()
	var want int64 = 1
	pending := 0
	for rows.Next() {
		r, mac, err := scanAudit(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		res.Rows++
		if r.Seq != want {
			return res, &AuditError{Seq: r.Seq, Reason: fmt.Sprintf("expected row %d: rows were deleted or renumbered", want)}
		}
		want++
		if mac == nil {
			if r.Action != "unlock" || r.Success {
				return res, &AuditError{Seq: r.Seq, Reason: fmt.Sprintf("unkeyed %s row: only failed unlocks are written without the key", r.Action)}
			}
			head = unkeyedLink(head, r)
			pending++
			continue
		}
		if !hmac.Equal(mac, keyedLink(v.unlocked.audit, head, r)) {
			reason := "MAC does not verify: the row, or a row before it, was edited, deleted, reordered or inserted"
			return res, &AuditError{Seq: r.Seq, Reason: reason}
		}
		head = mac
		res.Verified += pending + 1
		pending = 0
		res.HeadSeq, res.HeadMAC = r.Seq, fmt.Sprintf("%x", mac)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(err)
	}
	res.Unverified = pending
	// The chain does not cover the authorisation rows; their MACs are
	// checked here too, so that a changed grant, token or device key shows.
	if v.rowMACs {
		for _, m := range macTables {
			if err := v.checkRows(v.db, m, "1 = 1"); err != nil {
				return res, dbErr(err)
			}
		}
	}
	return res, nil
}

// IsAuditError reports whether err is an audit verification failure.
func IsAuditError(err error) bool {
	var ae *AuditError
	return errors.As(err, &ae)
}

// actionList is the documented list of audit actions.
var actionList = slices.Concat(
	[]string{"init", "unlock", "tenant-add", "put", "get", "rm", "purge", "import", "export", "restore", "rotate-master", "rotate-dek"},
	deviceActions, accessActions)

// Actions returns the audit actions keysmith writes.
func Actions() string { return strings.Join(actionList, ", ") }
