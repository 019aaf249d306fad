// Package store defines the interface between the vault core (pkg/vault)
// and the databases that hold a vault: docs/vault.md, "Stores".
//
// Seal above, store below. The core holds every key and makes every
// decision; it hands a store rows whose secret parts are already sealed
// (values, device secrets, wrapped data keys, the wrapped audit key) and
// whose authorisation fields carry a MAC. A store never sees a key, a
// plaintext or a policy decision, and the core never writes SQL. A store is
// untrusted: whatever it returns is checked above it (associated data, row
// MACs, the audit chain), so a store need not validate what it is given
// beyond its own constraints.
//
// A store is safe for concurrent use by many goroutines, and by many
// processes on one database. All work happens in transactions (View,
// Update); a Tx is used by one goroutine, inside the closure only.
//
// Every store passes the conformance suite in package storetest:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return newEmptyStore(t) })
//	}
//
// and asserts the interface statically: var _ store.Store = (*Store)(nil).
package store

import (
	"context"
	"errors"
)

// Errors a store returns (wrapped with %w; test with errors.Is). Opening
// and creating a vault also use the sentinels of pkg/vault/vaulterr:
// ErrNoVault, ErrExists, ErrNotVault, ErrCorrupt, ErrTooNew, ErrReadOnly,
// ErrUnavailable.
var (
	// ErrNoRow: a lookup of one row by key found none.
	ErrNoRow = errors.New("store: no such row")
	// ErrConflict: an insert collides with a unique key (a tenant name,
	// a secret version, a device name or UUID, a key fingerprint, a
	// token ID, a report's request ID).
	ErrConflict = errors.New("store: row already exists")
	// ErrReadOnlyTx: a write method was called on the Tx of View.
	ErrReadOnlyTx = errors.New("store: write in a read-only transaction")
)

// Store is one vault's database.
//
// Transactions and retries. Update runs fn in one read-write transaction
// and commits it: everything fn wrote happens, or none of it. When the
// transaction fails with an error the store classifies as transient (a
// serialization failure or deadlock on PostgreSQL, SQLSTATE 40001/40P01;
// SQLITE_BUSY after the busy timeout on SQLite), whether returned by a Tx
// method (and passed up by fn) or by the commit, Update rolls back and runs
// fn again from the start with a fresh Tx, until it commits, ctx ends or a
// store-defined limit of attempts is reached (then the last error is
// returned, wrapping vaulterr.ErrUnavailable). So fn must decide and write
// as a unit: it may only change state outside the transaction that it
// resets at its start, and the caller applies in-memory effects (caches)
// only after Update returned nil. Any other error from fn rolls back and is
// returned unchanged. The retry classification is the store's alone:
// callers never see a transient error unless the attempts ran out.
//
// Isolation. Within one Update every read sees the transaction's own
// writes, and the result of the whole closure is as if it ran alone
// (serializable): read-then-write sequences (the next secret version, the
// next DEK version, the next device secret version, the audit chain's next
// seq) are correct with any number of concurrent writers. A store gets
// there with a single writer (SQLite's BEGIN IMMEDIATE), with row locks
// (SELECT ... FOR UPDATE on the rows read to decide: the tenant row for
// versions, the chain head for the audit), or with SERIALIZABLE and the
// retry above.
//
// View runs fn in a read-only transaction with a consistent snapshot; its
// Tx methods that write return ErrReadOnlyTx. View is never retried.
type Store interface {
	// View runs fn in a read-only snapshot transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, re-run as a unit on
	// transient failures (see above).
	Update(ctx context.Context, fn func(Tx) error) error

	// Describe names the store for messages, logs and audit rows: a file
	// path, or a URL without its password. It never contains a secret.
	Describe() string
	// SchemaVersion is the version of the store's schema after Open's
	// migrations. It is the store's own numbering.
	SchemaVersion() int
	// Close releases the store. Transactions in progress may fail.
	Close() error
}

// Checker is implemented by stores that can check their own storage below
// the rows (SQLite's quick_check): a damaged file fails with a sentinel
// wrapping vaulterr.ErrCorrupt naming the first problem, on one line.
type Checker interface {
	CheckIntegrity(ctx context.Context) error
}

