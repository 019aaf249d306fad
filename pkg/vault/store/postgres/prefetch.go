package postgres

// Reading ahead (store.Prefetcher). A service read on PostgreSQL was eight
// round trips: begin, the token, its state check, the tenant, the grant,
// the secret, the names' state checks, commit. Its reads depend on each
// other only through the token's service and the tenant's ID, which a
// statement can look up itself, so they go out as one batch, the begin in
// front: two round trips with the commit. Every answer comes from the
// same snapshot as it would have (the transaction's, taken at the batch's
// first read), and a later call with other arguments reads as before.

import (
	"context"
	"errors"
	"reflect"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// prefetched is what Prefetch read, for the calls that follow.
type prefetched struct {
	tokenID  string
	token    store.Token
	tokenErr error // store.ErrNoRow: no such token

	tenantName string
	tenant     store.Tenant
	tenantErr  error

	// names' grants of the token's service (svc) in the tenant (tid) and
	// their newest rows, when both the token and the tenant were found.
	rows    bool
	tid     int64
	svc     string
	names   []string
	grants  []store.Grant  // in GrantsOf's order
	secrets []store.Secret // in LatestOf's order

	scans []prefetchedScan
}

// prefetchedScan is the first page of AuditScan(f), not yet used.
type prefetchedScan struct {
	f    store.AuditFilter
	n    int // the page size asked for
	page []store.AuditRow
}

func (t *tx) Prefetch(ctx context.Context, p store.Prefetch) error {
	if !t.ro || t.pf != nil || t.began {
		// Only ahead of a read-only snapshot's reads: a write could make
		// an answer stale.
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pf := &prefetched{tokenID: p.TokenID, tenantName: p.Tenant, names: slices.Clone(p.Names)}
	b := &pgx.Batch{}
	var reads []func(pgx.BatchResults) error
	begins := t.pending != ""
	if begins {
		b.Queue(t.pending)
		reads = append(reads, func(br pgx.BatchResults) error { _, err := br.Exec(); return err })
	}
	if p.TokenID != "" {
		b.Queue(tokenQuery, p.TokenID)
		reads = append(reads, func(br pgx.BatchResults) error {
			var err error
			pf.token, err = scanToken(br.QueryRow())
			pf.tokenErr = dbErr(err)
			if errors.Is(pf.tokenErr, store.ErrNoRow) {
				return nil
			}
			return pf.tokenErr
		})
	}
	if p.Tenant != "" {
		b.Queue(tenantQuery, p.Tenant)
		reads = append(reads, func(br pgx.BatchResults) error {
			var err error
			pf.tenant, err = scanTenant(br.QueryRow())
			pf.tenantErr = dbErr(err)
			if errors.Is(pf.tenantErr, store.ErrNoRow) {
				return nil
			}
			return pf.tenantErr
		})
	}
	if p.TokenID != "" && p.Tenant != "" && len(p.Names) > 0 {
		b.Queue("SELECT "+grantCols+" FROM grants WHERE tenant_id = (SELECT id FROM tenants WHERE name = $1)"+
			" AND service = (SELECT service FROM service_tokens WHERE id = $2) AND name = ANY($3) ORDER BY name"+byteOrder,
			p.Tenant, p.TokenID, p.Names)
		reads = append(reads, func(br pgx.BatchResults) error {
			var err error
			pf.grants, err = collect(br, func(r pgx.Rows) (store.Grant, error) { return scanGrant(r) })
			return err
		})
		if len(p.Names) == 1 {
			// Secret(…, 0)'s statement: the lateral join of many names is
			// planned for each call (its generic plan looks dearer).
			b.Queue("SELECT "+secretCols+", sealed FROM secrets WHERE tenant_id = (SELECT id FROM tenants WHERE name = $1) AND name = $2 ORDER BY version DESC LIMIT 1",
				p.Tenant, p.Names[0])
		} else {
			b.Queue(latestQuery("(SELECT id FROM tenants WHERE name = $1)"), p.Tenant, p.Names)
		}
		reads = append(reads, func(br pgx.BatchResults) error {
			var err error
			pf.secrets, err = collect(br, func(r pgx.Rows) (store.Secret, error) { return scanSecret(r, true) })
			return err
		})
	}
	for _, f := range p.Audits {
		s := buildAuditScan(f)
		if len(s.mode) > 0 {
			continue // planned per call: not one of the batch's statements
		}
		n := s.size
		if f.Limit > 0 && f.Limit < n {
			n = f.Limit
		}
		s.args[0], s.args[1] = s.cursor, n
		b.Queue(s.q, s.args...)
		i := len(pf.scans)
		pf.scans = append(pf.scans, prefetchedScan{f: f, n: n})
		reads = append(reads, func(br pgx.BatchResults) error {
			var err error
			pf.scans[i].page, err = collect(br, func(r pgx.Rows) (store.AuditRow, error) { return scanAudit(r) })
			return err
		})
	}
	// Whatever happens now, the begin went out: a failed batch leaves the
	// transaction for View to roll back.
	t.pending, t.began = "", true
	br := t.q.SendBatch(t.qctx, b)
	for i, read := range reads {
		if err := read(br); err != nil {
			br.Close()
			err = dbErr(err)
			if i == 0 && begins {
				// Nothing was read: View may try another connection.
				err = beginError{err}
			}
			return err
		}
	}
	if err := br.Close(); err != nil {
		return dbErr(err)
	}
	pf.rows = len(p.Names) > 0 && pf.tokenErr == nil && pf.tenantErr == nil && p.TokenID != "" && p.Tenant != ""
	if pf.rows {
		pf.tid, pf.svc = pf.tenant.ID, pf.token.Service
	}
	t.pf = pf
	return nil
}

// collect reads the rows of the batch's next query.
func collect[T any](br pgx.BatchResults, scan func(pgx.Rows) (T, error)) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}

// The answers, each for exactly the call Prefetch read it for.

func (pf *prefetched) tokenOf(id string) (store.Token, error, bool) {
	if pf == nil || pf.tokenID == "" || id != pf.tokenID {
		return store.Token{}, nil, false
	}
	return pf.token, pf.tokenErr, true
}

func (pf *prefetched) tenantOf(name string) (store.Tenant, error, bool) {
	if pf == nil || pf.tenantName == "" || name != pf.tenantName {
		return store.Tenant{}, nil, false
	}
	return pf.tenant, pf.tenantErr, true
}

// covers: the grants and newest rows of names in tenant tid for service
// svc (svc "": any) were read.
func (pf *prefetched) covers(tid int64, svc string, names []string) bool {
	if pf == nil || !pf.rows || tid != pf.tid || (svc != "" && svc != pf.svc) {
		return false
	}
	for _, n := range names {
		if !slices.Contains(pf.names, n) {
			return false
		}
	}
	return true
}

func (pf *prefetched) grantsOf(tid int64, svc string, names []string) ([]store.Grant, bool) {
	if svc == "" || !pf.covers(tid, svc, names) {
		return nil, false
	}
	out := []store.Grant{}
	for _, g := range pf.grants {
		if slices.Contains(names, g.Name) {
			out = append(out, g)
		}
	}
	return out, true
}

func (pf *prefetched) latestOf(tid int64, names []string) ([]store.Secret, bool) {
	if !pf.covers(tid, "", names) {
		return nil, false
	}
	out := []store.Secret{}
	for _, s := range pf.secrets {
		if slices.Contains(names, s.Name) {
			out = append(out, s)
		}
	}
	return out, true
}

// scan takes the first page read for AuditScan(f) of page size n.
func (pf *prefetched) scan(f store.AuditFilter, n int) ([]store.AuditRow, bool) {
	if pf == nil {
		return nil, false
	}
	for i, s := range pf.scans {
		if s.n == n && reflect.DeepEqual(s.f, f) {
			pf.scans = slices.Delete(pf.scans, i, i+1)
			return s.page, true
		}
	}
	return nil, false
}
