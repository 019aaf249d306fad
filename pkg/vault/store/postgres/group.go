package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// Group commit.
//
// Every audited operation appends to the one audit chain, and the chain
// head is locked from AuditTail to commit, so transactions that append are
// serialised, each waiting for the previous one's WAL flush (about 4 ms on
// the test machine: about 270 commits a second however many clients). A
// server (one process, many goroutines) gets past that by putting the
// closures of concurrent Update calls into one transaction: the committer
// goroutine takes the closures waiting when it becomes free, runs them one
// after another, each inside its own SAVEPOINT (a closure that fails rolls
// back to it and reports its error alone), and commits them all with one
// flush. Each caller's Update returns when the transaction holding its
// closure committed. (The first attempt of a batch runs without
// savepoints; only when a closure fails on its own is the batch run again
// without it, each closure then in its savepoint.) Semantics are those of store.Update: every closure is
// atomic and sees the writes of those before it (they run serially); a
// transient failure (40001, 40P01, the server restarting before commit)
// runs the whole batch again. A lone closure runs without a savepoint, so
// one client pays nothing.

type request struct {
	ctx  context.Context
	fn   func(store.Tx) error
	done chan error
}

// maxBatch bounds the closures of one transaction.
const maxBatch = 64

// unavailableBudget is how long Update and View keep retrying when the
// server cannot be reached before anything was committed (a restart).
const unavailableBudget = 20 * time.Second

var errClosed = fmt.Errorf("%w: store is closed", vaulterr.ErrUnavailable)

// Update runs fn in a read-write transaction (READ COMMITTED with the row
// locks the store.Tx methods take: LockTenant, AuditTail), committed
// together with the other closures waiting at that moment (group commit,
// above), re-run as a unit on a serialization failure or deadlock, and when
// the server was unreachable before commit. A failure at COMMIT itself
// (connection lost: the outcome is unknown) is returned, never retried.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return errClosed
	}
	return <-r.done
}

func (s *Store) committer() {
	defer close(s.done)
	for {
		var r *request
		select {
		case r = <-s.reqs:
		case <-s.quit:
			return
		}
		batch := []*request{r}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(live []*request) {
	start := time.Now()
	// The first attempt runs the closures without savepoints (two round
	// trips fewer each); if one of them fails on its own, it gets its
	// error and the others run again, each in a savepoint.
	savepoints := false
	for attempt := 1; ; attempt++ {
		keep := live[:0]
		for _, r := range live {
			if err := r.ctx.Err(); err != nil {
				r.done <- err
			} else {
				keep = append(keep, r)
			}
		}
		live = keep
		if len(live) == 0 {
			return
		}
		results := make([]error, len(live))
		failed, committed, err := s.runOnce(live, results, savepoints || len(live) == 1)
		if failed >= 0 {
			live[failed].done <- results[failed]
			live = append(live[:failed:failed], live[failed+1:]...)
			savepoints = true
			continue
		}
		if err == nil {
			for i, r := range live {
				r.done <- results[i]
			}
			return
		}
		transient := Retryable(err) || (!committed && errors.Is(err, vaulterr.ErrUnavailable) && time.Since(start) < unavailableBudget)
		if transient && attempt < maxAttempts {
			if berr := backoff(context.Background(), attempt); berr == nil {
				continue
			}
		}
		if Retryable(err) {
			err = fmt.Errorf("%w: %w", vaulterr.ErrUnavailable, err)
		}
		for i, r := range live {
			if results[i] != nil && !Retryable(results[i]) && !errors.Is(results[i], vaulterr.ErrUnavailable) {
				r.done <- results[i]
			} else {
				r.done <- err
			}
		}
		return
	}
}

// runOnce runs the batch in one transaction. err is nil when the
// transaction committed (results hold the closures' own errors, with
// savepoints), or when a lone closure failed on its own (results[0]).
// Without savepoints, a closure that fails on its own rolls everything
// back: failed is its index (else -1) and results[failed] its error.
// sentCommit reports whether COMMIT was sent (then a connection error
// leaves the outcome unknown and must not be retried).
func (s *Store) runOnce(live []*request, results []error, savepoints bool) (failed int, sentCommit bool, err error) {
	ctx := context.Background()
	q, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return -1, false, dbErr(err)
	}
	defer q.Rollback(ctx)
	own := func(err error) bool { return !Retryable(err) && !errors.Is(err, vaulterr.ErrUnavailable) }
	if len(live) == 1 {
		if ferr := live[0].fn(&tx{q: q, qctx: ctx}); ferr != nil {
			if !own(ferr) {
				return -1, false, ferr
			}
			results[0] = ferr
			return -1, false, nil
		}
	} else {
		for i, r := range live {
			if !savepoints {
				if ferr := r.fn(&tx{q: q, qctx: ctx}); ferr != nil {
					if !own(ferr) {
						return -1, false, ferr
					}
					results[i] = ferr
					return i, false, nil
				}
				continue
			}
			sp, err := q.Begin(ctx)
			if err != nil {
				return -1, false, dbErr(err)
			}
			ferr := r.fn(&tx{q: sp, qctx: ctx})
			if ferr != nil {
				if !own(ferr) {
					return -1, false, ferr
				}
				results[i] = ferr
				if err := sp.Rollback(ctx); err != nil {
					return -1, false, dbErr(err)
				}
				continue
			}
			if err := sp.Commit(ctx); err != nil {
				return -1, false, dbErr(err)
			}
		}
	}
	if err := q.Commit(ctx); err != nil {
		return -1, true, dbErr(err)
	}
	return -1, true, nil
}