// Compacter is implemented by stores that can reclaim the space of deleted
// and rewritten rows so that old ciphertexts are overwritten (SQLite:
// WAL checkpoint and VACUUM). Checkpoint is best effort and cheap; Compact
// may rewrite everything.
type Compacter interface {
	Checkpoint(ctx context.Context)
	Compact(ctx context.Context) error
}

// Tx is one transaction. Its methods are grouped by aggregate. Methods
// that look up one row by key return an error wrapping ErrNoRow when there
// is none; methods that list return an empty (possibly nil) slice. Rows are
// returned in the order each method documents. Text fields that are NULL in
// the database are "" in rows, and "" is written as NULL where the column
// is nullable (deleted_at, device_uuid, revoked_at, decided_*, last_*,
// consumed_*, filled_at).
type Tx interface {
	MetaTx
	TenantTx
	DEKTx
	SecretTx
	DeviceTx
	DeviceKeyTx
	ChallengeTx
	DeviceSecretTx
	ReportTx
	TokenTx
	GrantTx
	RequestTx
	StubTx
	AuditTx
	AMTCertTx

	// Counts counts the rows of every table, for "vault info" and the
	// backup's list of what it leaves out.
	Counts(ctx context.Context) (Counts, error)
}

// Counts are the number of rows of each kind in a vault.
type Counts struct {
	Tenants, DEKs, SecretVersions                          int
	Devices, DeviceKeys, DeviceSecrets, DeviceReports      int
	Tokens, Grants, Requests, OpenStubs, Audit, Challenges int
	AMTCerts                                               int
}

// Meta keys. Values are bytes as the core writes them.
const (
	MetaFormat    = "format"     // "keysmith-vault/v1"
	MetaVaultID   = "vault_id"   // 16 random bytes
	MetaEnv       = "env"        // environment name
	MetaKeyID     = "key_id"     // 8-byte master key ID
	MetaAuditKey  = "audit_key"  // the wrapped audit key
	MetaCreatedAt = "created_at" // time of vault init
)

// MetaTx reads and writes vault-wide settings.
type MetaTx interface {
	// Meta returns every meta entry.
	Meta(ctx context.Context) (map[string][]byte, error)
	// SetMeta inserts or replaces one entry.
	SetMeta(ctx context.Context, key string, value []byte) error
}

// Tenant is a row of tenants. ID is the tenant_id bound into the
// associated data of every DEK, value and device secret of the tenant and
// into row MACs: once assigned it never changes, is never reused for
// another tenant, and is preserved by copies between stores.
type Tenant struct {
	ID         int64
	Name       string
	DEKVersion int // the current DEK version
	CreatedAt  string
}

// TenantTx: tenants are never deleted.
type TenantTx interface {
	// Tenant returns the tenant named name (ErrNoRow).
	Tenant(ctx context.Context, name string) (Tenant, error)
	// TenantByID returns the tenant with ID id (ErrNoRow).
	TenantByID(ctx context.Context, id int64) (Tenant, error)
	// Tenants lists every tenant by name.
	Tenants(ctx context.Context) ([]Tenant, error)
	// InsertTenant adds t and returns its ID: t.ID when not 0 (a copy),
	// else a new one, greater than every ID the store ever assigned.
	// A name or ID in use is ErrConflict.
	InsertTenant(ctx context.Context, t Tenant) (int64, error)
	// SetTenantDEKVersion sets the tenant's current DEK version.
	SetTenantDEKVersion(ctx context.Context, id int64, version int) error
	// LockTenant makes the rest of the transaction the only writer of the
	// tenant's rows: a store with row locks takes the tenant row FOR
	// UPDATE; a single-writer store does nothing. The core calls it before
	// reading the next version of a secret, DEK or device secret, and
	// before a DEK rotation.
	LockTenant(ctx context.Context, id int64) error
}

// DEK is a row of deks: one data key version of a tenant, wrapped under
// the KEK with associated data binding vault, tenant and version.
type DEK struct {
	TenantID  int64
	Version   int
	Wrapped   []byte
	CreatedAt string
}

