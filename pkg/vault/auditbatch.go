package vault

// Audited reads and group commit (docs/vault.md, "Audit appends").
//
// Every read of a value appends an audit row, and every append takes the
// chain head (SQLite's single writer, PostgreSQL's audit_head row FOR
// UPDATE) until commit. Run as one read-write transaction each, audited
// reads would queue behind one another for the whole read. Instead an
// audited read runs in two steps:
//
//  1. the decision and the read in a read-only snapshot (View), in
//     parallel with any number of other reads: every check of the
//     read-write path (row MACs, the chain's latest put/rm/purge of the
//     name, token and grant state) runs there unchanged; the rows to
//     append and the bookkeeping writes (a token's and a grant's use
//     count) are collected, not written;
//  2. the rows (and bookkeeping) go to the vault's audit batch: the rows
//     of every read waiting at that moment are appended in one read-write
//     transaction, one chain-head lock and one commit for the batch, by
//     one of the waiting reads (appendBatched). Each read returns its
//     value only after the transaction that holds its rows committed; if
//     it fails, the read fails (fail closed).
//
// The chain itself is unchanged: rows are numbered and linked one after
// another from the tail read under the lock, exactly as a lone append
// would do, so "audit verify" checks them as before. A read that must
// write more than bookkeeping (a stub or an access request for a missing
// secret) runs again as one read-write transaction.

