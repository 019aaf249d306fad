package vault

// Service access: service tokens, grants, access requests and stubs
// (docs/service-access.md). A token authorises a service to read the
// secrets it was granted; the master key still decrypts them. Every
// decision and every read attempt is a keyed audit row.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
)

// accessActions are the audit actions of service tokens and access requests
// (docs/vault.md).
var accessActions = []string{
	"token-create", "token-approve", "token-deny", "token-revoke",
	"access-request", "access-approve", "access-deny", "access-grant", "access-revoke",
	"stub",
}

// Sentinel errors of service access, tested with errors.Is.
var (
	// ErrAccessDenied: the token is unknown, malformed, pending, denied or
	// revoked, or the service's access to a secret was denied or revoked.
	ErrAccessDenied = errors.New("permission denied")
	// ErrAccessPending: the service asked for a secret it has no grant for
	// yet, or one that does not exist yet (a stub); an operator must act.
	ErrAccessPending = errors.New("access pending approval")
	// ErrNoRecord: no token, access request or grant with that ID or name.
	ErrNoRecord = errors.New("not found")
	// ErrDecided: the token or request is not in a state the decision
	// applies to (approving a revoked token, denying an approved request).
	ErrDecided = errors.New("already decided")
)

// TokenPrefix starts every service token. The "1" is the format version.
const TokenPrefix = "kst1_"

const (
	tokenIDBytes     = 8  // public ID: 16 hex digits
	tokenSecretBytes = 32 // 256 random bits
	tokenLen         = len(TokenPrefix) + 2*tokenIDBytes + 1 + 43
)

var serviceName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`) })

// ValidService reports whether s is a valid service name: like a tenant,
// [a-z0-9][a-z0-9_.-]*, at most 63 bytes.
func ValidService(s string) bool { return serviceName().MatchString(s) }

func checkService(s string) error {
	if !ValidService(s) {
		return fmt.Errorf("%w: service %q (want [a-z0-9][a-z0-9_.-]*, at most 63 bytes)", ErrInvalidName, s)
	}
	return nil
}

// Token states.
const (
	TokenPending  = "pending"
	TokenApproved = "approved"
	TokenDenied   = "denied"
	TokenRevoked  = "revoked"
)

// Token is a service token's record. It never holds the token.
type Token struct {
	ID             string `json:"id"`
	Service        string `json:"service"`
	ServiceVersion string `json:"service_version"`
	Status         string `json:"status"`
	CreatedAt      string `json:"created_at"`
	CreatedBy      string `json:"created_by"`
	DecidedAt      string `json:"decided_at,omitempty"`
	DecidedBy      string `json:"decided_by,omitempty"`
	LastUsed       string `json:"last_used,omitempty"`
	UseCount       int    `json:"use_count"`
}

// ParseToken checks a token's form and returns its public ID:
// "kst1_" || 16 lowercase hex digits || "_" || base64url(32 bytes), no
// padding. It says nothing about whether the token is valid.
func ParseToken(tok string) (id string, err error) {
	rest, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok || len(tok) != tokenLen {
		return "", fmt.Errorf("%w: not a keysmith service token (want %s...)", ErrAccessDenied, TokenPrefix)
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 2*tokenIDBytes || strings.ToLower(id) != id {
		return "", fmt.Errorf("%w: malformed service token", ErrAccessDenied)
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", fmt.Errorf("%w: malformed service token", ErrAccessDenied)
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil || len(b) != tokenSecretBytes {
		return "", fmt.Errorf("%w: malformed service token", ErrAccessDenied)
	}
	return id, nil
}

func tokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// CreateToken makes a pending token for service and returns it: the only
// time the token exists outside the service. Only its SHA-256 is stored.
func (v *Vault) CreateToken(service, serviceVersion string) (string, *Token, error) {
	if err := v.mustUnlocked(); err != nil {
		return "", nil, err
	}
	if err := checkService(service); err != nil {
		return "", nil, err
	}
	if len(serviceVersion) > 64 || strings.ContainsFunc(serviceVersion, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", nil, fmt.Errorf("%w: service version %q (at most 64 printable bytes)", ErrInvalidName, serviceVersion)
	}
	raw := make([]byte, tokenIDBytes+tokenSecretBytes)
	defer clear(raw)
	if _, err := io.ReadFull(v.opts.Rand, raw); err != nil {
		return "", nil, err
	}
	id := hex.EncodeToString(raw[:tokenIDBytes])
	tok := TokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(raw[tokenIDBytes:])
	t := &Token{ID: id, Service: service, ServiceVersion: serviceVersion, Status: TokenPending, CreatedAt: v.timestamp(), CreatedBy: v.opts.Actor}
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		if _, err := tx.Exec(`INSERT INTO service_tokens (id, service, service_version, hash, status, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Service, t.ServiceVersion, tokenHash(tok), t.Status, t.CreatedAt, t.CreatedBy); err != nil {
			return err
		}
		if err := v.sealRow(tx, macTokens, t.ID); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "token-create", Object: id, Success: true, Detail: svcDetail(service, "version "+orNone(serviceVersion)+", pending")})
	})
	if err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

