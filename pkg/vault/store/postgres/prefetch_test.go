package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// TestPrefetchAnswersAsReads: after Prefetch, every read a transaction
// makes returns exactly what it returns without one, for the arguments
// Prefetch was told of and for any others (a missing token, tenant or
// name, another service, an older version, another page size).
func TestPrefetchAnswersAsReads(t *testing.T) {
	ctx := context.Background()
	s := mustCreate(t, pgtest.NewSchema(t))
	const tok, other = "0123456789abcdef", "fedcba9876543210"
	var tid int64
	err := s.Update(ctx, func(tx store.Tx) error {
		var err error
		if tid, err = tx.InsertTenant(ctx, store.Tenant{Name: "t1", DEKVersion: 1, CreatedAt: "2026-01-01T00:00:00Z"}); err != nil {
			return err
		}
		if err := tx.InsertDEK(ctx, store.DEK{TenantID: tid, Version: 1, Wrapped: []byte("wrapped"), CreatedAt: "2026-01-01T00:00:00Z"}); err != nil {
			return err
		}
		for _, tk := range []store.Token{
			{ID: tok, Service: "svc", Hash: []byte("h1"), Status: "approved", CreatedAt: "2026-01-01T00:00:00Z", MAC: []byte("m")},
			{ID: other, Service: "other", Hash: []byte("h2"), Status: "pending", CreatedAt: "2026-01-01T00:00:00Z"},
		} {
			if err := tx.InsertToken(ctx, tk); err != nil {
				return err
			}
		}
		for _, g := range []store.Grant{
			{TenantID: tid, Service: "svc", Name: "A", Status: "active", MAC: []byte("g")},
			{TenantID: tid, Service: "svc", Name: "B", Status: "revoked"},
			{TenantID: tid, Service: "other", Name: "A", Status: "active"},
		} {
			if err := tx.PutGrant(ctx, g); err != nil {
				return err
			}
		}
		for _, sc := range []store.Secret{
			{TenantID: tid, Name: "A", Version: 1, DEKVersion: 1, Sealed: []byte("a1"), CreatedAt: "2026-01-01T00:00:00Z"},
			{TenantID: tid, Name: "A", Version: 2, DEKVersion: 1, Sealed: []byte("a2"), CreatedAt: "2026-01-02T00:00:00Z"},
			{TenantID: tid, Name: "B", Version: 1, DEKVersion: 1, Sealed: []byte("b1"), CreatedAt: "2026-01-01T00:00:00Z"},
			{TenantID: tid, Name: "C", Version: 1, DEKVersion: 1, Sealed: []byte("c1"), CreatedAt: "2026-01-01T00:00:00Z"},
		} {
			if err := tx.InsertSecret(ctx, sc); err != nil {
				return err
			}
		}
		var rows []store.AuditRow
		for i, a := range []struct{ action, tenant, object string }{
			{"put", "t1", "A"}, {"put", "t1", "A"}, {"put", "t1", "B"}, {"access-grant", "t1", "A"},
			{"token-approve", "", tok}, {"get", "t1", "A"}, {"restore", "", ""}, {"get", "t1", "B"},
		} {
			rows = append(rows, store.AuditRow{Seq: int64(i + 1), TS: "2026-01-03T00:00:00Z", Actor: "op",
				Action: a.action, Tenant: a.tenant, Object: a.object, Success: true, MAC: []byte("x")})
		}
		return tx.AppendAudit(ctx, rows)
	})
	if err != nil {
		t.Fatal(err)
	}

	states := store.AuditFilter{Tenant: "t1", Objects: []string{"A", "B"}, Actions: []string{"put", "rm", "purge", "access-grant"}, OrActions: []string{"restore"}, Desc: true}
	tokenState := store.AuditFilter{Object: tok, Actions: []string{"token-approve", "token-deny", "token-revoke"}, Desc: true}
	// reads makes every read the test compares, in one transaction.
	reads := func(tx store.Tx) []string {
		var out []string
		say := func(what string, v any, err error) {
			if errors.Is(err, store.ErrNoRow) {
				v, err = nil, store.ErrNoRow
			}
			out = append(out, fmt.Sprintf("%s: %#v %v", what, v, err))
		}
		for _, id := range []string{tok, other, "0000000000000000"} {
			v, err := tx.Token(ctx, id)
			say("Token "+id, v, err)
		}
		for _, n := range []string{"t1", "t2"} {
			v, err := tx.Tenant(ctx, n)
			say("Tenant "+n, v, err)
		}
		for _, svc := range []string{"svc", "other", "none"} {
			for _, n := range []string{"A", "B", "C", "Z"} {
				v, err := tx.Grant(ctx, tid, svc, n)
				say("Grant "+svc+" "+n, v, err)
			}
			for _, ns := range [][]string{{"A", "B"}, {"A"}, {"B", "C"}, {"Z"}} {
				v, err := tx.GrantsOf(ctx, tid, svc, ns)
				say(fmt.Sprint("GrantsOf ", svc, ns), v, err)
			}
		}
		for _, n := range []string{"A", "B", "C", "Z"} {
			for _, ver := range []int{0, 1} {
				v, err := tx.Secret(ctx, tid, n, ver)
				say(fmt.Sprint("Secret ", n, ver), v, err)
			}
		}
		for _, ns := range [][]string{{"A", "B"}, {"B"}, {"A", "C"}, {"Z"}} {
			v, err := tx.LatestOf(ctx, tid, ns)
			say(fmt.Sprint("LatestOf ", ns), v, err)
		}
		for _, f := range []store.AuditFilter{tokenState, states, {Tenant: "t1", Object: "A", Desc: true, Limit: 1}} {
			for range 2 { // the second scan of a prefetched filter reads again
				var rows []store.AuditRow
				err := tx.AuditScan(ctx, f, func(r store.AuditRow) error { rows = append(rows, r); return nil })
				say(fmt.Sprintf("AuditScan %+v", f), rows, err)
			}
		}
		return out
	}
	var want []string
	if err := s.View(ctx, func(tx store.Tx) error { want = reads(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []store.Prefetch{
		{TokenID: tok, Tenant: "t1", Names: []string{"A", "B"}, Audits: []store.AuditFilter{tokenState, states}},
		{TokenID: tok, Tenant: "t1", Names: []string{"A"}, Audits: []store.AuditFilter{tokenState}},
		{TokenID: other, Tenant: "t1", Names: []string{"A", "C", "Z"}},
		{TokenID: "0000000000000000", Tenant: "t1", Names: []string{"A"}},
		{TokenID: tok, Tenant: "t2", Names: []string{"A"}},
		{TokenID: tok},
		{Audits: []store.AuditFilter{{Tenant: "t1", Object: "A", Desc: true, Limit: 1}}},
	} {
		t.Run(fmt.Sprintf("%s/%s/%v/%d", p.TokenID, p.Tenant, p.Names, len(p.Audits)), func(t *testing.T) {
			var got []string
			err := s.View(ctx, func(stx store.Tx) error {
				if err := stx.(store.Prefetcher).Prefetch(ctx, p); err != nil {
					return err
				}
				if stx.(*tx).pf == nil {
					t.Fatal("Prefetch read nothing ahead")
				}
				got = reads(stx)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d reads, want %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("after Prefetch:\n got %s\nwant %s", got[i], want[i])
				}
			}
		})
	}
}
