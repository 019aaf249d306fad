// Package storecopy moves a whole vault between stores, row for row: the
// tenants, data keys, every version of every secret, devices, device keys,
// device secrets, provisioning reports, service tokens, grants, access
// requests, stubs, AMT provisioning certificates, the vault's settings and the audit chain, as the source
// store holds them (sealed, MACed, chained). It implements "vault copy"
// and the complete backup (format keysmith-vault-backup/v2) of
// docs/vault.md, "Moving and backing up a vault".
//
// Nothing is opened or re-sealed here: the rows keep their bytes and their
// IDs (tenant IDs and device row IDs are bound into associated data and
// MACs), so the destination is the same vault, opened by the same master
// key, and the caller proves it by verifying the destination with the
// core (every row opens, the chain verifies). Device challenges are not
// copied: they expire within minutes.
package storecopy

import (
	"context"
	"errors"
	"fmt"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// ErrNotEmpty: the destination already holds rows.
var ErrNotEmpty = vaulterr.Case(vaulterr.ErrNotEmpty, "destination vault is not empty")

// Snapshot is every row of a vault but its device challenges. Its JSON
// form (field names as in pkg/vault/store) is the content of a v2 backup.
type Snapshot struct {
	Meta          map[string][]byte    `json:"meta"`
	Tenants       []store.Tenant       `json:"tenants"`
	DEKs          []store.DEK          `json:"deks"`
	Secrets       []store.Secret       `json:"secrets"`
	Devices       []store.Device       `json:"devices"`
	DeviceKeys    []store.DeviceKey    `json:"device_keys"`
	DeviceSecrets []store.DeviceSecret `json:"device_secrets"`
	Reports       []store.Report       `json:"reports"`
	Tokens        []store.Token        `json:"tokens"`
	Grants        []store.Grant        `json:"grants"`
	Requests      []store.Request      `json:"requests"`
	Stubs         []store.Stub         `json:"stubs"`
	Audit         []store.AuditRow     `json:"audit"`
	AMTCerts      []store.AMTCert      `json:"amt_certs,omitempty"` // schema 7
}

// Rows is the number of rows in the snapshot (what progress counts).
func (s *Snapshot) Rows() int {
	return len(s.Meta) + len(s.Tenants) + len(s.DEKs) + len(s.Secrets) + len(s.Devices) + len(s.DeviceKeys) + len(s.DeviceSecrets) +
		len(s.Reports) + len(s.Tokens) + len(s.Grants) + len(s.Requests) + len(s.Stubs) + len(s.Audit) + len(s.AMTCerts)
}

// Progress is told how many rows of how many are done; phase is "read"
// or "write". It may be nil.
type Progress func(phase string, done, total int)

func (p Progress) report(phase string, done, total int) {
	if p != nil {
		p(phase, done, total)
	}
}

// pageSize is the number of secret versions read or written at a time.
const pageSize = 2000

// Read takes every row of src in one read-only snapshot.
func Read(ctx context.Context, src store.Store, progress Progress) (*Snapshot, error) {
	var snap *Snapshot
	err := src.View(ctx, func(tx store.Tx) error {
		c, err := tx.Counts(ctx)
		if err != nil {
			return err
		}
		total := c.Tenants + c.DEKs + c.SecretVersions + c.Devices + c.DeviceKeys + c.DeviceSecrets + c.DeviceReports + c.Tokens + c.Grants + c.Requests + c.OpenStubs + c.Audit + c.AMTCerts
		s := &Snapshot{}
		if s.Meta, err = tx.Meta(ctx); err != nil {
			return err
		}
		if s.Tenants, err = tx.Tenants(ctx); err != nil {
			return err
		}
		if s.DEKs, err = tx.DEKs(ctx); err != nil {
			return err
		}
		done := len(s.Tenants) + len(s.DEKs)
		progress.report("read", done, total)
		var after int64
		for {
			page, err := tx.SecretsPage(ctx, 0, after, pageSize)
			if err != nil {
				return err
			}
			if len(page) == 0 {
				break
			}
			s.Secrets = append(s.Secrets, page...)
			after = page[len(page)-1].ID
			done += len(page)
			progress.report("read", done, total)
		}
		if s.Devices, err = tx.Devices(ctx, 0, ""); err != nil {
			return err
		}
		if s.DeviceKeys, err = tx.DeviceKeys(ctx, 0); err != nil {
			return err
		}
		if s.DeviceSecrets, err = tx.DeviceSecretsOf(ctx, 0); err != nil {
			return err
		}
		if s.Reports, err = tx.Reports(ctx); err != nil {
			return err
		}
		if s.Tokens, err = tx.Tokens(ctx); err != nil {
			return err
		}
		if s.Grants, err = tx.Grants(ctx, 0); err != nil {
			return err
		}
		if s.Requests, err = tx.Requests(ctx, 0, false); err != nil {
			return err
		}
		if s.Stubs, err = tx.Stubs(ctx, 0); err != nil {
			return err
		}
		if s.AMTCerts, err = tx.AMTCerts(ctx, 0); err != nil {
			return err
		}
		err = tx.AuditScan(ctx, store.AuditFilter{}, func(a store.AuditRow) error {
			s.Audit = append(s.Audit, a)
			return nil
		})
		if err != nil {
			return err
		}
		progress.report("read", s.Rows()-len(s.Meta), total)
		snap = s
		return nil
	})
	return snap, err
}

// CheckEmpty fails with ErrNotEmpty unless the store holds no row at all.
func CheckEmpty(ctx context.Context, dst store.Store) error {
	return dst.View(ctx, func(tx store.Tx) error { return checkEmpty(ctx, tx) })
}

func checkEmpty(ctx context.Context, tx store.Tx) error {
	c, err := tx.Counts(ctx)
	if err != nil {
		return err
	}
	if c != (store.Counts{}) {
		return fmt.Errorf("%w: %d tenants, %d secret versions, %d audit rows", ErrNotEmpty, c.Tenants, c.SecretVersions, c.Audit)
	}
	m, err := tx.Meta(ctx)
	if err != nil {
		return err
	}
	if len(m) > 0 {
		return fmt.Errorf("%w: it holds vault settings", ErrNotEmpty)
	}
	return nil
}

// bulkSecrets and bulkAudit are the fast paths a store may offer (COPY on
// PostgreSQL); without them rows are inserted one by one.
type bulkSecrets interface {
	InsertSecrets(ctx context.Context, ss []store.Secret) error
}

type bulkAudit interface {
	AppendAuditRows(ctx context.Context, rows []store.AuditRow) error
}

// Write loads the snapshot into dst, which must be empty, in one
// transaction: a failure leaves it empty.
func Write(ctx context.Context, dst store.Store, s *Snapshot, progress Progress) error {
	return WriteChecked(ctx, dst, s, progress, nil)
}

// Check looks at a destination written by WriteChecked before its
// transaction commits: st runs every View and Update in that transaction
// (it is one goroutine's, and Close does nothing). An error rolls the
// whole write back.
type Check func(ctx context.Context, st store.Store) error

// WriteChecked is Write with check run on the written rows inside the same
// transaction: the caller opens, unlocks and verifies the vault there, and
// may append to its audit chain, and nothing is kept unless all of it
// succeeds. A killed process leaves the destination as it was.
func WriteChecked(ctx context.Context, dst store.Store, s *Snapshot, progress Progress, check Check) error {
	return dst.Update(ctx, func(tx store.Tx) error {
		if err := write(ctx, tx, s, progress); err != nil {
			return err
		}
		if check == nil {
			return nil
		}
		return check(ctx, txStore{tx: tx, desc: dst.Describe(), schema: dst.SchemaVersion()})
	})
}

// txStore is a store.Store whose transactions are all one transaction
// already open (see Check).
type txStore struct {
	tx     store.Tx
	desc   string
	schema int
}

func (s txStore) View(ctx context.Context, fn func(store.Tx) error) error   { return fn(s.tx) }
func (s txStore) Update(ctx context.Context, fn func(store.Tx) error) error { return fn(s.tx) }
func (s txStore) Describe() string                                          { return s.desc }
func (s txStore) SchemaVersion() int                                        { return s.schema }
func (s txStore) Close() error                                              { return nil }

func write(ctx context.Context, tx store.Tx, s *Snapshot, progress Progress) error {
	total := s.Rows()
	if err := checkEmpty(ctx, tx); err != nil {
		return err
	}
	done := 0
	step := func(n int) {
		done += n
		progress.report("write", done, total)
	}
	for _, t := range s.Tenants {
		id, err := tx.InsertTenant(ctx, t)
		if err != nil {
			return fmt.Errorf("tenant %q: %w", t.Name, err)
		}
		if id != t.ID {
			return fmt.Errorf("tenant %q: the destination gave ID %d for %d", t.Name, id, t.ID)
		}
	}
	step(len(s.Tenants))
	for _, d := range s.DEKs {
		if err := tx.InsertDEK(ctx, d); err != nil {
			return fmt.Errorf("data key %d of tenant %d: %w", d.Version, d.TenantID, err)
		}
	}
	step(len(s.DEKs))
	for i := 0; i < len(s.Secrets); i += pageSize {
		page := s.Secrets[i:min(i+pageSize, len(s.Secrets))]
		if b, ok := tx.(bulkSecrets); ok {
			if err := b.InsertSecrets(ctx, page); err != nil {
				return fmt.Errorf("secrets: %w", err)
			}
		} else {
			for _, x := range page {
				if err := tx.InsertSecret(ctx, x); err != nil {
					return fmt.Errorf("secret %q version %d: %w", x.Name, x.Version, err)
				}
			}
		}
		step(len(page))
	}
	for _, d := range s.Devices {
		ref, err := tx.InsertDevice(ctx, d)
		if err == nil && ref != d.Ref {
			err = fmt.Errorf("the destination gave row ID %d for %d", ref, d.Ref)
		}
		if err != nil {
			return fmt.Errorf("device %s: %w", d.ID, err)
		}
	}
	step(len(s.Devices))
	for _, k := range s.DeviceKeys {
		id, err := tx.InsertDeviceKey(ctx, k)
		if err == nil && id != k.ID {
			err = fmt.Errorf("the destination gave row ID %d for %d", id, k.ID)
		}
		if err != nil {
			return fmt.Errorf("device key %s: %w", k.KeyID, err)
		}
	}
	step(len(s.DeviceKeys))
	for _, x := range s.DeviceSecrets {
		if err := tx.InsertDeviceSecret(ctx, x); err != nil {
			return fmt.Errorf("device secret %q version %d: %w", x.Name, x.Version, err)
		}
	}
	step(len(s.DeviceSecrets))
	for _, r := range s.Reports {
		if err := tx.InsertReport(ctx, r); err != nil {
			return fmt.Errorf("report %q: %w", r.RequestID, err)
		}
	}
	step(len(s.Reports))
	for _, t := range s.Tokens {
		if err := tx.InsertToken(ctx, t); err != nil {
			return fmt.Errorf("token %s: %w", t.ID, err)
		}
	}
	step(len(s.Tokens))
	for _, g := range s.Grants {
		if err := tx.PutGrant(ctx, g); err != nil {
			return fmt.Errorf("grant %s/%s: %w", g.Service, g.Name, err)
		}
	}
	step(len(s.Grants))
	for _, r := range s.Requests {
		id, created, err := tx.InsertRequest(ctx, r)
		if err == nil && (!created || id != r.ID) {
			err = errors.New("not kept as it was")
		}
		if err != nil {
			return fmt.Errorf("access request %d: %w", r.ID, err)
		}
	}
	step(len(s.Requests))
	for _, x := range s.Stubs {
		if _, err := tx.OpenStub(ctx, x); err != nil {
			return fmt.Errorf("stub %q: %w", x.Name, err)
		}
	}
	step(len(s.Stubs))
	for _, c := range s.AMTCerts {
		if err := tx.InsertAMTCert(ctx, c); err != nil {
			return fmt.Errorf("AMT certificate %q: %w", c.Name, err)
		}
	}
	step(len(s.AMTCerts))
	for i := 0; i < len(s.Audit); i += pageSize {
		page := s.Audit[i:min(i+pageSize, len(s.Audit))]
		var err error
		if b, ok := tx.(bulkAudit); ok {
			err = b.AppendAuditRows(ctx, page)
		} else {
			err = tx.AppendAudit(ctx, page)
		}
		if err != nil {
			return fmt.Errorf("audit rows from %d: %w", page[0].Seq, err)
		}
		step(len(page))
	}
	for k, v := range s.Meta {
		if err := tx.SetMeta(ctx, k, v); err != nil {
			return err
		}
	}
	step(len(s.Meta))
	return nil
}

// Copy reads every row of src and writes it into dst, which must be empty;
// check, when not nil, runs as in WriteChecked.
func Copy(ctx context.Context, src, dst store.Store, progress Progress, check Check) (*Snapshot, error) {
	if err := CheckEmpty(ctx, dst); err != nil {
		return nil, err
	}
	s, err := Read(ctx, src, progress)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", src.Describe(), err)
	}
	if err := WriteChecked(ctx, dst, s, progress, check); err != nil {
		return nil, fmt.Errorf("writing %s: %w", dst.Describe(), err)
	}
	return s, nil
}
