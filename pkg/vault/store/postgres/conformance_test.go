package postgres

import (
	"context"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
	"github.com/keysmith/keysmith/pkg/vault/store/storetest"
)

// newStore is an empty vault in a schema of its own.
func newStore(t *testing.T) store.Store {
	s, err := Create(context.Background(), pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The same suite as SQLite's, against a real PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Run(t, newStore)
}

// An append of more rows than one statement's 65,535 parameters allow
// (import-env of 10,000 secrets appends 10,000 rows at once).
func TestAppendManyAuditRows(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	rows := make([]store.AuditRow, 12000)
	for i := range rows {
		rows[i] = store.AuditRow{Seq: int64(i + 1), TS: "2026-01-02T03:04:05.000000000Z", Actor: "a", Action: "put", Object: "X", Success: true, MAC: []byte{1}}
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AppendAudit(ctx, rows) }); err != nil {
		t.Fatal(err)
	}
	err := s.View(ctx, func(tx store.Tx) error {
		c, err := tx.Counts(ctx)
		if err == nil && c.Audit != len(rows) {
			t.Errorf("%d audit rows, want %d", c.Audit, len(rows))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