const tokenCols = "id, service, service_version, status, created_at, created_by, coalesce(decided_at, ''), coalesce(decided_by, ''), coalesce(last_used, ''), use_count"

func scanToken(sc interface{ Scan(...any) error }, extra ...any) (*Token, error) {
	t := &Token{}
	err := sc.Scan(append([]any{&t.ID, &t.Service, &t.ServiceVersion, &t.Status, &t.CreatedAt, &t.CreatedBy, &t.DecidedAt, &t.DecidedBy, &t.LastUsed, &t.UseCount}, extra...)...)
	return t, err
}

// Tokens lists the service tokens, by service and creation time. It needs
// no key.
func (v *Vault) Tokens() ([]Token, error) {
	rows, err := v.db.Query("SELECT " + tokenCols + " FROM service_tokens ORDER BY service, created_at, id")
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, *t)
	}
	return out, dbErr(rows.Err())
}

// ApproveToken lets a pending (or denied) token be used.
func (v *Vault) ApproveToken(id string) (*Token, error) {
	return v.decideToken(id, "token-approve", TokenApproved, TokenPending, TokenDenied)
}

// DenyToken refuses a pending token.
func (v *Vault) DenyToken(id string) (*Token, error) {
	return v.decideToken(id, "token-deny", TokenDenied, TokenPending)
}

// RevokeToken ends a token for good, whatever its state.
func (v *Vault) RevokeToken(id string) (*Token, error) {
	return v.decideToken(id, "token-revoke", TokenRevoked, TokenPending, TokenApproved, TokenDenied)
}

func (v *Vault) decideToken(id, action, to string, from ...string) (*Token, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var t *Token
	var refused error
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow("SELECT "+tokenCols+" FROM service_tokens WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			t = nil
			refused = fmt.Errorf("service token %q: %w", id, ErrNoRecord)
			return v.appendAudit(tx, auditRow{Action: action, Object: id, Success: false, Detail: "no such token"})
		} else if err != nil {
			return err
		}
		if err := v.checkRow(tx, macTokens, id); err != nil {
			return err
		}
		if !contains(from, t.Status) {
			refused = fmt.Errorf("service token %s of service %s is %s: %w", id, t.Service, t.Status, ErrDecided)
			return v.appendAudit(tx, auditRow{Action: action, Object: id, Success: false, Detail: svcDetail(t.Service, "token is "+t.Status)})
		}
		now := v.timestamp()
		if _, err := tx.Exec("UPDATE service_tokens SET status = ?, decided_at = ?, decided_by = ? WHERE id = ?", to, now, v.opts.Actor, id); err != nil {
			return err
		}
		if err := v.sealRow(tx, macTokens, id); err != nil {
			return err
		}
		old := t.Status
		t.Status, t.DecidedAt, t.DecidedBy = to, now, v.opts.Actor
		return v.appendAudit(tx, auditRow{Action: action, Object: id, Success: true, Detail: svcDetail(t.Service, old+" -> "+to)})
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return t, refused
	}
	return t, nil
}

// dummyHash is compared against when a token's ID is unknown, so that the
// path through authenticate does the same work either way.
var dummyHash = tokenHash(TokenPrefix + strings.Repeat("0", 2*tokenIDBytes) + "_" + strings.Repeat("A", 43))

// authenticate finds tok's record by its public ID and compares SHA-256
// hashes in constant time. It returns the record (nil if the token is
// malformed or unknown) and, if the token may not be used, why not. A
// token whose hash matches has its use recorded, whatever its state.
func (v *Vault) authenticate(tx *sql.Tx, tok string) (*Token, string, error) {
	id, err := ParseToken(tok)
	if err != nil {
		return nil, "malformed token", nil
	}
	var stored []byte
	t, err := scanToken(tx.QueryRow("SELECT "+tokenCols+", hash FROM service_tokens WHERE id = ?", id), &stored)
	if errors.Is(err, sql.ErrNoRows) {
		subtle.ConstantTimeCompare(tokenHash(tok), dummyHash)
		return nil, "unknown token " + id, nil
	} else if err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare(tokenHash(tok), stored) != 1 {
		return nil, "unknown token " + id, nil
	}
	// The hash and the status decide: both must authenticate.
	if err := v.checkRow(tx, macTokens, id); err != nil {
		return nil, "", err
	}
	now := v.timestamp()
	if _, err := tx.Exec("UPDATE service_tokens SET last_used = ?, use_count = use_count + 1 WHERE id = ?", now, id); err != nil {
		return nil, "", err
	}
	t.LastUsed, t.UseCount = now, t.UseCount+1
	if t.Status != TokenApproved {
		return t, "token " + id + " is " + t.Status, nil
	}
	return t, "", nil
}

