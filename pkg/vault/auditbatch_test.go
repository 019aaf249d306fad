package vault

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// waitQueued waits until n callers are queued behind the audit batch
// being committed.
func waitQueued(t *testing.T, v *Vault, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		v.batch.mu.Lock()
		got := len(v.batch.queue)
		v.batch.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d callers never queued for the audit batch", n)
}

// auditObjects counts the rows of action by object.
func auditObjects(t *testing.T, v *Vault, action string) map[string]int {
	t.Helper()
	rs, err := v.Audit(ctx, AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, r := range rs {
		m[r.Object]++
	}
	return m
}

// TestAuditBatchLeader: the group commit's leader (auditbatch.go). The
// caller that finds no batch being committed commits its own rows; the
// callers that queue meanwhile are committed by the first of them still
// waiting once the leader's batch is done: a caller that gave up (its
// context ended) is passed over, its rows still appended, and nobody
// waits for it. On SQLite and PostgreSQL; the chain verifies.
func TestAuditBatchLeader(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			_, st := newTestStore(t, kind)
			v, err := Create(ctx, st, "dev", testKey(t, 1), testOpts())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { v.Close() })

			// The leader: its bookkeeping write holds its transaction open
			// until release is closed.
			entered, release := make(chan struct{}), make(chan struct{})
			hold := func(context.Context, store.Tx) error {
				close(entered)
				<-release
				return nil
			}
			leader := make(chan error, 1)
			go func() {
				keys, level := v.state()
				o := v.newOp(ctx, nil, keys, level)
				o.audit(auditRow{Action: "batch-test", Object: "leader", Success: true})
				leader <- v.appendBatched(ctx, o.rows, []laterWrite{hold})
			}()
			<-entered

			// Two callers queue behind it; the first gives up.
			goneCtx, cancel := context.WithCancel(ctx)
			gone := make(chan error, 1)
			go func() {
				gone <- v.auditAppend(goneCtx, auditRow{Action: "batch-test", Object: "gone", Success: true})
			}()
			waitQueued(t, v, 1)
			waiter := make(chan error, 1)
			go func() {
				waiter <- v.auditAppend(ctx, auditRow{Action: "batch-test", Object: "waiter", Success: true})
			}()
			waitQueued(t, v, 2)
			cancel()
			if err := <-gone; !errors.Is(err, context.Canceled) {
				t.Fatalf("the caller that gave up: %v, want context.Canceled", err)
			}
			close(release)
			for name, ch := range map[string]chan error{"leader": leader, "waiter": waiter} {
				select {
				case err := <-ch:
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
				case <-time.After(20 * time.Second):
					t.Fatalf("%s never returned: the queue was handed to a caller that gave up", name)
				}
			}
			if got, want := fmt.Sprint(auditObjects(t, v, "batch-test")), "map[gone:1 leader:1 waiter:1]"; got != want {
				t.Errorf("batch-test rows by object: %s, want %s", got, want)
			}
			v.batch.mu.Lock()
			if v.batch.leading || len(v.batch.queue) != 0 {
				t.Errorf("after the last batch: leading %v, %d queued", v.batch.leading, len(v.batch.queue))
			}
			v.batch.mu.Unlock()
			if _, err := v.VerifyAudit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAuditBatchConcurrentGiveUp: 32 callers append 20 rows each, every
// third with a context that ends at a random moment (possibly just as the
// queue is handed to it). Every caller that did not give up gets nil, and
// its rows are in the chain exactly once; nothing is left queued. Run it
// with -race (.ci/run).
func TestAuditBatchConcurrentGiveUp(t *testing.T) {
	v, _, _ := newVault(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]int{}
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				c := ctx
				if g%3 == 0 {
					var cancel context.CancelFunc
					c, cancel = context.WithTimeout(ctx, time.Duration(i*50)*time.Microsecond)
					defer cancel()
				}
				obj := fmt.Sprintf("g%02d-%02d", g, i)
				err := v.auditAppend(c, auditRow{Action: "batch-test", Object: obj, Success: true})
				switch {
				case err == nil:
					mu.Lock()
					ok[obj]++
					mu.Unlock()
				case g%3 == 0 && errors.Is(err, context.DeadlineExceeded):
				default:
					t.Errorf("%s: %v", obj, err)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("callers still waiting after 60 s: the queue stalled")
	}
	// A caller that gave up may still have its row appended, by a leader
	// that may still be committing: wait for the queue to drain.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		v.batch.mu.Lock()
		idle := !v.batch.leading && len(v.batch.queue) == 0
		v.batch.mu.Unlock()
		if idle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the audit batcher never went idle")
		}
	}
	rows := auditObjects(t, v, "batch-test")
	for obj := range ok {
		if rows[obj] != 1 {
			t.Errorf("%s: %d rows, want 1", obj, rows[obj])
		}
	}
	for obj, n := range rows {
		if n != 1 {
			t.Errorf("%s: %d rows", obj, n)
		}
	}
	if _, err := v.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}
