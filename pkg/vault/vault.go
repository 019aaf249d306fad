// Package vault is keysmith's vault core: tenants, versioned secrets sealed
// with envelope encryption under a master key, devices, service access and
// a tamper-evident audit chain, over any store of pkg/vault/store (the
// SQLite file of pkg/vault/store/sqlite, PostgreSQL). It implements
// docs/vault.md: the policy and the orchestration. The cryptography is in
// pkg/vault/keyring, the audit chain's arithmetic in pkg/vault/chain, the
// SQL in the stores, the errors in pkg/vault/vaulterr.
//
// A Vault is opened without a key (Open), which is enough to read its
// environment, key ID and counts (Info); every operation on secret
// material needs Unlock first. An unlocked Vault is safe for concurrent use
// by many goroutines: its keys are immutable, its caches change only after
// a transaction commits, and who is calling (actor, service, remote
// address, user agent) travels in the context (WithCaller), never in the
// Vault. Every method takes a context first.
//
// The package takes keys and readers as values: it never reads flags, the
// process environment or key files.
package vault

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/chain"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// Format is the meta "format" value of a vault.
const Format = "keysmith-vault/v1"

// DefaultTenant is created by Create.
const DefaultTenant = "default"

// TimeLayout is how the vault writes times: UTC, fixed width, so that text
// order is time order.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Sentinel errors, tested with errors.Is; their kinds are in vaulterr.
var (
	ErrNoVault          = vaulterr.ErrNoVault
	ErrExists           = vaulterr.ErrExists
	ErrNotVault         = vaulterr.ErrNotVault
	ErrCorrupt          = vaulterr.ErrCorrupt
	ErrTooNew           = vaulterr.ErrTooNew
	ErrWrongKey         = vaulterr.ErrWrongKey
	ErrTampered         = vaulterr.ErrTampered
	ErrWrongEnvironment = vaulterr.ErrWrongEnvironment
	ErrLocked           = vaulterr.ErrLocked
	ErrNotFound         = vaulterr.ErrNotFound
	ErrNoTenant         = vaulterr.ErrNoTenant
	ErrTenantExists     = vaulterr.ErrTenantExists
	ErrInvalidName      = vaulterr.ErrInvalidName
	ErrNotEmpty         = vaulterr.ErrNotEmpty
	ErrAuditTampered    = vaulterr.ErrAuditTampered
)