// DEKTx reads and writes wrapped data keys.
type DEKTx interface {
	// DEK returns one data key (ErrNoRow).
	DEK(ctx context.Context, tenantID int64, version int) (DEK, error)
	// DEKs lists every data key of every tenant by tenant ID and version.
	DEKs(ctx context.Context) ([]DEK, error)
	// MaxDEKVersion returns the tenant's highest stored DEK version, 0 if
	// none.
	MaxDEKVersion(ctx context.Context, tenantID int64) (int, error)
	// InsertDEK adds a data key (ErrConflict if the version exists).
	InsertDEK(ctx context.Context, d DEK) error
	// UpdateDEK replaces the wrapped bytes of one data key (ErrNoRow).
	UpdateDEK(ctx context.Context, tenantID int64, version int, wrapped []byte) error
	// DeleteDEKsExcept deletes every data key of the tenant but keep.
	DeleteDEKsExcept(ctx context.Context, tenantID int64, keep int) error
}

// Secret is a row of secrets: one version of a secret. Sealed is opened
// with the tenant's DEK of DEKVersion and associated data binding tenant,
// name, version and DEK version.
type Secret struct {
	ID          int64 // store-internal; orders rows for paging
	TenantID    int64
	Name        string
	Version     int
	DEKVersion  int
	Sealed      []byte // nil when the method says it reads no values
	Description string
	CreatedAt   string
	CreatedBy   string
	DeletedAt   string // "" unless removed
}

// SecretTx reads and writes secret versions.
type SecretTx interface {
	// Secret returns one version of name, or the highest version when
	// version is 0, with Sealed (ErrNoRow).
	Secret(ctx context.Context, tenantID int64, name string, version int) (Secret, error)
	// LatestSecrets returns the highest version of every name of the
	// tenant starting with prefix (all names when prefix is ""), removed
	// ones included, by name (bytewise). With values false, Sealed is nil.
	// It must stay fast for 100,000 names (docs/benchmarks.md).
	LatestSecrets(ctx context.Context, tenantID int64, prefix string, values bool) ([]Secret, error)
	// LatestOf returns the highest version of each of names that has a
	// row (removed ones included), with Sealed, by name (bytewise), each
	// name once however often it is listed: what Secret(ctx, tenantID,
	// name, 0) returns for each, in one query (a service reading a
	// schema's names).
	LatestOf(ctx context.Context, tenantID int64, names []string) ([]Secret, error)
	// SecretHistory returns every version of name, oldest first, without
	// Sealed.
	SecretHistory(ctx context.Context, tenantID int64, name string) ([]Secret, error)
	// SecretsPage returns up to limit versions of the tenant's secrets
	// (of every tenant when tenantID is 0) with ID > afterID, by ID, with
	// Sealed: for rotation, export, copy and verify.
	SecretsPage(ctx context.Context, tenantID, afterID int64, limit int) ([]Secret, error)
	// SecretCounts returns the tenant's names whose highest version is not
	// removed, and all its stored versions.
	SecretCounts(ctx context.Context, tenantID int64) (live, versions int, err error)
	// InsertSecret adds a version (ErrConflict if (tenant, name, version)
	// exists). s.ID is ignored and a new one assigned. The DEK version
	// must exist (a store may enforce it with a foreign key, as SQLite
	// does); so for UpdateSecretSeal and the device secret methods.
	InsertSecret(ctx context.Context, s Secret) error
	// UpdateSecretSeal replaces the sealed value and DEK version of the
	// row with ID id (rotation).
	UpdateSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error
	// RemoveSecret sets deleted_at = at on every version of name not yet
	// removed and returns how many.
	RemoveSecret(ctx context.Context, tenantID int64, name, at string) (int, error)
	// PurgeSecret deletes every version of name and returns how many. The
	// bytes are overwritten where the store can (SQLite secure_delete).
	PurgeSecret(ctx context.Context, tenantID int64, name string) (int, error)
}

// Device is a row of devices. Ref is the internal row ID (bound into device
// key MACs, preserved by copies); ID the public "dev_" ID. ActiveKeys is
// computed on reads (the device's keys with status active) and ignored on
// insert. Name, UUID, Role and TenantID are covered by MAC (migration 0006;
// nil on rows written before it).
type Device struct {
	Ref        int64
	TenantID   int64
	ID         string
	Name       string
	UUID       string // "" when none
	Role       string
	CreatedAt  string
	CreatedBy  string
	ActiveKeys int
	MAC        []byte
}

