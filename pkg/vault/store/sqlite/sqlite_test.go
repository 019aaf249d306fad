package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
	"github.com/keysmith/keysmith/pkg/vault/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Create(context.Background(), filepath.Join(t.TempDir(), "vault.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
