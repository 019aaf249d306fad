package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// TestStatementCache: a query run once is prepared before the next
// transaction and then runs prepared; many goroutines reading and writing
// at once (the writer pool has one connection, which a prepare inside a
// transaction would wait for) neither deadlock nor see wrong rows.
func TestStatementCache(t *testing.T) {
	ctx := context.Background()
	s, err := Create(ctx, filepath.Join(t.TempDir(), "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tenants := func(tx store.Tx) error { _, err := tx.Tenants(ctx); return err }
	for range 2 {
		if err := s.View(ctx, tenants); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, tenants); err != nil {
			t.Fatal(err)
		}
	}
	for name, c := range map[string]*stmtCache{"readers": s.rc, "writer": s.wc} {
		c.mu.Lock()
		n := len(c.stmts)
		c.mu.Unlock()
		if n == 0 {
			t.Errorf("%s: no statement was cached after the same query ran twice", name)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				run := s.View
				if i%2 == 0 {
					run = s.Update
				}
				if err := run(ctx, func(tx store.Tx) error {
					if err := tenants(tx); err != nil {
						return err
					}
					_, err := tx.Meta(ctx)
					return err
				}); err != nil && !errors.Is(err, store.ErrNoRow) {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