// Device lookup fields for DeviceBy.
const (
	ByDeviceID = "device_id"
	ByUUID     = "device_uuid"
	ByName     = "name"
)

// DeviceTx reads and writes devices.
type DeviceTx interface {
	// DeviceBy returns the tenant's device whose field (ByDeviceID,
	// ByUUID or ByName) equals value (ErrNoRow).
	DeviceBy(ctx context.Context, tenantID int64, field, value string) (Device, error)
	// DeviceByRef returns the device with row ID ref (ErrNoRow).
	DeviceByRef(ctx context.Context, ref int64) (Device, error)
	// Devices lists the tenant's devices by name, only those at role when
	// role is not "", every tenant's (by tenant ID, then name) when
	// tenantID is 0.
	Devices(ctx context.Context, tenantID int64, role string) ([]Device, error)
	// InsertDevice adds d and returns its Ref (d.Ref when not 0). A used
	// device ID, or a name or UUID used in the tenant, is ErrConflict.
	InsertDevice(ctx context.Context, d Device) (int64, error)
	// UpdateDevice sets the role and MAC of device ref.
	UpdateDevice(ctx context.Context, ref int64, role string, mac []byte) error
	// DeleteDevice deletes the device with its keys, challenges and
	// secrets; its reports keep their rows with no device.
	DeleteDevice(ctx context.Context, ref int64) error
	// DeviceRowCounts returns how many keys and secret versions the
	// device has.
	DeviceRowCounts(ctx context.Context, ref int64) (keys, secrets int, err error)
}

// DeviceKey is a row of device_keys. DeviceID is the public ID of the
// device the key belongs to (filled on reads, from the device row; the MAC
// covers it).
type DeviceKey struct {
	ID          int64
	TenantID    int64
	DeviceRef   int64
	DeviceID    string
	KeyID       string
	SPKI        []byte
	Fingerprint string
	Role        string
	Origin      string // provisioned | enrolled
	Status      string // active | revoked
	CreatedAt   string
	CreatedBy   string
	RevokedAt   string
	MAC         []byte
}

// DeviceKeyTx reads and writes device keys.
type DeviceKeyTx interface {
	// DeviceKeys lists the device's keys by ID; every key of the vault
	// when deviceRef is 0.
	DeviceKeys(ctx context.Context, deviceRef int64) ([]DeviceKey, error)
	// DeviceKeyFind returns the tenant's key whose key_id is keyID, or
	// whose fingerprint is fingerprint (ErrNoRow).
	DeviceKeyFind(ctx context.Context, tenantID int64, keyID, fingerprint string) (DeviceKey, error)
	// InsertDeviceKey adds k and returns its ID (k.ID when not 0). A used
	// key ID, or a fingerprint used in the tenant, is ErrConflict.
	InsertDeviceKey(ctx context.Context, k DeviceKey) (int64, error)
	// UpdateDeviceKey sets the status, revoked_at and MAC of key id.
	UpdateDeviceKey(ctx context.Context, id int64, status, revokedAt string, mac []byte) error
}

// Challenge is a row of device_challenges.
type Challenge struct {
	Nonce      []byte
	TenantID   int64
	DeviceRef  int64
	CreatedAt  string
	ExpiresAt  string
	ConsumedAt string
	ConsumedBy string
}

// ChallengeTx reads and writes device challenges.
type ChallengeTx interface {
	InsertChallenge(ctx context.Context, c Challenge) error
	// Challenge returns the challenge nonce of device ref (ErrNoRow).
	Challenge(ctx context.Context, deviceRef int64, nonce []byte) (Challenge, error)
	// ConsumeChallenge sets consumed_at and consumed_by of the nonce if it
	// is not consumed yet, and reports whether it did.
	ConsumeChallenge(ctx context.Context, nonce []byte, at, by string) (bool, error)
}

// DeviceSecret is a row of device_secrets: sealed under the tenant DEK
// with associated data binding tenant, device ID, device UUID, name,
// version and DEK version.
type DeviceSecret struct {
	ID         int64
	TenantID   int64
	DeviceRef  int64
	Name       string
	Version    int
	DEKVersion int
	Sealed     []byte
	Source     string
	CreatedAt  string
	CreatedBy  string
}