// Caller is who is calling: the identity recorded in audit rows. It
// travels in the context (WithCaller); the Vault holds none.
type Caller struct {
	Actor      string // OS user, or operator name; a service read records the token's service
	Service    string // the service the caller says it is (a server's client); "" for operators
	RemoteAddr string // audit ip_address: "local" for the CLI
	UserAgent  string // audit user_agent: "keysmith/<version> (cli)" for the CLI
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// Options are a vault's injected dependencies. Zero fields get defaults.
// Actor, RemoteAddr and UserAgent are the caller of calls whose context
// carries none (a CLI process has one caller).
type Options struct {
	Actor      string
	RemoteAddr string
	UserAgent  string
	Now        func() time.Time // clock
	Rand       io.Reader        // randomness for IDs, DEKs and nonces
}

func (o *Options) fill() {
	if o.Actor == "" {
		o.Actor = "unknown"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// Vault is an open vault over a store. See the package documentation for
// concurrency.
type Vault struct {
	st      store.Store
	desc    string // st.Describe(), kept for messages after Close
	opts    Options
	vaultID []byte
	env     string
	// wrappedAudit is the wrapped audit key as Open read it (Unlock reads
	// the meta again only if it does not open).
	wrappedAudit []byte

	mu    sync.RWMutex
	keyID masterkey.ID
	keys  *keyring.Keys // nil until Unlock
	level int           // row MAC level of the wrapped audit key
	deks  map[dekRef]*seal.AEAD

	batch    auditBatcher // group commit of audited reads (auditbatch.go)
	verified verifiedRows // keyed audit rows already verified (integrity.go)
	amt      amtCache     // opened AMT provisioning keys (amt.go)
}

type dekRef struct {
	tenant  int64
	version int
}

// Info describes a vault. It needs no key.
type Info struct {
	Path          string
	SchemaVersion int
	VaultID       string // hex
	Env           string
	KeyID         masterkey.ID
	CreatedAt     string
	Tenants       []TenantInfo
	AuditRows     int
}

// TenantInfo is a tenant with its counts.
type TenantInfo struct {
	Name       string `json:"name"`
	Secrets    int    `json:"secrets"`  // names whose latest version is not removed
	Versions   int    `json:"versions"` // all stored versions
	DEKVersion int    `json:"dek_version"`
	CreatedAt  string `json:"created_at"`
}

// Create makes a new vault in st, an empty store (store/sqlite.Create),
// for environment env, unlocked by key. The Vault owns st from then on,
// also when Create fails (st is closed).
func Create(ctx context.Context, st store.Store, env string, key masterkey.Key, opts Options) (*Vault, error) {
	opts.fill()
	if !masterkey.ValidEnv(env) {
		st.Close()
		return nil, fmt.Errorf("environment name %q is not valid", env)
	}
	v := &Vault{st: st, desc: st.Describe(), opts: opts, env: env, keyID: key.ID(), deks: map[dekRef]*seal.AEAD{}}
	if err := v.create(ctx, key); err != nil {
		st.Close()
		return nil, err
	}
	return v, nil
}

func (v *Vault) create(ctx context.Context, key masterkey.Key) error {
	v.vaultID = make([]byte, 16)
	if _, err := io.ReadFull(v.opts.Rand, v.vaultID); err != nil {
		return err
	}
	k, err := keyring.Derive(key, v.env, v.vaultID, v.opts.Rand)
	if err != nil {
		return err
	}
	auditKey, err := k.NewKey()
	if err != nil {
		return err
	}
	defer clear(auditKey)
	wrappedAudit, err := k.WrapAuditKey(auditKey, keyring.LevelLatest)
	if err != nil {
		return err
	}
	if k, err = k.WithAudit(auditKey); err != nil {
		return err
	}
	v.keys, v.level = k, keyring.LevelLatest
	id := key.ID()
	return v.update(ctx, func(o *op) error {
		if m, err := o.tx.Meta(ctx); err != nil {
			return err
		} else if len(m) > 0 {
			return fmt.Errorf("%q: %w", v.st.Describe(), ErrExists)
		}
		for _, kv := range []struct {
			k string
			v []byte
		}{
			{store.MetaFormat, []byte(Format)}, {store.MetaVaultID, v.vaultID}, {store.MetaEnv, []byte(v.env)}, {store.MetaKeyID, id[:]},
			{store.MetaAuditKey, wrappedAudit}, {store.MetaCreatedAt, []byte(o.ts())},
		} {
			if err := o.tx.SetMeta(ctx, kv.k, kv.v); err != nil {
				return err
			}
		}
		if _, err := o.addTenant(DefaultTenant); err != nil {
			return err
		}
		o.audit(auditRow{Action: "init", Object: v.st.Describe(), Success: true, Detail: "env " + v.env + ", key " + id.String()})
		return nil
	})
}

// Open opens the vault in st without unlocking it. The Vault owns st from
// then on, also when Open fails (st is closed).
func Open(ctx context.Context, st store.Store, opts Options) (*Vault, error) {
	opts.fill()
	v := &Vault{st: st, desc: st.Describe(), opts: opts, deks: map[dekRef]*seal.AEAD{}}
	if err := v.load(ctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("%q: %w", st.Describe(), err)
	}
	return v, nil
}

func (v *Vault) load(ctx context.Context) error {
	var meta map[string][]byte
	if err := v.st.View(ctx, func(tx store.Tx) (err error) {
		meta, err = tx.Meta(ctx)
		return err
	}); err != nil {
		return err
	}
	if len(meta) == 0 {
		return fmt.Errorf("%w: the store holds no vault", ErrNoVault)
	}
	if string(meta[store.MetaFormat]) != Format {
		return fmt.Errorf("%w: unknown format %q", ErrNotVault, meta[store.MetaFormat])
	}
	if len(meta[store.MetaVaultID]) != 16 || len(meta[store.MetaKeyID]) != masterkey.IDSize || !masterkey.ValidEnv(string(meta[store.MetaEnv])) || len(meta[store.MetaAuditKey]) == 0 {
		return fmt.Errorf("%w: meta table is incomplete", ErrCorrupt)
	}
	v.vaultID = meta[store.MetaVaultID]
	v.env = string(meta[store.MetaEnv])
	v.wrappedAudit = meta[store.MetaAuditKey]
	copy(v.keyID[:], meta[store.MetaKeyID])
	return nil
}

// Store returns the vault's store.
func (v *Vault) Store() store.Store { return v.st }

// CheckIntegrity checks the store's storage below the rows (SQLite's
// quick_check), when the store can: ErrCorrupt on one line.
func (v *Vault) CheckIntegrity(ctx context.Context) error {
	if c, ok := v.st.(store.Checker); ok {
		return c.CheckIntegrity(ctx)
	}
	return nil
}

// Close closes the vault and its store and forgets its keys.
func (v *Vault) Close() error {
	if v == nil || v.st == nil {
		return nil
	}
	v.mu.Lock()
	v.keys.Wipe()
	v.keys, v.deks = nil, nil
	v.mu.Unlock()
	v.amt.drop(func(amtRef) bool { return true })
	err := v.st.Close()
	v.st = nil
	return err
}

// Path names the vault's store: its file, or its URL without password.
func (v *Vault) Path() string { return v.desc }

// Env returns the environment whose master key unlocks the vault.
func (v *Vault) Env() string { return v.env }

// KeyID returns the ID of the master key that unlocks the vault.
func (v *Vault) KeyID() masterkey.ID {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.keyID
}

// SchemaVersion returns the store's schema version.
func (v *Vault) SchemaVersion() int {
	if v.st == nil {
		return 0
	}
	return v.st.SchemaVersion()
}

// Actor returns the actor ctx's caller is recorded as.
func (v *Vault) Actor(ctx context.Context) string { return v.caller(ctx).Actor }

func (v *Vault) caller(ctx context.Context) Caller {
	c, _ := CallerFrom(ctx)
	if c.Actor == "" {
		c.Actor = v.opts.Actor
	}
	if c.RemoteAddr == "" {
		c.RemoteAddr = v.opts.RemoteAddr
	}
	if c.UserAgent == "" {
		c.UserAgent = v.opts.UserAgent
	}
	return c
}

// Info returns the vault's description and counts. It needs no key.
func (v *Vault) Info(ctx context.Context) (*Info, error) {
	in := &Info{Path: v.Path(), SchemaVersion: v.SchemaVersion(), VaultID: fmt.Sprintf("%x", v.vaultID), Env: v.env, KeyID: v.KeyID()}
	err := v.st.View(ctx, func(tx store.Tx) error {
		meta, err := tx.Meta(ctx)
		if err != nil {
			return err
		}
		in.CreatedAt = string(meta[store.MetaCreatedAt])
		ts, err := tx.Tenants(ctx)
		if err != nil {
			return err
		}
		in.Tenants = nil
		for _, t := range ts {
			live, versions, err := tx.SecretCounts(ctx, t.ID)
			if err != nil {
				return err
			}
			in.Tenants = append(in.Tenants, TenantInfo{Name: t.Name, Secrets: live, Versions: versions, DEKVersion: t.DEKVersion, CreatedAt: t.CreatedAt})
		}
		c, err := tx.Counts(ctx)
		in.AuditRows = c.Audit
		return err
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// state returns the keys and row MAC level under the lock.
func (v *Vault) state() (*keyring.Keys, int) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.keys, v.level
}

func (v *Vault) mustUnlocked() error {
	if k, _ := v.state(); k == nil {
		return ErrLocked
	}
	return nil
}

// Unlocked reports whether Unlock succeeded.
func (v *Vault) Unlocked() bool { return v.mustUnlocked() == nil }

// op is one attempt of one transaction: what a closure of update or view
// works with. Nothing in it outlives the attempt except what apply merges
// into the Vault after a commit.
type op struct {
	v      *Vault
	ctx    context.Context
	tx     store.Tx
	keys   *keyring.Keys
	caller Caller

	rows     []pendingRow
	deks     map[dekRef]*seal.AEAD
	dropDEKs map[int64]int // tenant -> the only DEK version to keep cached
	level    int           // row MAC level after this transaction
	newKeys  *keyring.Keys // keys after this transaction (rotate-master)
	newKeyID masterkey.ID

	deferred    bool         // an audited read's snapshot (auditbatch.go)
	laterWrites []laterWrite // its bookkeeping, written with its audit rows

	chainStartRead bool  // checkChainStart, once read
	chainStartErr  error // its answer

	chainVerified bool        // VerifyAll verified every row of the chain in this snapshot
	index         *auditIndex // and kept the rows the state checks ask for (integrity.go)
}

type pendingRow struct {
	row     store.AuditRow
	unkeyed bool
}

func (v *Vault) newOp(ctx context.Context, tx store.Tx, keys *keyring.Keys, level int) *op {
	return &op{v: v, ctx: ctx, tx: tx, keys: keys, caller: v.caller(ctx), level: level}
}

// update runs fn in one store transaction, re-run as a unit on transient
// store failures (store.Store.Update). The first unlocked write of a vault
// whose rows do not all carry MACs first fills them in (upgradeRowMACs).
// The audit rows fn queued are appended last, so that a store that locks
// the chain head holds it briefly. In-memory state changes (DEK cache,
// keys after rotate-master, the row MAC level) apply after the commit.
func (v *Vault) update(ctx context.Context, fn func(o *op) error) error {
	keys, level := v.state()
	var done *op
	err := v.st.Update(ctx, func(tx store.Tx) error {
		o := v.newOp(ctx, tx, keys, level)
		if keys != nil && level < keyring.LevelLatest {
			if err := o.upgradeRowMACs(); err != nil {
				return err
			}
		}
		if err := fn(o); err != nil {
			return err
		}
		if err := o.flushAudit(); err != nil {
			return err
		}
		done = o
		return nil
	})
	if err != nil {
		return err
	}
	v.apply(done)
	return nil
}

// view runs fn in a read-only snapshot. DEKs it unwrapped are cached.
func (v *Vault) view(ctx context.Context, fn func(o *op) error) error {
	keys, level := v.state()
	var done *op
	err := v.st.View(ctx, func(tx store.Tx) error {
		o := v.newOp(ctx, tx, keys, level)
		if err := fn(o); err != nil {
			return err
		}
		if len(o.rows) > 0 {
			return fmt.Errorf("vault: audit row in a read-only transaction")
		}
		done = o
		return nil
	})
	if err != nil {
		return err
	}
	v.apply(done)
	return nil
}

func (v *Vault) apply(o *op) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.deks == nil { // closed meanwhile
		return
	}
	for t, keep := range o.dropDEKs {
		for r := range v.deks {
			if r.tenant == t && r.version != keep {
				delete(v.deks, r)
			}
		}
	}
	for r, a := range o.deks {
		v.deks[r] = a
	}
	if o.level > v.level {
		v.level = o.level
	}
	if o.newKeys != nil {
		v.keys, v.keyID = o.newKeys, o.newKeyID
	}
}

func (o *op) ts() string { return formatTime(o.v.opts.Now()) }

func (o *op) mustUnlocked() error {
	if o.keys == nil {
		return ErrLocked
	}
	return nil
}

type auditRow struct {
	Action, Tenant, Object, Detail string
	Success                        bool
}

// audit queues a keyed audit row by the caller.
func (o *op) audit(r auditRow) { o.auditAs(o.caller.Actor, r) }

// auditAs queues a keyed audit row by actor (a service read records the
// token's service).
func (o *op) auditAs(actor string, r auditRow) {
	o.rows = append(o.rows, pendingRow{row: o.row(actor, r)})
}

// auditUnkeyed queues an unkeyed row: a failed unlock cannot be MACed with
// the right key.
func (o *op) auditUnkeyed(r auditRow) {
	o.rows = append(o.rows, pendingRow{row: o.row(o.caller.Actor, r), unkeyed: true})
}

func (o *op) row(actor string, r auditRow) store.AuditRow {
	return store.AuditRow{TS: o.ts(), Actor: actor, Action: r.Action, Tenant: r.Tenant, Object: r.Object, Success: r.Success,
		Detail: r.Detail, IPAddress: o.caller.RemoteAddr, UserAgent: o.caller.UserAgent}
}

// flushAudit appends the queued rows after the chain's tail.
func (o *op) flushAudit() error {
	if len(o.rows) == 0 {
		return nil
	}
	tail, err := o.tx.AuditTail(o.ctx)
	if err != nil {
		return err
	}
	seq, head := chain.Head(o.v.vaultID, tail)
	a := chain.Appender{Seq: seq, Head: head}
	if o.keys != nil {
		a.Key = o.keys.AuditKey()
	}
	rows := make([]store.AuditRow, len(o.rows))
	for i, p := range o.rows {
		rows[i] = p.row
		if !p.unkeyed && a.Key == nil {
			return ErrLocked
		}
		a.Link(&rows[i], p.unkeyed)
	}
	return o.tx.AppendAudit(o.ctx, rows)
}

// auditFailure records a failed operation, keyed when the vault is
// unlocked. It is best effort: the operation's own error is what matters.
func (v *Vault) auditFailure(ctx context.Context, action, tenantName, object string, cause error) {
	if !v.Unlocked() || errIs(cause, ErrInvalidName) {
		return
	}
	detail := "failed"
	switch {
	case errIs(cause, ErrNotFound):
		detail = "not found"
	case errIs(cause, ErrNoTenant):
		detail = "no such tenant"
	case errIs(cause, ErrTampered):
		detail = "does not authenticate"
	}
	v.auditEvent(ctx, auditRow{Action: action, Tenant: tenantName, Object: object, Success: false, Detail: detail})
}

// auditEvent appends one keyed row in its own transaction. Best effort.
func (v *Vault) auditEvent(ctx context.Context, r auditRow) {
	_ = v.update(context.WithoutCancel(ctx), func(o *op) error {
		o.audit(r)
		return nil
	})
}
