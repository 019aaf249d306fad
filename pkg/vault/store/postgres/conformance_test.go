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