// DeviceSecretTx reads and writes device secrets.
type DeviceSecretTx interface {
	// DeviceSecret returns the highest version of the device's secret
	// name, with Sealed (ErrNoRow).
	DeviceSecret(ctx context.Context, deviceRef int64, name string) (DeviceSecret, error)
	// LatestDeviceSecrets returns the highest version of each of the
	// device's secrets, by name, without Sealed.
	LatestDeviceSecrets(ctx context.Context, deviceRef int64) ([]DeviceSecret, error)
	// DeviceSecretsOf returns every version of every device secret of the
	// tenant (of every tenant when tenantID is 0), by ID, with Sealed.
	DeviceSecretsOf(ctx context.Context, tenantID int64) ([]DeviceSecret, error)
	// MaxDeviceSecretVersion returns the highest version of the device's
	// secret name, 0 if none.
	MaxDeviceSecretVersion(ctx context.Context, deviceRef int64, name string) (int, error)
	// InsertDeviceSecret adds a version (ErrConflict if it exists).
	InsertDeviceSecret(ctx context.Context, s DeviceSecret) error
	// UpdateDeviceSecretSeal replaces the sealed value and DEK version of
	// row id (rotation).
	UpdateDeviceSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error
}

// Report is a row of device_reports.
type Report struct {
	ID         int64
	TenantID   int64
	RequestID  string
	DeviceRef  int64 // 0 once the device was removed
	DeviceUUID string
	Digest     []byte
	Secrets    int
	AppliedAt  string
	AppliedBy  string
}

// ReportTx reads and writes applied provisioning reports.
type ReportTx interface {
	// Report returns the tenant's report with requestID (ErrNoRow).
	Report(ctx context.Context, tenantID int64, requestID string) (Report, error)
	// Reports lists every report by ID.
	Reports(ctx context.Context) ([]Report, error)
	// InsertReport adds r (ErrConflict if the request ID was applied).
	InsertReport(ctx context.Context, r Report) error
}

// Token is a row of service_tokens. Hash is the SHA-256 of the token.
type Token struct {
	ID             string
	Service        string
	ServiceVersion string
	Hash           []byte
	Status         string
	CreatedAt      string
	CreatedBy      string
	DecidedAt      string
	DecidedBy      string
	LastUsed       string
	UseCount       int
	MAC            []byte
}

// TokenTx reads and writes service tokens.
type TokenTx interface {
	// Token returns the token with public ID id (ErrNoRow).
	Token(ctx context.Context, id string) (Token, error)
	// Tokens lists every token by service, created_at and ID.
	Tokens(ctx context.Context) ([]Token, error)
	// InsertToken adds t (ErrConflict if the ID exists).
	InsertToken(ctx context.Context, t Token) error
	// DecideToken sets status, decided_at, decided_by and MAC of token id.
	DecideToken(ctx context.Context, id, status, at, by string, mac []byte) error
	// TouchToken records one use: last_used = at, use_count + 1.
	TouchToken(ctx context.Context, id, at string) error
	// SetTokenMAC sets the MAC alone (the upgrade to row MACs).
	SetTokenMAC(ctx context.Context, id string, mac []byte) error
}

// Grant is a row of grants, keyed by (TenantID, Service, Name).
type Grant struct {
	TenantID    int64
	Service     string
	Name        string
	Status      string // active | revoked | denied
	DecidedAt   string
	DecidedBy   string
	AccessCount int
	LastAccess  string
	MAC         []byte
}

// GrantTx reads and writes grants.
type GrantTx interface {
	// Grant returns one grant (ErrNoRow).
	Grant(ctx context.Context, tenantID int64, service, name string) (Grant, error)
	// GrantsOf returns service's grants of those of names that have one,
	// by name (bytewise), each once: what Grant returns for each, in one
	// query.
	GrantsOf(ctx context.Context, tenantID int64, service string, names []string) ([]Grant, error)
	// Grants lists the tenant's grants by service and name; every grant
	// of the vault (by tenant ID, service, name) when tenantID is 0.
	Grants(ctx context.Context, tenantID int64) ([]Grant, error)
	// PutGrant inserts g, or on an existing key sets status, decided_at,
	// decided_by and MAC, keeping the counters (a copy sets them too when
	// inserting).
	PutGrant(ctx context.Context, g Grant) error
	// TouchGrant records one read: access_count + 1, last_access = at.
	TouchGrant(ctx context.Context, tenantID int64, service, name, at string) error
	// TouchGrants is TouchGrant of service's grant of each of names, once
	// for every time the name is listed, in one statement; names without
	// a grant are skipped.
	TouchGrants(ctx context.Context, tenantID int64, service string, names []string, at string) error
}