import (
	"context"
	"errors"
	"sync"

	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// errNeedsUpdate: an audited read found it must write more than
// bookkeeping; it runs again in a read-write transaction.
var errNeedsUpdate = errors.New("vault: audited read needs a read-write transaction")

// laterWrite is a bookkeeping write deferred to the audit batch.
type laterWrite func(ctx context.Context, tx store.Tx) error

// auditWait is one read's share of a batch.
type auditWait struct {
	rows  []pendingRow
	later []laterWrite
	done  chan error // its batch's result, or errLeadBatch; buffered
	gone  bool       // its caller stopped waiting (under auditBatcher.mu)
}

// auditBatcher queues the rows of audited reads for group commit
// (appendBatched).
type auditBatcher struct {
	mu      sync.Mutex
	queue   []*auditWait // not yet in a batch
	leading bool         // a caller commits batches, or has been told to
}

// audited runs fn, an audited read, as described above: in a read-only
// snapshot, then its audit rows and bookkeeping in a shared append. fn
// queues rows with o.audit, writes bookkeeping with o.later, and returns
// errNeedsUpdate (from o.needsUpdate) when it must write more; then, and
// for a vault whose rows are not all at the latest MAC level (the first
// write upgrades them), fn runs in update instead.
func (v *Vault) audited(ctx context.Context, fn func(o *op) error) error {
	keys, level := v.state()
	if keys == nil || level < keyring.LevelLatest {
		return v.update(ctx, fn)
	}
	var done *op
	err := v.st.View(ctx, func(tx store.Tx) error {
		o := v.newOp(ctx, tx, keys, level)
		o.deferred = true
		if err := fn(o); err != nil {
			return err
		}
		done = o
		return nil
	})
	if errors.Is(err, errNeedsUpdate) || errors.Is(err, store.ErrReadOnlyTx) {
		return v.update(ctx, fn)
	}
	if err != nil {
		return err
	}
	if len(done.rows) > 0 || len(done.laterWrites) > 0 {
		if err := v.appendBatched(ctx, done.rows, done.laterWrites); err != nil {
			return err
		}
	}
	v.apply(done)
	return nil
}

// auditAppend appends r, a row that needs no read (a decision made in an
// earlier snapshot), through the audit batcher, and returns when it
// committed. A vault whose rows are not all at the latest MAC level
// appends it in update, as audited does.
func (v *Vault) auditAppend(ctx context.Context, r auditRow) error {
	keys, level := v.state()
	if keys == nil || level < keyring.LevelLatest {
		return v.update(ctx, func(o *op) error {
			o.audit(r)
			return nil
		})
	}
	o := v.newOp(ctx, nil, keys, level)
	o.audit(r)
	return v.appendBatched(ctx, o.rows, nil)
}

// needsUpdate reports whether the op cannot write what it is about to
// (stubs, requests): errNeedsUpdate in an audited read's snapshot.
func (o *op) needsUpdate() error {
	if o.deferred {
		return errNeedsUpdate
	}
	return nil
}

// later runs a bookkeeping write now, or with the audit rows of an
// audited read. A bookkeeping row that is gone by then is skipped.
func (o *op) later(w laterWrite) error {
	if !o.deferred {
		return w(o.ctx, o.tx)
	}
	o.laterWrites = append(o.laterWrites, w)
	return nil
}

// appendBatched appends rows after the chain's tail in a transaction
// shared with the other reads waiting, and returns when it committed.
//
// Group commit with a leader (as a database's write-ahead log does): the
// caller that finds no batch being committed commits the queue itself, in
// its own goroutine, and the callers that queue meanwhile wait; when its
// batch committed, the leader wakes them with its result and hands the
// queue, if rows arrived meanwhile, to the first caller still waiting,
// which commits the next batch. No goroutine has to be scheduled before a
// commit can start: a separate batcher goroutine that comes back from
// the commit's system calls waits on Go's global run queue while busy
// goroutines (RSA signatures) hand the processors to one another, which
// was most of SignActivation's p99 (docs/benchmarks.md).
func (v *Vault) appendBatched(ctx context.Context, rows []pendingRow, later []laterWrite) error {
	w := &auditWait{rows: rows, later: later, done: make(chan error, 1)}
	b := &v.batch
	b.mu.Lock()
	b.queue = append(b.queue, w)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if lead {
		return v.leadAuditBatches(w)
	}
	select {
	case err := <-w.done:
		if err == errLeadBatch {
			return v.leadAuditBatches(w)
		}
		return err
	case <-ctx.Done():
		// The rows may still be appended; the value is not returned. A
		// leader hands the queue only to a caller still waiting: if one
		// chose w before it was marked gone, another goroutine leads.
		b.mu.Lock()
		w.gone = true
		b.mu.Unlock()
		select {
		case err := <-w.done:
			if err == errLeadBatch {
				go v.leadAuditBatches(nil)
			}
		default:
		}
		return ctx.Err()
	}
}

// errLeadBatch, sent to a waiting caller: commit the next batch yourself.
var errLeadBatch = errors.New("vault: lead the next audit batch")

// maxAuditBatch bounds the reads of one append transaction.
const maxAuditBatch = 256

// leadAuditBatches commits the queue's first batch (up to maxAuditBatch
// reads) in one transaction and wakes its callers with the result, until
// self's rows committed (self is nil for a leader that has none); then it
// hands the rest of the queue to the first caller still waiting, or ends
// the leadership when the queue is empty. It returns the result of self's
// batch.
func (v *Vault) leadAuditBatches(self *auditWait) error {
	b := &v.batch
	var mine error
	committed := self == nil
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxAuditBatch)
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		var err error
		if n > 0 {
			err = v.update(context.Background(), func(o *op) error {
				for _, w := range batch {
					for _, l := range w.later {
						if err := l(o.ctx, o.tx); err != nil && !errors.Is(err, store.ErrNoRow) {
							return err
						}
					}
					o.rows = append(o.rows, w.rows...)
				}
				return nil
			})
		}
		for _, w := range batch {
			if w == self {
				mine, committed = err, true
				continue
			}
			w.done <- err
		}
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.queue = nil
			b.leading = false
			b.mu.Unlock()
			return mine
		}
		if committed {
			for _, w := range b.queue {
				if !w.gone {
					w.done <- errLeadBatch // under mu: see appendBatched
					b.mu.Unlock()
					return mine
				}
			}
		}
		// Only callers that stopped waiting are left (or self is still
		// queued): commit their rows too.
		b.mu.Unlock()
	}
}
