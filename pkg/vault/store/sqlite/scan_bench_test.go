package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// BenchmarkAuditScanObjects: the state checks' scan of a service read of
// 20 names (each name's newest put/rm/purge and its grant's last
// decision, and the newest restore), on a chain where each name has one
// put, one grant and 500 get rows.
func BenchmarkAuditScanObjects(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Create(ctx, filepath.Join(b.TempDir(), "vault.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var names []string
	var rows []store.AuditRow
	seq := int64(0)
	add := func(action, object string) {
		seq++
		rows = append(rows, store.AuditRow{Seq: seq, TS: "2026-01-02T03:04:05.000000000Z", Actor: "a", Action: action, Tenant: "default", Object: object,
			Success: true, Detail: "service bench: version 1", MAC: []byte{1}})
	}
	for i := range 20 {
		names = append(names, fmt.Sprintf("S%d", i+1))
		add("put", names[i])
		add("access-grant", names[i])
	}
	for range 500 {
		for _, n := range names {
			add("get", n)
		}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, rows) }); err != nil {
		b.Fatal(err)
	}
	f := store.AuditFilter{Tenant: "default", Objects: names, Actions: []string{"put", "rm", "purge", "access-grant", "access-approve", "access-deny", "access-revoke"},
		OrActions: []string{"restore"}, Desc: true}
	stop := errors.New("stop")
	b.ResetTimer()
	for range b.N {
		n := 0
		err := s.View(ctx, func(tx store.Tx) error {
			return tx.AuditScan(ctx, f, func(store.AuditRow) error {
				if n++; n == 40 {
					return stop
				}
				return nil
			})
		})
		if !errors.Is(err, stop) {
			b.Fatal(err, n)
		}
	}
}

// BenchmarkAuditScanOneObject: the same scan for one name (the floor of a
// snapshot and one query).
func BenchmarkAuditScanOneObject(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Create(ctx, filepath.Join(b.TempDir(), "vault.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var rows []store.AuditRow
	for i := int64(1); i <= 100; i++ {
		rows = append(rows, store.AuditRow{Seq: i, TS: "x", Action: "put", Tenant: "default", Object: "S1", Success: true, MAC: []byte{1}})
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, rows) }); err != nil {
		b.Fatal(err)
	}
	f := store.AuditFilter{Tenant: "default", Object: "S1", Actions: []string{"put"}, Desc: true}
	stop := errors.New("stop")
	b.ResetTimer()
	for range b.N {
		err := s.View(ctx, func(tx store.Tx) error {
			return tx.AuditScan(ctx, f, func(store.AuditRow) error { return stop })
		})
		if !errors.Is(err, stop) {
			b.Fatal(err)
		}
	}
}
