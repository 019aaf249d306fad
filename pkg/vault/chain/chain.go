// Package chain is the audit chain's arithmetic (docs/vault.md, "Audit
// chain"): the bytes each row contributes, the keyed and unkeyed links,
// the head after a tail of rows, and the verification walk. It holds no
// SQL and no policy beyond what a chain is.
package chain

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

const (
	labelRow     = "keysmith/v1/vault/audit"
	labelUnkeyed = "keysmith/v1/vault/audit-unkeyed"
)

// RowBytes is what the chain hashes for one row:
//
//	AD("keysmith/v1/vault/audit", prev, be64(seq), ts, actor, action, tenant,
//	   object, success (1 byte), detail [, ip_address, user_agent])
//
// The last two fields are present only when either is not empty: rows
// written before migration 0006 have neither and keep their bytes.
func RowBytes(prev []byte, r *store.AuditRow) []byte {
	ok := []byte{0}
	if r.Success {
		ok[0] = 1
	}
	fields := [][]byte{prev, keyring.Be64(r.Seq), []byte(r.TS), []byte(r.Actor), []byte(r.Action),
		[]byte(r.Tenant), []byte(r.Object), ok, []byte(r.Detail)}
	if r.IPAddress != "" || r.UserAgent != "" {
		fields = append(fields, []byte(r.IPAddress), []byte(r.UserAgent))
	}
	return seal.AD(labelRow, fields...)
}

// KeyedLink is the MAC of a keyed row: HMAC-SHA256(audit key, RowBytes).
func KeyedLink(key, prev []byte, r *store.AuditRow) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(RowBytes(prev, r))
	return m.Sum(nil)
}

// UnkeyedLink is the chain value of an unkeyed row, which anyone can
// compute: SHA-256(AD("keysmith/v1/vault/audit-unkeyed", RowBytes)).
func UnkeyedLink(prev []byte, r *store.AuditRow) []byte {
	h := sha256.New()
	h.Write(seal.AD(labelUnkeyed, RowBytes(prev, r)))
	return h.Sum(nil)
}

// Head returns the last seq and the chain value after the rows of a tail
// (store.AuditTx.AuditTail: the last keyed row and the unkeyed rows after
// it, or every row when none is keyed). The value before the first row
// is genesis, the vault ID.
func Head(genesis []byte, tail []store.AuditRow) (int64, []byte) {
	head, seq := genesis, int64(0)
	for i := range tail {
		r := &tail[i]
		if r.MAC != nil {
			head = r.MAC
		} else {
			head = UnkeyedLink(head, r)
		}
		seq = r.Seq
	}
	return seq, head
}

// Appender numbers and links new rows after a head. Keyed rows get their
// MAC; unkeyed rows (MAC nil on input, Unkeyed set) stay unkeyed.
type Appender struct {
	Key  []byte // the audit key; nil when only unkeyed rows are appended
	Seq  int64
	Head []byte
}

// Link numbers r as the next row and, unless unkeyed, sets its MAC.
func (a *Appender) Link(r *store.AuditRow, unkeyed bool) {
	a.Seq++
	r.Seq = a.Seq
	if unkeyed {
		r.MAC = nil
		a.Head = UnkeyedLink(a.Head, r)
		return
	}
	r.MAC = KeyedLink(a.Key, a.Head, r)
	a.Head = r.MAC
}

// Error names the first row that fails verification.
type Error struct {
	Seq    int64
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("audit row %d: %s", e.Seq, e.Reason) }

func (e *Error) Unwrap() error { return vaulterr.ErrAuditTampered }

// Result is the outcome of a verification walk.
type Result struct {
	Rows       int    `json:"rows"`       // rows read
	Verified   int    `json:"verified"`   // rows covered by a valid MAC
	Unverified int    `json:"unverified"` // trailing unkeyed rows no MAC covers yet
	HeadSeq    int64  `json:"head_seq"`   // last keyed row
	HeadMAC    string `json:"head_mac"`   // its MAC, hex: record it elsewhere to detect rollback
}

// Verifier walks a chain row by row, oldest first (Add), and says at the
// end (Done) whether it was whole. The first row must be the vault's keyed
// "init" row: a chain that starts anywhere else was cut or wiped.
type Verifier struct {
	Key     []byte
	Genesis []byte
	Result  Result

	head    []byte
	want    int64
	pending int
}

// Add checks the next row.
func (v *Verifier) Add(r *store.AuditRow) error {
	if v.head == nil {
		v.head, v.want = v.Genesis, 1
	}
	v.Result.Rows++
	if r.Seq != v.want {
		return &Error{Seq: r.Seq, Reason: fmt.Sprintf("expected row %d: rows were deleted or renumbered", v.want)}
	}
	v.want++
	if r.Seq == 1 && (r.Action != "init" || r.MAC == nil) {
		return &Error{Seq: 1, Reason: fmt.Sprintf("the chain starts with a %s row, not the vault's keyed init row: rows were deleted", r.Action)}
	}
	if r.MAC == nil {
		if r.Action != "unlock" || r.Success {
			return &Error{Seq: r.Seq, Reason: fmt.Sprintf("unkeyed %s row: only failed unlocks are written without the key", r.Action)}
		}
		v.head = UnkeyedLink(v.head, r)
		v.pending++
		return nil
	}
	if !hmac.Equal(r.MAC, KeyedLink(v.Key, v.head, r)) {
		return &Error{Seq: r.Seq, Reason: "MAC does not verify: the row, or a row before it, was edited, deleted, reordered or inserted"}
	}
	v.head = r.MAC
	v.Result.Verified += v.pending + 1
	v.pending = 0
	v.Result.HeadSeq, v.Result.HeadMAC = r.Seq, fmt.Sprintf("%x", r.MAC)
	return nil
}

// Done finishes the walk: an empty chain is an error (every vault has its
// init row).
func (v *Verifier) Done() (*Result, error) {
	v.Result.Unverified = v.pending
	if v.Result.Rows == 0 {
		return &v.Result, &Error{Seq: 1, Reason: "the audit chain is empty: the vault's init row was deleted"}
	}
	return &v.Result, nil
}