// Request is a row of access_requests.
type Request struct {
	ID          int64
	TenantID    int64
	Service     string
	Name        string
	Status      string // pending | approved | denied
	RequestedBy string
	RequestedAt string
	Origin      string
	DecidedAt   string
	DecidedBy   string
	MAC         []byte
}

// RequestTx reads and writes access requests. At most one request per
// (tenant, service, name) is pending, even with concurrent writers.
type RequestTx interface {
	// Request returns request id (ErrNoRow).
	Request(ctx context.Context, id int64) (Request, error)
	// PendingRequest returns the pending request of (tenant, service,
	// name) (ErrNoRow).
	PendingRequest(ctx context.Context, tenantID int64, service, name string) (Request, error)
	// Requests lists the tenant's requests by ID, only pending ones with
	// pendingOnly; every tenant's when tenantID is 0.
	Requests(ctx context.Context, tenantID int64, pendingOnly bool) ([]Request, error)
	// InsertRequest adds r (status pending) unless a request of
	// (tenant, service, name) is pending already, and returns the ID of
	// the pending request and whether it is the new one. r.ID, when not 0,
	// is used (a copy; then r.Status may be any state).
	InsertRequest(ctx context.Context, r Request) (id int64, created bool, err error)
	// DecideRequest sets status, decided_at, decided_by and MAC.
	DecideRequest(ctx context.Context, id int64, status, at, by string, mac []byte) error
}

// Stub is a row of stubs: a secret asked for with no value yet (FilledAt
// "") or filled since. AskedBy is computed on reads by Stubs: the distinct
// services with a request for the name, sorted.
type Stub struct {
	TenantID    int64
	Name        string
	RequestedBy string
	Description string
	CreatedAt   string
	FilledAt    string
	AskedBy     []string
}

// StubTx reads and writes stubs.
type StubTx interface {
	// Stub returns the stub of name (ErrNoRow), filled or not.
	Stub(ctx context.Context, tenantID int64, name string) (Stub, error)
	// Stubs lists the tenant's open (unfilled) stubs by name, with
	// AskedBy; every stub of the vault, filled ones too, when tenantID is
	// 0 (a copy).
	Stubs(ctx context.Context, tenantID int64) ([]Stub, error)
	// OpenStub inserts s (with s.FilledAt, normally ""), or reopens a filled stub of the name (filled_at
	// NULL, requested_by and created_at from s), and reports whether it
	// did either; an open stub is left as it is (false).
	OpenStub(ctx context.Context, s Stub) (bool, error)
	// FillStub sets filled_at = at on the open stub of name, if any.
	FillStub(ctx context.Context, tenantID int64, name, at string) error
}

// AuditRow is a row of the audit chain (docs/vault.md, "Audit chain"). MAC
// is nil for unkeyed rows (failed unlocks). The core computes every MAC;
// the store keeps rows as given.
type AuditRow struct {
	Seq       int64
	TS        string
	Actor     string
	Action    string
	Tenant    string
	Object    string
	Success   bool
	Detail    string
	IPAddress string // "" on rows written before migration 0006
	UserAgent string
	MAC       []byte
}

// AuditFilter selects audit rows for AuditScan. Zero fields select all.
type AuditFilter struct {
	FromSeq, ToSeq int64    // inclusive bounds on seq (0: none)
	Since          string   // ts >= Since
	Actions        []string // action in Actions
	Tenant         string
	Object         string
	// Objects: rows about any of these objects (and Object, when it is not
	// ""), in one scan: the state checks of a service read of many names.
	Objects []string
	// OrActions: also every row with one of these actions, whatever its
	// tenant and object (within the seq and time bounds), in the same
	// order. It must not share an action with Actions (a row would come
	// twice). The core asks for a name's newest put, rm or purge and the
	// newest restore in one scan.
	OrActions []string
	Desc      bool // newest first (else oldest first)
	Limit     int  // at most Limit rows (0: all)
}

