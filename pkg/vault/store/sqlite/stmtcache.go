package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCached bounds a stmtCache: the store's queries are a fixed set of
// strings (a few hundred at most with AuditScan's filter combinations);
// past the bound a query simply runs unprepared.
const maxCached = 512

// stmtCache keeps the statements a *sql.DB has run, prepared, so a
// transaction does not parse the same SQL again on every call (parsing was
// a third of the server's CPU at 64 clients). A statement is prepared on
// the DB outside any transaction: inside one, the pool's only connection
// (the writer has one) may be the transaction's own, so preparing there
// would wait for itself. A miss inside a transaction runs the query as
// text and asks for the statement; run prepares the asked-for ones before
// its next transaction begins. database/sql prepares a cached statement
// once per connection and re-prepares it on a new connection by itself;
// SQLite re-prepares a statement whose schema changed.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// lookup returns q's prepared statement, or nil and notes q as wanted.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[q]; st != nil {
		return st
	}
	if len(c.stmts)+len(c.wanted) < maxCached {
		c.wanted[q] = true
	}
	return nil
}

// prepareWanted prepares the statements asked for since the last call. It
// must be called outside any transaction of c.db. A statement that does
// not prepare (a table a newer migration adds, say) is dropped: its query
// reports the error when it runs.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.wanted) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		qs = append(qs, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range qs {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts[q] == nil && len(c.stmts) < maxCached {
			c.stmts[q] = st
			st = nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// close closes every cached statement; the DB is closed after it.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// stmt returns the transaction's statement for q, or nil to run q as
// text. Each transaction binds a cached statement once (Tx.StmtContext
// keeps every statement it makes until the transaction ends, so binding per
// call would grow with a long transaction).
func (t *tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.sc == nil {
		return nil
	}
	if st := t.bound[q]; st != nil {
		return st
	}
	ps := t.sc.lookup(q)
	if ps == nil {
		return nil
	}
	st := t.tx.StmtContext(ctx, ps)
	if t.bound == nil {
		t.bound = map[string]*sql.Stmt{}
	}
	t.bound[q] = st
	return st
}