// Grant states.
const (
	GrantActive  = "active"
	GrantRevoked = "revoked"
	GrantDenied  = "denied"
)

// Grant is what a service may read.
type Grant struct {
	Tenant      string `json:"tenant"`
	Service     string `json:"service"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	DecidedAt   string `json:"decided_at"`
	DecidedBy   string `json:"decided_by"`
	AccessCount int    `json:"access_count"`
	LastAccess  string `json:"last_access,omitempty"`
}

// Request states.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
)

// AccessRequest is a service asking to read a secret.
type AccessRequest struct {
	ID          int64  `json:"id"`
	Tenant      string `json:"tenant"`
	Service     string `json:"service"`
	Name        string `json:"name"`
	Status      string `json:"status"`
	RequestedBy string `json:"requested_by"`
	RequestedAt string `json:"requested_at"`
	Origin      string `json:"origin"` // "read" or "schema"
	DecidedAt   string `json:"decided_at,omitempty"`
	DecidedBy   string `json:"decided_by,omitempty"`
}

// Stub is a secret that was asked for and has no value yet.
type Stub struct {
	Tenant      string   `json:"tenant"`
	Name        string   `json:"name"`
	RequestedBy string   `json:"requested_by"`
	Description string   `json:"description"`
	CreatedAt   string   `json:"created_at"`
	AskedBy     []string `json:"asked_by"` // every service with a request for it
}

// AccessRequests lists the requests of a tenant, oldest first; only the
// pending ones with pendingOnly. It needs no key.
func (v *Vault) AccessRequests(tenantName string, pendingOnly bool) ([]AccessRequest, error) {
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	q := "SELECT " + requestCols + " FROM access_requests WHERE tenant_id = ?"
	if pendingOnly {
		q += " AND status = 'pending'"
	}
	rows, err := v.db.Query(q+" ORDER BY id", t.id)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []AccessRequest{}
	for rows.Next() {
		r, err := scanRequest(rows, t.name)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, *r)
	}
	return out, dbErr(rows.Err())
}

const requestCols = "id, service, name, status, requested_by, requested_at, origin, coalesce(decided_at, ''), coalesce(decided_by, '')"

func scanRequest(sc interface{ Scan(...any) error }, tenantName string, extra ...any) (*AccessRequest, error) {
	r := &AccessRequest{Tenant: tenantName}
	err := sc.Scan(append([]any{&r.ID, &r.Service, &r.Name, &r.Status, &r.RequestedBy, &r.RequestedAt, &r.Origin, &r.DecidedAt, &r.DecidedBy}, extra...)...)
	return r, err
}

// Grants lists the grants of a tenant (active, revoked and denied) with
// their counters. It needs no key.
func (v *Vault) Grants(tenantName string) ([]Grant, error) {
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	rows, err := v.db.Query(`SELECT service, name, status, decided_at, decided_by, access_count, coalesce(last_access, '')
		FROM grants WHERE tenant_id = ? ORDER BY service, name`, t.id)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []Grant{}
	for rows.Next() {
		g := Grant{Tenant: t.name}
		if err := rows.Scan(&g.Service, &g.Name, &g.Status, &g.DecidedAt, &g.DecidedBy, &g.AccessCount, &g.LastAccess); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, g)
	}
	return out, dbErr(rows.Err())
}

// Stubs lists the tenant's stubs that have no value yet, by name, with the
// services that asked for each. It needs no key.
func (v *Vault) Stubs(tenantName string) ([]Stub, error) {
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	rows, err := v.db.Query(`SELECT s.name, s.requested_by, s.description, s.created_at,
			coalesce((SELECT group_concat(service, ',') FROM (SELECT DISTINCT service FROM access_requests r
				WHERE r.tenant_id = s.tenant_id AND r.name = s.name ORDER BY service)), '')
		FROM stubs s WHERE s.tenant_id = ? AND s.filled_at IS NULL ORDER BY s.name`, t.id)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []Stub{}
	for rows.Next() {
		s := Stub{Tenant: t.name}
		var asked string
		if err := rows.Scan(&s.Name, &s.RequestedBy, &s.Description, &s.CreatedAt, &asked); err != nil {
			return nil, dbErr(err)
		}
		s.AskedBy = []string{}
		if asked != "" {
			s.AskedBy = strings.Split(asked, ",")
		}
		out = append(out, s)
	}
	return out, dbErr(rows.Err())
}

// fillStub marks the stub of name filled: called by PutMany in the put's
// transaction.
func (v *Vault) fillStub(q querier, tenantID int64, name string) error {
	_, err := q.Exec("UPDATE stubs SET filled_at = ? WHERE tenant_id = ? AND name = ? AND filled_at IS NULL", v.timestamp(), tenantID, name)
	return err
}

// ApproveRequest approves a pending request and grants the service the
// secret.
func (v *Vault) ApproveRequest(id int64) (*AccessRequest, error) {
	return v.decideRequest(id, "access-approve", RequestApproved, GrantActive)
}

// DenyRequest denies a pending request: the service's reads of that
// secret fail with ErrAccessDenied until an operator grants it.
func (v *Vault) DenyRequest(id int64) (*AccessRequest, error) {
	return v.decideRequest(id, "access-deny", RequestDenied, GrantDenied)
}

func (v *Vault) decideRequest(id int64, action, to, grant string) (*AccessRequest, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var r *AccessRequest
	var refused error
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		var tenantID int64
		var err error
		r, err = scanRequest(tx.QueryRow("SELECT "+requestCols+", tenant_id FROM access_requests WHERE id = ?", id), "", &tenantID)
		if errors.Is(err, sql.ErrNoRows) {
			r = nil
			refused = fmt.Errorf("access request %d: %w", id, ErrNoRecord)
			return v.appendAudit(tx, auditRow{Action: action, Object: fmt.Sprintf("request %d", id), Success: false, Detail: "no such request"})
		} else if err != nil {
			return err
		}
		if err := tx.QueryRow("SELECT name FROM tenants WHERE id = ?", tenantID).Scan(&r.Tenant); err != nil {
			return err
		}
		// The request's service and name become a grant: they must be the
		// ones a service (or an operator) asked for.
		if err := v.checkRow(tx, macRequests, id); err != nil {
			return err
		}
		if r.Status != RequestPending {
			refused = fmt.Errorf("access request %d (%s for %s) is %s: %w", id, r.Service, r.Name, r.Status, ErrDecided)
			return v.appendAudit(tx, auditRow{Action: action, Tenant: r.Tenant, Object: r.Name, Success: false,
				Detail: svcDetail(r.Service, fmt.Sprintf("request %d is %s", id, r.Status))})
		}
		now := v.timestamp()
		if _, err := tx.Exec("UPDATE access_requests SET status = ?, decided_at = ?, decided_by = ? WHERE id = ?", to, now, v.opts.Actor, id); err != nil {
			return err
		}
		if err := v.sealRow(tx, macRequests, id); err != nil {
			return err
		}
		r.Status, r.DecidedAt, r.DecidedBy = to, now, v.opts.Actor
		if err := v.setGrant(tx, tenantID, r.Service, r.Name, grant); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: action, Tenant: r.Tenant, Object: r.Name, Success: true,
			Detail: svcDetail(r.Service, fmt.Sprintf("request %d, grant %s", id, grant))})
	})
	if err != nil {
		return nil, err
	}
	return r, refused
}

// setGrant creates or updates the grant of (tenant, service, name),
// keeping its counters, and seals it: the operator's decision sets every
// field the MAC covers.
func (v *Vault) setGrant(tx *sql.Tx, tenantID int64, service, name, status string) error {
	_, err := tx.Exec(`INSERT INTO grants (tenant_id, service, name, status, decided_at, decided_by) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, service, name) DO UPDATE SET status = excluded.status, decided_at = excluded.decided_at, decided_by = excluded.decided_by`,
		tenantID, service, name, status, v.timestamp(), v.opts.Actor)
	if err != nil {
		return err
	}
	return v.sealRow(tx, macGrants, tenantID, service, name)
}

// checkedGrantStatus is grantStatus for a decision: the grant row, if
// any, must authenticate.
func (v *Vault) checkedGrantStatus(tx *sql.Tx, tenantID int64, service, name string) (string, error) {
	if err := v.checkRow(tx, macGrants, tenantID, service, name); err != nil {
		return "", err
	}
	return grantStatus(tx, tenantID, service, name)
}

// grantStatus reads a grant's status without authenticating it: for
// key-less views only (CheckAccess).
func grantStatus(q querier, tenantID int64, service, name string) (string, error) {
	var s string
	err := q.QueryRow("SELECT status FROM grants WHERE tenant_id = ? AND service = ? AND name = ?", tenantID, service, name).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return s, err
}

// GrantAccess lets service read name in the tenant, approving its pending
// request if there is one. The secret need not exist yet. It returns the
// ID of the request it approved, or 0.
func (v *Vault) GrantAccess(tenantName, service, name string) (int64, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	if err := checkService(service); err != nil {
		return 0, err
	}
	if !ValidName(name) {
		return 0, fmt.Errorf("%w: secret %q", ErrInvalidName, name)
	}
	var approved int64
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		err = tx.QueryRow("SELECT id FROM access_requests WHERE tenant_id = ? AND service = ? AND name = ? AND status = 'pending'", t.id, service, name).Scan(&approved)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		detail := "grant active"
		if approved != 0 {
			if _, err := tx.Exec("UPDATE access_requests SET status = 'approved', decided_at = ?, decided_by = ? WHERE id = ?", v.timestamp(), v.opts.Actor, approved); err != nil {
				return err
			}
			if err := v.sealRow(tx, macRequests, approved); err != nil {
				return err
			}
			detail += fmt.Sprintf(", request %d approved", approved)
		}
		if err := v.setGrant(tx, t.id, service, name, GrantActive); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "access-grant", Tenant: t.name, Object: name, Success: true, Detail: svcDetail(service, detail)})
	})
	if err != nil {
		return 0, err
	}
	return approved, nil
}

// RevokeAccess ends service's active grant of name in the tenant: its
// reads of name fail with ErrAccessDenied until an operator grants it
// again.
func (v *Vault) RevokeAccess(tenantName, service, name string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	var refused error
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		res, err := tx.Exec("UPDATE grants SET status = 'revoked', decided_at = ?, decided_by = ? WHERE tenant_id = ? AND service = ? AND name = ? AND status = 'active'",
			v.timestamp(), v.opts.Actor, t.id, service, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			refused = fmt.Errorf("service %s has no active grant for %q in tenant %s: %w", service, name, t.name, ErrNoRecord)
			return v.appendAudit(tx, auditRow{Action: "access-revoke", Tenant: t.name, Object: name, Success: false, Detail: svcDetail(service, "no active grant")})
		}
		if err := v.sealRow(tx, macGrants, t.id, service, name); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "access-revoke", Tenant: t.name, Object: name, Success: true, Detail: svcDetail(service, "grant revoked")})
	})
	if err != nil {
		return err
	}
	return refused
}

// AccessProblem is one secret a service may not read yet, and why.
type AccessProblem struct {
	Name    string `json:"name"`
	Reason  string `json:"reason"`  // "missing", "missing: granted, no value yet", "not granted", "denied", "revoked"
	Request int64  `json:"request"` // the pending request, if any
	Denied  bool   `json:"denied"`  // true: refused; false: waiting for an operator
}

func (p AccessProblem) String() string {
	s := p.Name + " (" + p.Reason
	if p.Request != 0 {
		s += fmt.Sprintf(", request %d pending", p.Request)
	}
	return s + ")"
}

// AccessError lists every secret a service may not read. It unwraps to
// ErrAccessDenied if any was refused, else to ErrAccessPending.
type AccessError struct {
	Service  string
	Tenant   string
	Problems []AccessProblem
}

func (e *AccessError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	what := "access pending approval"
	if e.denied() {
		what = "permission denied"
	}
	return fmt.Sprintf("%s: service %s may not read %s in tenant %s: %s", what, e.Service, plural(len(e.Problems), "secret"), e.Tenant, strings.Join(parts, ", "))
}

func (e *AccessError) denied() bool {
	for _, p := range e.Problems {
		if p.Denied {
			return true
		}
	}
	return false
}

func (e *AccessError) Unwrap() error {
	if e.denied() {
		return ErrAccessDenied
	}
	return ErrAccessPending
}

// TokenError is a token that may not be used.
type TokenError struct {
	ID      string // public ID, if the token was well formed
	Service string // if the token is known
	Status  string // if the token is known: pending, denied or revoked
	Reason  string
}

func (e *TokenError) Error() string {
	if e.Service != "" {
		return fmt.Sprintf("permission denied: %s (service %s)", e.Reason, e.Service)
	}
	return "permission denied: " + e.Reason
}

func (e *TokenError) Unwrap() error { return ErrAccessDenied }

func plural(n int, s string) string {
	if n == 1 {
		return "1 " + s
	}
	return fmt.Sprintf("%d %ss", n, s)
}

// ServiceGet reads name as the service holding tok: the latest version,
// or version when it is not 0. See ServiceGetMany.
func (v *Vault) ServiceGet(tok, tenantName, name string, version int) (*Secret, error) {
	out, err := v.serviceRead(tok, tenantName, []string{name}, version)
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// ServiceGetMany reads the latest version of every name as the service
// holding tok, all or none:
//
//   - a token that is malformed, unknown, pending, denied or revoked fails
//     with a *TokenError (ErrAccessDenied);
//   - a name the service was denied or whose grant was revoked fails with
//     ErrAccessDenied;
//   - a name that does not exist gets a stub and, without a grant, an
//     access request; a name that exists without a grant gets one pending
//     request (never two): both fail with ErrAccessPending;
//   - when every name is granted and exists, the values are returned and
//     each grant's access count and last access are updated.
//
// Problems are reported together in an *AccessError. Every attempt is
// audited (action "get", actor the service), with stubs and requests, in
// the same transaction.
func (v *Vault) ServiceGetMany(tok, tenantName string, names []string) ([]Secret, error) {
	return v.serviceRead(tok, tenantName, names, 0)
}

func (v *Vault) serviceRead(tok, tenantName string, names []string, version int) ([]Secret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if !ValidName(n) {
			return nil, fmt.Errorf("%w: secret %q (letters, digits and _.:/@+-, at most 255 bytes)", ErrInvalidName, n)
		}
	}
	var out []Secret
	var refused error
	user := v.opts.Actor
	defer func() { v.opts.Actor = user }()
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		out, refused = nil, nil
		v.opts.Actor = user
		a := v.auditor(tx)
		defer a.close()
		tk, why, err := v.authenticate(tx, tok)
		if err != nil {
			return err
		}
		if why != "" {
			te := &TokenError{Reason: why}
			v.opts.Actor = "unknown"
			if tk != nil {
				te.ID, te.Service, te.Status = tk.ID, tk.Service, tk.Status
				v.opts.Actor = tk.Service
			}
			refused = te
			for _, n := range names {
				if err := a.append(auditRow{Action: "get", Tenant: tenantName, Object: n, Success: false,
					Detail: svcDetail(te.Service, "user "+user+": "+why)}); err != nil {
					return err
				}
			}
			return nil
		}
		svc := tk.Service
		v.opts.Actor = svc
		detail := func(s string) string { return svcDetail(svc, "token "+tk.ID+", user "+user+": "+s) }
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			refused = err
			for _, n := range names {
				if err := a.append(auditRow{Action: "get", Tenant: tenantName, Object: n, Success: false, Detail: detail("no such tenant")}); err != nil {
					return err
				}
			}
			return nil
		}
		type found struct {
			si     SecretInfo
			sealed []byte
		}
		var ok []found
		var problems []AccessProblem
		for _, n := range names {
			g, err := v.checkedGrantStatus(tx, t.id, svc, n)
			if err != nil {
				return err
			}
			si, sealed, err := secretRow(tx, t, n, version)
			exists := err == nil && (version > 0 || si.DeletedAt == "")
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			p := AccessProblem{Name: n}
			switch {
			case g == GrantDenied || g == GrantRevoked:
				p.Reason, p.Denied = g, true
			case !exists && version > 0:
				// An old version that is not there is not a secret to stub.
				refused = fmt.Errorf("%w: %q version %d in tenant %s", ErrNotFound, n, version, t.name)
				if err := a.append(auditRow{Action: "get", Tenant: t.name, Object: n, Success: false, Detail: detail("not found")}); err != nil {
					return err
				}
				return nil
			case !exists:
				p.Reason = "missing"
				if err := v.ensureStub(tx, a, t, n, svc, "", detail("asked for a missing secret")); err != nil {
					return err
				}
				if g != GrantActive {
					if p.Request, err = v.ensureRequest(tx, a, t, svc, n, svc, "read"); err != nil {
						return err
					}
				} else {
					p.Reason = "missing: granted, no value yet"
				}
			case g != GrantActive:
				p.Reason = "not granted"
				if p.Request, err = v.ensureRequest(tx, a, t, svc, n, svc, "read"); err != nil {
					return err
				}
			default:
				ok = append(ok, found{si, sealed})
				continue
			}
			problems = append(problems, p)
			if err := a.append(auditRow{Action: "get", Tenant: t.name, Object: n, Success: false, Detail: detail(p.String())}); err != nil {
				return err
			}
		}
		if len(problems) > 0 {
			for _, f := range ok {
				if err := a.append(auditRow{Action: "get", Tenant: t.name, Object: f.si.Name, Success: false, Detail: detail("granted, not read: other secrets are not available")}); err != nil {
					return err
				}
			}
			refused = &AccessError{Service: svc, Tenant: t.name, Problems: problems}
			return nil
		}
		for _, f := range ok {
			dek, err := v.dek(tx, t.id, f.si.DEKVersion)
			if err != nil {
				return err
			}
			pt, err := openValue(dek, t.id, f.si.Name, f.si.Version, f.si.DEKVersion, f.sealed)
			if err != nil {
				return err
			}
			out = append(out, Secret{SecretInfo: f.si, Value: pt})
			if _, err := tx.Exec("UPDATE grants SET access_count = access_count + 1, last_access = ? WHERE tenant_id = ? AND service = ? AND name = ?",
				v.timestamp(), t.id, svc, f.si.Name); err != nil {
				return err
			}
			if err := a.append(auditRow{Action: "get", Tenant: t.name, Object: f.si.Name, Success: true, Detail: detail(fmt.Sprintf("granted, version %d", f.si.Version))}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for _, s := range out {
			clear(s.Value)
		}
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return out, nil
}

// ensureStub records a stub for a missing secret (or reopens a filled one
// whose secret was removed since), auditing it when it is new.
func (v *Vault) ensureStub(tx *sql.Tx, a *auditor, t *tenant, name, requestedBy, description, detail string) error {
	res, err := tx.Exec(`INSERT INTO stubs (tenant_id, name, requested_by, description, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, name) DO UPDATE SET filled_at = NULL, requested_by = excluded.requested_by, created_at = excluded.created_at
		WHERE filled_at IS NOT NULL`, t.id, name, requestedBy, description, v.timestamp())
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	return a.append(auditRow{Action: "stub", Tenant: t.name, Object: name, Success: true, Detail: detail})
}

// ensureRequest makes sure service has a pending request for name and
// returns its ID, auditing it when it is new. The partial unique index
// makes a second pending request impossible, even from another process.
func (v *Vault) ensureRequest(tx *sql.Tx, a *auditor, t *tenant, service, name, requestedBy, origin string) (int64, error) {
	res, err := tx.Exec(`INSERT OR IGNORE INTO access_requests (tenant_id, service, name, status, requested_by, requested_at, origin)
		VALUES (?, ?, ?, 'pending', ?, ?, ?)`, t.id, service, name, requestedBy, v.timestamp(), origin)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	var id int64
	if err := tx.QueryRow("SELECT id FROM access_requests WHERE tenant_id = ? AND service = ? AND name = ? AND status = 'pending'", t.id, service, name).Scan(&id); err != nil {
		return 0, err
	}
	if n == 0 {
		return id, nil
	}
	if err := v.sealRow(tx, macRequests, id); err != nil {
		return 0, err
	}
	return id, a.append(auditRow{Action: "access-request", Tenant: t.name, Object: name, Success: true, Detail: svcDetail(service, fmt.Sprintf("request %d (%s)", id, origin))})
}

// Declared is a secret a service declares it needs (secrets.schema.json).
type Declared struct {
	Name        string
	Description string
}

// DeclareResult says what DeclareAccess did for each declared secret.
type DeclareResult struct {
	Stubbed   []string `json:"stubbed"`   // stubs created
	Requested []string `json:"requested"` // new pending requests
	Pending   []string `json:"pending"`   // requests that were already pending
	Granted   []string `json:"granted"`   // already granted: nothing to do
	Denied    []string `json:"denied"`    // denied or revoked: left alone
}

// DeclareAccess records what service declares it needs, as an operator
// ("schema apply"): a stub for every secret that does not exist, and an
// access request for every secret the service has no grant for. Denied and
// revoked grants are left alone. One transaction, audited.
func (v *Vault) DeclareAccess(tenantName, service string, decls []Declared) (*DeclareResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if err := checkService(service); err != nil {
		return nil, err
	}
	for _, d := range decls {
		if !ValidName(d.Name) {
			return nil, fmt.Errorf("%w: secret %q (letters, digits and _.:/@+-, at most 255 bytes)", ErrInvalidName, d.Name)
		}
	}
	res := &DeclareResult{Stubbed: []string{}, Requested: []string{}, Pending: []string{}, Granted: []string{}, Denied: []string{}}
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		*res = DeclareResult{Stubbed: []string{}, Requested: []string{}, Pending: []string{}, Granted: []string{}, Denied: []string{}}
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		a := v.auditor(tx)
		defer a.close()
		for _, d := range decls {
			exists, err := liveSecret(tx, t.id, d.Name)
			if err != nil {
				return err
			}
			if !exists {
				var had int
				if err := tx.QueryRow("SELECT count(*) FROM stubs WHERE tenant_id = ? AND name = ? AND filled_at IS NULL", t.id, d.Name).Scan(&had); err != nil {
					return err
				}
				if err := v.ensureStub(tx, a, t, d.Name, service, d.Description, svcDetail(service, "declared in a schema")); err != nil {
					return err
				}
				if had == 0 {
					res.Stubbed = append(res.Stubbed, d.Name)
				}
			}
			g, err := v.checkedGrantStatus(tx, t.id, service, d.Name)
			if err != nil {
				return err
			}
			switch g {
			case GrantActive:
				res.Granted = append(res.Granted, d.Name)
				continue
			case GrantDenied, GrantRevoked:
				res.Denied = append(res.Denied, d.Name)
				continue
			}
			var pending int
			if err := tx.QueryRow("SELECT count(*) FROM access_requests WHERE tenant_id = ? AND service = ? AND name = ? AND status = 'pending'", t.id, service, d.Name).Scan(&pending); err != nil {
				return err
			}
			if _, err := v.ensureRequest(tx, a, t, service, d.Name, v.opts.Actor, "schema"); err != nil {
				return err
			}
			if pending > 0 {
				res.Pending = append(res.Pending, d.Name)
			} else {
				res.Requested = append(res.Requested, d.Name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func liveSecret(q querier, tenantID int64, name string) (bool, error) {
	var deleted sql.NullString
	err := q.QueryRow("SELECT deleted_at FROM secrets WHERE tenant_id = ? AND name = ? ORDER BY version DESC LIMIT 1", tenantID, name).Scan(&deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && !deleted.Valid, err
}

// CheckAccess reports, without changing anything, every name that service
// could not read now: missing (no live secret), not granted, denied or
// revoked. It needs no key and writes no audit row: it reads no secret.
func (v *Vault) CheckAccess(tenantName, service string, names []string) ([]AccessProblem, error) {
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	out := []AccessProblem{}
	for _, n := range names {
		exists, err := liveSecret(v.db, t.id, n)
		if err != nil {
			return nil, dbErr(err)
		}
		g, err := grantStatus(v.db, t.id, service, n)
		if err != nil {
			return nil, dbErr(err)
		}
		var reasons []string
		p := AccessProblem{Name: n}
		if !exists {
			reasons = append(reasons, "missing")
		}
		switch g {
		case GrantActive:
		case GrantDenied, GrantRevoked:
			reasons = append(reasons, g)
			p.Denied = true
		default:
			reasons = append(reasons, "not granted")
			err := v.db.QueryRow("SELECT id FROM access_requests WHERE tenant_id = ? AND service = ? AND name = ? AND status = 'pending'", t.id, service, n).Scan(&p.Request)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, dbErr(err)
			}
		}
		if len(reasons) > 0 {
			p.Reason = strings.Join(reasons, ", ")
			out = append(out, p)
		}
	}
	return out, nil
}

// ServiceTokenProblem says why service could not authenticate now: "" when
// it has an approved token, else "no approved token", followed by the
// states of the tokens it does have ("no approved token (1 revoked, 1
// pending)"). Without an approved token a service reads nothing, whatever
// it was granted. It needs no key and writes no audit row.
func (v *Vault) ServiceTokenProblem(service string) (string, error) {
	rows, err := v.db.Query("SELECT status, count(*) FROM service_tokens WHERE service = ? GROUP BY status ORDER BY status", service)
	if err != nil {
		return "", dbErr(err)
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return "", dbErr(err)
		}
		if status == TokenApproved {
			return "", nil
		}
		have = append(have, fmt.Sprintf("%d %s", n, status))
	}
	if err := rows.Err(); err != nil {
		return "", dbErr(err)
	}
	if len(have) == 0 {
		return "no approved token (none created)", nil
	}
	return "no approved token (" + strings.Join(have, ", ") + ")", nil
}

// svcDetail starts the detail of every service-access audit row:
// "service NAME: rest". AuditRecord.ServiceName reads it back.
func svcDetail(service, rest string) string {
	if service == "" {
		service = "unknown"
	}
	return "service " + service + ": " + rest
}

// ServiceName returns the service an audit row is about: for the
// service-access actions and service reads, the NAME of the detail's
// "service NAME:" prefix; otherwise "".
func (r AuditRecord) ServiceName() string {
	rest, ok := strings.CutPrefix(r.Detail, "service ")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return name
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