// AuditTx reads and appends the audit chain. The chain is global: one
// sequence of seq 1, 2, 3, ... per vault.
type AuditTx interface {
	// AuditTail locks the chain for appending (a store with row locks
	// takes its chain-head row FOR UPDATE; a single-writer store does
	// nothing) and returns the rows from the last keyed row (MAC not nil)
	// to the end, oldest first: the last keyed row and the unkeyed rows
	// after it, or every row when none is keyed, or none for an empty
	// chain. The core computes the next seq and MAC from them. The core
	// calls it as late as it can in a transaction, so that the lock is
	// held briefly.
	AuditTail(ctx context.Context) ([]AuditRow, error)
	// AppendAudit inserts rows, whose Seq the core numbered from the tail.
	// A seq in use is ErrConflict.
	AppendAudit(ctx context.Context, rows []AuditRow) error
	// AuditScan calls fn for each row matching f, in seq order (reverse
	// with f.Desc), stopping at the first error fn returns (and returning
	// it). fn must not call the Tx. Rows stream: 300,000 rows must not be
	// held in memory at once.
	AuditScan(ctx context.Context, f AuditFilter, fn func(AuditRow) error) error
}

// AMTCert is a row of amt_certs (migration 0007): an Intel AMT provisioning
// certificate of a tenant (docs/amt.md, "Storage"). Chain is the DER
// certificates concatenated, leaf first. SealedKey is the leaf's private
// key sealed under the tenant DEK of DEKVersion with associated data
// binding tenant, name and the SHA-256 of Chain. Allowed says who may ask
// for a signature ("" any device of the tenant). MAC covers tenant, name,
// chain, root fingerprint and allowed.
type AMTCert struct {
	TenantID        int64
	Name            string
	Chain           []byte
	Subject         string
	RootFingerprint string // lowercase hex SHA-256 of the root's DER
	NotAfter        string // the chain's earliest expiry (vault time layout)
	DEKVersion      int
	SealedKey       []byte
	Allowed         string
	CreatedAt       string
	CreatedBy       string
	MAC             []byte
}

// AMTCertTx reads and writes provisioning certificates.
type AMTCertTx interface {
	// AMTCert returns the tenant's certificate name (ErrNoRow).
	AMTCert(ctx context.Context, tenantID int64, name string) (AMTCert, error)
	// AMTCerts lists the tenant's certificates by name; every tenant's
	// (by tenant ID, then name) when tenantID is 0.
	AMTCerts(ctx context.Context, tenantID int64) ([]AMTCert, error)
	// InsertAMTCert adds c (ErrConflict if the tenant has the name).
	InsertAMTCert(ctx context.Context, c AMTCert) error
	// UpdateAMTCertSeal replaces the sealed key and DEK version
	// (rotation; ErrNoRow).
	UpdateAMTCertSeal(ctx context.Context, tenantID int64, name string, dekVersion int, sealed []byte) error
	// SetAMTCertAllowed sets allowed and the MAC (ErrNoRow).
	SetAMTCertAllowed(ctx context.Context, tenantID int64, name, allowed string, mac []byte) error
	// DeleteAMTCert deletes one certificate and reports whether it did.
	DeleteAMTCert(ctx context.Context, tenantID int64, name string) (bool, error)
}

// Prefetch names the reads a read-only transaction is about to make, so
// that a store with a round trip per statement can send them at once. The
// transaction's later calls with exactly these arguments are answered
// from what was read; any other call reads as it would have.
type Prefetch struct {
	TokenID string // Token(TokenID)
	Tenant  string // Tenant(Tenant)
	// Names: with Tenant and TokenID, Grant and GrantsOf of the token's
	// service in the tenant, and Secret(…, 0) and LatestOf, of these names.
	Names []string
	// Audits: AuditScan of each filter (its first rows).
	Audits []AuditFilter
}

// Prefetcher is a Tx that can read ahead (PostgreSQL). Prefetch in a
// read-only transaction, before its other reads; a Tx may ignore it.
type Prefetcher interface {
	Prefetch(ctx context.Context, p Prefetch) error
}
