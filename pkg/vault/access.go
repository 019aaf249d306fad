package vault

// Service access: service tokens, grants, access requests and stubs
// (docs/service-access.md). A token authorises a service to read the
// secrets it was granted; the master key still decrypts them. Every
// decision and every read attempt is a keyed audit row.

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
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
	ErrAccessDenied = vaulterr.ErrAccessDenied
	// ErrAccessPending: the service asked for a secret it has no grant for
	// yet, or one that does not exist yet (a stub); an operator must act.
	ErrAccessPending = vaulterr.ErrAccessPending
	// ErrNoRecord: no token, access request or grant with that ID or name.
	ErrNoRecord = vaulterr.ErrNoRecord
	// ErrDecided: the token or request is not in a state the decision
	// applies to (approving a revoked token, denying an approved request).
	ErrDecided = vaulterr.ErrDecided
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

func tokenInfo(t store.Token) *Token {
	return &Token{ID: t.ID, Service: t.Service, ServiceVersion: t.ServiceVersion, Status: t.Status, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy,
		DecidedAt: t.DecidedAt, DecidedBy: t.DecidedBy, LastUsed: t.LastUsed, UseCount: t.UseCount}
}

// CreateToken makes a pending token for service and returns it: the only
// time the token exists outside the service. Only its SHA-256 is stored.
func (v *Vault) CreateToken(ctx context.Context, service, serviceVersion string) (string, *Token, error) {
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
	var out *Token
	err := v.update(ctx, func(o *op) error {
		t := store.Token{ID: id, Service: service, ServiceVersion: serviceVersion, Hash: keyring.TokenHash(tok), Status: TokenPending,
			CreatedAt: o.ts(), CreatedBy: o.caller.Actor}
		t.MAC = o.keys.MAC(keyring.TokenRow(t))
		if err := o.tx.InsertToken(o.ctx, t); err != nil {
			return err
		}
		out = tokenInfo(t)
		o.audit(auditRow{Action: "token-create", Object: id, Success: true, Detail: svcDetail(service, "version "+orNone(serviceVersion)+", pending")})
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return tok, out, nil
}

// Tokens lists the service tokens, by service and creation time. It needs
// no key.
func (v *Vault) Tokens(ctx context.Context) ([]Token, error) {
	out := []Token{}
	err := v.view(ctx, func(o *op) error {
		ts, err := o.tx.Tokens(o.ctx)
		out = out[:0]
		for _, t := range ts {
			out = append(out, *tokenInfo(t))
		}
		return err
	})
	return out, err
}

// ApproveToken lets a pending (or denied) token be used.
func (v *Vault) ApproveToken(ctx context.Context, id string) (*Token, error) {
	return v.decideToken(ctx, id, "token-approve", TokenApproved, TokenPending, TokenDenied)
}

// DenyToken refuses a pending token.
func (v *Vault) DenyToken(ctx context.Context, id string) (*Token, error) {
	return v.decideToken(ctx, id, "token-deny", TokenDenied, TokenPending)
}

// RevokeToken ends a token for good, whatever its state.
func (v *Vault) RevokeToken(ctx context.Context, id string) (*Token, error) {
	return v.decideToken(ctx, id, "token-revoke", TokenRevoked, TokenPending, TokenApproved, TokenDenied)
}

func (v *Vault) decideToken(ctx context.Context, id, action, to string, from ...string) (*Token, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *Token
	var refused error
	err := v.update(ctx, func(o *op) error {
		out, refused = nil, nil
		t, err := o.tx.Token(o.ctx, id)
		if errors.Is(err, store.ErrNoRow) {
			refused = fmt.Errorf("service token %q: %w", id, ErrNoRecord)
			o.audit(auditRow{Action: action, Object: id, Success: false, Detail: "no such token"})
			return nil
		} else if err != nil {
			return err
		}
		if err := o.check(keyring.TokenRow(t)); err != nil {
			return err
		}
		if err := o.checkTokenState(t); err != nil {
			return err
		}
		out = tokenInfo(t)
		if !slices.Contains(from, t.Status) {
			refused = fmt.Errorf("service token %s of service %s is %s: %w", id, t.Service, t.Status, ErrDecided)
			o.audit(auditRow{Action: action, Object: id, Success: false, Detail: svcDetail(t.Service, "token is "+t.Status)})
			return nil
		}
		old := t.Status
		t.Status, t.DecidedAt, t.DecidedBy = to, o.ts(), o.caller.Actor
		if err := o.tx.DecideToken(o.ctx, id, t.Status, t.DecidedAt, t.DecidedBy, o.keys.MAC(keyring.TokenRow(t))); err != nil {
			return err
		}
		out = tokenInfo(t)
		o.audit(auditRow{Action: action, Object: id, Success: true, Detail: svcDetail(t.Service, old+" -> "+to)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, refused
}

// dummyHash is compared against when a token's ID is unknown, so that the
// path through authenticate does the same work either way.
var dummyHash = sync.OnceValue(func() []byte {
	return keyring.TokenHash(TokenPrefix + strings.Repeat("0", 2*tokenIDBytes) + "_" + strings.Repeat("A", 43))
})

// authenticate finds tok's record by its public ID and compares SHA-256
// hashes in constant time. It returns the record (nil if the token is
// malformed or unknown) and, if the token may not be used, why not. A
// token whose hash matches has its use recorded, whatever its state.
func (o *op) authenticate(tok string) (*Token, string, error) {
	id, err := ParseToken(tok)
	if err != nil {
		return nil, "malformed token", nil
	}
	t, err := o.tx.Token(o.ctx, id)
	if errors.Is(err, store.ErrNoRow) {
		subtle.ConstantTimeCompare(keyring.TokenHash(tok), dummyHash())
		return nil, "unknown token " + id, nil
	} else if err != nil {
		return nil, "", err
	}
	if subtle.ConstantTimeCompare(keyring.TokenHash(tok), t.Hash) != 1 {
		return nil, "unknown token " + id, nil
	}
	// The hash and the status decide: both must authenticate, and the
	// status must be the one the chain recorded last.
	if err := o.check(keyring.TokenRow(t)); err != nil {
		return nil, "", err
	}
	if err := o.checkTokenState(t); err != nil {
		return nil, "", err
	}
	now := o.ts()
	if err := o.later(func(ctx context.Context, tx store.Tx) error { return tx.TouchToken(ctx, id, now) }); err != nil {
		return nil, "", err
	}
	t.LastUsed, t.UseCount = now, t.UseCount+1
	if t.Status != TokenApproved {
		return tokenInfo(t), "token " + id + " is " + t.Status, nil
	}
	return tokenInfo(t), "", nil
}

// AccessRequests lists the requests of a tenant, oldest first; only the
// pending ones with pendingOnly. It needs no key.
func (v *Vault) AccessRequests(ctx context.Context, tenantName string, pendingOnly bool) ([]AccessRequest, error) {
	out := []AccessRequest{}
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		rs, err := o.tx.Requests(o.ctx, t.ID, pendingOnly)
		out = out[:0]
		for _, r := range rs {
			out = append(out, *requestInfo(t.Name, r))
		}
		return err
	})
	return out, err
}

func requestInfo(tenant string, r store.Request) *AccessRequest {
	return &AccessRequest{ID: r.ID, Tenant: tenant, Service: r.Service, Name: r.Name, Status: r.Status, RequestedBy: r.RequestedBy,
		RequestedAt: r.RequestedAt, Origin: r.Origin, DecidedAt: r.DecidedAt, DecidedBy: r.DecidedBy}
}

// Grants lists the grants of a tenant (active, revoked and denied) with
// their counters. It needs no key.
func (v *Vault) Grants(ctx context.Context, tenantName string) ([]Grant, error) {
	out := []Grant{}
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		gs, err := o.tx.Grants(o.ctx, t.ID)
		out = out[:0]
		for _, g := range gs {
			out = append(out, Grant{Tenant: t.Name, Service: g.Service, Name: g.Name, Status: g.Status, DecidedAt: g.DecidedAt,
				DecidedBy: g.DecidedBy, AccessCount: g.AccessCount, LastAccess: g.LastAccess})
		}
		return err
	})
	return out, err
}

// Stubs lists the tenant's stubs that have no value yet, by name, with the
// services that asked for each. It needs no key.
func (v *Vault) Stubs(ctx context.Context, tenantName string) ([]Stub, error) {
	out := []Stub{}
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		ss, err := o.tx.Stubs(o.ctx, t.ID)
		out = out[:0]
		for _, s := range ss {
			out = append(out, Stub{Tenant: t.Name, Name: s.Name, RequestedBy: s.RequestedBy, Description: s.Description, CreatedAt: s.CreatedAt, AskedBy: s.AskedBy})
		}
		return err
	})
	return out, err
}

// ApproveRequest approves a pending request and grants the service the
// secret.
func (v *Vault) ApproveRequest(ctx context.Context, id int64) (*AccessRequest, error) {
	return v.decideRequest(ctx, id, "access-approve", RequestApproved, GrantActive)
}

// DenyRequest denies a pending request: the service's reads of that
// secret fail with ErrAccessDenied until an operator grants it.
func (v *Vault) DenyRequest(ctx context.Context, id int64) (*AccessRequest, error) {
	return v.decideRequest(ctx, id, "access-deny", RequestDenied, GrantDenied)
}

func (v *Vault) decideRequest(ctx context.Context, id int64, action, to, grant string) (*AccessRequest, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *AccessRequest
	var refused error
	err := v.update(ctx, func(o *op) error {
		out, refused = nil, nil
		r, err := o.tx.Request(o.ctx, id)
		if errors.Is(err, store.ErrNoRow) {
			refused = fmt.Errorf("access request %d: %w", id, ErrNoRecord)
			o.audit(auditRow{Action: action, Object: fmt.Sprintf("request %d", id), Success: false, Detail: "no such request"})
			return nil
		} else if err != nil {
			return err
		}
		t, err := o.tx.TenantByID(o.ctx, r.TenantID)
		if err != nil {
			return err
		}
		out = requestInfo(t.Name, r)
		// The request's service and name become a grant: they must be the
		// ones a service (or an operator) asked for.
		if err := o.check(keyring.RequestRow(r)); err != nil {
			return err
		}
		if r.Status != RequestPending {
			refused = fmt.Errorf("access request %d (%s for %s) is %s: %w", id, r.Service, r.Name, r.Status, ErrDecided)
			o.audit(auditRow{Action: action, Tenant: t.Name, Object: r.Name, Success: false,
				Detail: svcDetail(r.Service, fmt.Sprintf("request %d is %s", id, r.Status))})
			return nil
		}
		r.Status, r.DecidedAt, r.DecidedBy = to, o.ts(), o.caller.Actor
		if err := o.tx.DecideRequest(o.ctx, id, r.Status, r.DecidedAt, r.DecidedBy, o.keys.MAC(keyring.RequestRow(r))); err != nil {
			return err
		}
		out = requestInfo(t.Name, r)
		if err := o.setGrant(t.ID, r.Service, r.Name, grant); err != nil {
			return err
		}
		o.audit(auditRow{Action: action, Tenant: t.Name, Object: r.Name, Success: true,
			Detail: svcDetail(r.Service, fmt.Sprintf("request %d, grant %s", id, grant))})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, refused
}

// setGrant creates or updates the grant of (tenant, service, name),
// keeping its counters, and seals it: the operator's decision sets every
// field the MAC covers.
func (o *op) setGrant(tenantID int64, service, name, status string) error {
	g := store.Grant{TenantID: tenantID, Service: service, Name: name, Status: status, DecidedAt: o.ts(), DecidedBy: o.caller.Actor}
	g.MAC = o.keys.MAC(keyring.GrantRow(g))
	return o.tx.PutGrant(o.ctx, g)
}

// grantStatus reads a grant's status ("" when there is none). For a
// decision (checked), the grant row must authenticate and agree with the
// chain's last decision about it.
func (o *op) grantStatus(t store.Tenant, service, name string, checked bool) (string, error) {
	g, err := o.tx.Grant(o.ctx, t.ID, service, name)
	if errors.Is(err, store.ErrNoRow) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if checked {
		if err := o.check(keyring.GrantRow(g)); err != nil {
			return "", err
		}
		if err := o.checkGrantState(t, g); err != nil {
			return "", err
		}
	}
	return g.Status, nil
}

// GrantAccess lets service read name in the tenant, approving its pending
// request if there is one. The secret need not exist yet. It returns the
// ID of the request it approved, or 0.
func (v *Vault) GrantAccess(ctx context.Context, tenantName, service, name string) (int64, error) {
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
	err := v.update(ctx, func(o *op) error {
		approved = 0
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		detail := "grant active"
		r, err := o.tx.PendingRequest(o.ctx, t.ID, service, name)
		if err == nil {
			approved = r.ID
			r.Status, r.DecidedAt, r.DecidedBy = RequestApproved, o.ts(), o.caller.Actor
			if err := o.tx.DecideRequest(o.ctx, r.ID, r.Status, r.DecidedAt, r.DecidedBy, o.keys.MAC(keyring.RequestRow(r))); err != nil {
				return err
			}
			detail += fmt.Sprintf(", request %d approved", approved)
		} else if !errors.Is(err, store.ErrNoRow) {
			return err
		}
		if err := o.setGrant(t.ID, service, name, GrantActive); err != nil {
			return err
		}
		o.audit(auditRow{Action: "access-grant", Tenant: t.Name, Object: name, Success: true, Detail: svcDetail(service, detail)})
		return nil
	})
	if err != nil {
		return 0, err
	}
	return approved, nil
}

// RevokeAccess ends service's active grant of name in the tenant: its
// reads of name fail with ErrAccessDenied until an operator grants it
// again.
func (v *Vault) RevokeAccess(ctx context.Context, tenantName, service, name string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	var refused error
	err := v.update(ctx, func(o *op) error {
		refused = nil
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		g, err := o.tx.Grant(o.ctx, t.ID, service, name)
		if err != nil && !errors.Is(err, store.ErrNoRow) {
			return err
		}
		if err != nil || g.Status != GrantActive {
			refused = fmt.Errorf("service %s has no active grant for %q in tenant %s: %w", service, name, t.Name, ErrNoRecord)
			o.audit(auditRow{Action: "access-revoke", Tenant: t.Name, Object: name, Success: false, Detail: svcDetail(service, "no active grant")})
			return nil
		}
		if err := o.setGrant(t.ID, service, name, GrantRevoked); err != nil {
			return err
		}
		o.audit(auditRow{Action: "access-revoke", Tenant: t.Name, Object: name, Success: true, Detail: svcDetail(service, "grant revoked")})
		return nil
	})
	if err != nil {
		return err
	}
	return refused
}

// ServiceGet reads name as the service holding tok: the latest version,
// or version when it is not 0. See ServiceGetMany.
func (v *Vault) ServiceGet(ctx context.Context, tok, tenantName, name string, version int) (*Secret, error) {
	out, err := v.serviceRead(ctx, tok, tenantName, []string{name}, version)
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
// audited (action "get", actor the service, the caller's user in the
// detail), with stubs and requests, in the same transaction. Safe for
// concurrent use: the service is per call, never stored in the Vault.
func (v *Vault) ServiceGetMany(ctx context.Context, tok, tenantName string, names []string) ([]Secret, error) {
	return v.serviceRead(ctx, tok, tenantName, names, 0)
}

// readDecision is what a service read decided for one name, before
// anything is applied.
type readDecision struct {
	name    string
	secret  store.Secret // the row to read, when ok
	ok      bool
	problem AccessProblem
	stub    bool // file a stub
	request bool // file a pending request
}

// decideRead is the pure part of a service read: from a name's grant
// status and secret row (Version 0: none), what happens. version is the
// version asked for (0: latest).
func decideRead(name, grant string, s store.Secret, version int) readDecision {
	exists := s.Version != 0 && (version > 0 || s.DeletedAt == "")
	d := readDecision{name: name, secret: s, problem: AccessProblem{Name: name}}
	switch {
	case grant == GrantDenied || grant == GrantRevoked:
		d.problem.Reason, d.problem.Denied = grant, true
	case !exists:
		d.problem.Reason, d.stub = "missing", true
		if grant != GrantActive {
			d.request = true
		} else {
			d.problem.Reason = "missing: granted, no value yet"
		}
	case grant != GrantActive:
		d.problem.Reason, d.request = "not granted", true
	default:
		d.ok = true
	}
	return d
}

func (v *Vault) serviceRead(ctx context.Context, tok, tenantName string, names []string, version int) ([]Secret, error) {
	return v.serviceReadDescribed(ctx, tok, tenantName, names, version, nil)
}

func (v *Vault) serviceReadDescribed(ctx context.Context, tok, tenantName string, names []string, version int, descriptions map[string]string) ([]Secret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	for _, n := range names {
		if err := checkName(n); err != nil {
			return nil, err
		}
	}
	var out []Secret
	var refused error
	err := v.audited(ctx, func(o *op) error {
		out, refused = nil, nil
		user := o.caller.Actor
		if err := o.prefetchServiceRead(tok, tenantName, names, version); err != nil {
			return err
		}
		tk, why, err := o.authenticate(tok)
		if err != nil {
			return err
		}
		if why != "" {
			te := &TokenError{Reason: why}
			actor := "unknown"
			if tk != nil {
				te.ID, te.Service, te.Status = tk.ID, tk.Service, tk.Status
				actor = tk.Service
			}
			refused = te
			for _, n := range names {
				o.auditAs(actor, auditRow{Action: "get", Tenant: tenantName, Object: n, Success: false,
					Detail: svcDetail(te.Service, "user "+user+": "+why)})
			}
			return nil
		}
		svc := tk.Service
		detail := func(s string) string { return svcDetail(svc, "token "+tk.ID+", user "+user+": "+s) }
		t, err := o.tenant(tenantName)
		if err != nil {
			refused = err
			for _, n := range names {
				o.auditAs(svc, auditRow{Action: "get", Tenant: tenantName, Object: n, Success: false, Detail: detail("no such tenant")})
			}
			return nil
		}
		// Decide every name from the rows read, then apply. The rows of
		// every name come in one query each (readRows); the checks run
		// name by name in the order of the one-name read, so each name
		// is decided, and refused, exactly as a read of it alone.
		rows, err := o.readRows(t, svc, names, version)
		if err != nil {
			return err
		}
		var ds []readDecision
		for _, n := range names {
			g, err := rows.grantStatus(o, t, n)
			if err != nil {
				return err
			}
			s := rows.secrets[n]
			d := decideRead(n, g, s, version)
			if d.ok && version == 0 {
				if err := rows.checkLatest(o, t, n, s); err != nil {
					return err
				}
			}
			if !d.ok && !d.problem.Denied && d.stub && version > 0 {
				// An old version that is not there is not a secret to stub.
				refused = fmt.Errorf("%w: %q version %d in tenant %s", ErrNotFound, n, version, t.Name)
				o.auditAs(svc, auditRow{Action: "get", Tenant: t.Name, Object: n, Success: false, Detail: detail("not found")})
				return nil
			}
			ds = append(ds, d)
		}
		var problems []AccessProblem
		for i := range ds {
			d := &ds[i]
			if d.ok {
				continue
			}
			if d.stub || d.request {
				if err := o.needsUpdate(); err != nil {
					return err
				}
			}
			if d.stub {
				desc := descriptions[d.name]
				if !validDescription(desc) {
					desc = ""
				}
				if err := o.ensureStub(svc, t, d.name, svc, desc, detail("asked for a missing secret")); err != nil {
					return err
				}
			}
			if d.request {
				if d.problem.Request, err = o.ensureRequest(svc, t, svc, d.name, svc, "read"); err != nil {
					return err
				}
			}
			problems = append(problems, d.problem)
			o.auditAs(svc, auditRow{Action: "get", Tenant: t.Name, Object: d.name, Success: false, Detail: detail(d.problem.String())})
		}
		if len(problems) > 0 {
			for _, d := range ds {
				if d.ok {
					o.auditAs(svc, auditRow{Action: "get", Tenant: t.Name, Object: d.name, Success: false, Detail: detail("granted, not read: other secrets are not available")})
				}
			}
			refused = &AccessError{Service: svc, Tenant: t.Name, Problems: problems}
			return nil
		}
		read := make([]string, 0, len(ds))
		for _, d := range ds {
			pt, err := o.open(t, d.secret)
			if err != nil {
				return err
			}
			out = append(out, Secret{SecretInfo: secretInfo(t.Name, d.secret), Value: pt})
			read = append(read, d.name)
			o.auditAs(svc, auditRow{Action: "get", Tenant: t.Name, Object: d.name, Success: true, Detail: detail(fmt.Sprintf("granted, version %d", d.secret.Version))})
		}
		if len(read) == 0 {
			return nil
		}
		// Each grant's counter, one statement for the call.
		at := o.ts()
		return o.later(func(ctx context.Context, tx store.Tx) error {
			if len(read) == 1 {
				return tx.TouchGrant(ctx, t.ID, svc, read[0], at)
			}
			return tx.TouchGrants(ctx, t.ID, svc, read, at)
		})
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

// serviceRows are the rows a service read decides on, for every name:
// its grant of the service and its secret row (Version 0: none), and the
// chain's answers to the state checks of both, each kind read in one
// query for all the names (one scan of the audit chain for all).
type serviceRows struct {
	grants  map[string]store.Grant
	secrets map[string]store.Secret
	grantQ  map[string]*auditQuery // the active grants' last decisions
	latestQ map[string]*auditQuery // the newest put, rm, purge or restore of the names read
}

// prefetchServiceRead tells a store with round trips (store.Prefetcher:
// PostgreSQL) the reads a service read of the latest version of names is
// about to make when it succeeds: the token, the tenant, the names' grants
// and newest rows, the token's state check and the one scan of the names'
// state checks (the filters built as authenticate and readRows build
// them). The store sends them at once; a read that goes another way asks
// for what it needs as without.
func (o *op) prefetchServiceRead(tok, tenantName string, names []string, version int) error {
	pf, ok := o.tx.(store.Prefetcher)
	if !ok || version != 0 || o.index != nil {
		return nil
	}
	id, err := ParseToken(tok)
	if err != nil {
		return nil
	}
	t := store.Tenant{Name: tenantName}
	var qs []*auditQuery
	for _, n := range names {
		qs = append(qs, grantQuery(t, "", n), latestQuery(t, n))
	}
	audits := []store.AuditFilter{tokenStateFilter(id)}
	if f, ok := scanFilter(qs); ok && len(qs) > 0 && scannable(tenantName, qs[0]) {
		audits = append(audits, f)
	}
	return pf.Prefetch(o.ctx, store.Prefetch{TokenID: id, Tenant: tenantName, Names: names, Audits: audits})
}

// readRows reads the rows of a service read of names (see serviceRows).
// One name reads them as before (Grant, Secret); the chain's rows about
// it come in one scan for both checks.
func (o *op) readRows(t store.Tenant, svc string, names []string, version int) (*serviceRows, error) {
	rs := &serviceRows{grants: map[string]store.Grant{}, secrets: map[string]store.Secret{}, grantQ: map[string]*auditQuery{}, latestQ: map[string]*auditQuery{}}
	if len(names) == 1 {
		g, err := o.tx.Grant(o.ctx, t.ID, svc, names[0])
		if err == nil {
			rs.grants[names[0]] = g
		} else if !errors.Is(err, store.ErrNoRow) {
			return nil, err
		}
	} else {
		gs, err := o.tx.GrantsOf(o.ctx, t.ID, svc, names)
		if err != nil {
			return nil, err
		}
		for _, g := range gs {
			// A row for another tenant or service is none of these.
			if g.TenantID == t.ID && g.Service == svc {
				rs.grants[g.Name] = g
			}
		}
	}
	if len(names) == 1 || version > 0 {
		for _, n := range names {
			s, err := o.secretRow(t, n, version)
			if err == nil {
				rs.secrets[n] = s
			} else if !errors.Is(err, store.ErrNoRow) {
				return nil, err
			}
		}
	} else {
		ss, err := o.tx.LatestOf(o.ctx, t.ID, names)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			rs.secrets[s.Name] = s
		}
	}
	// The chain's rows the checks will ask for: an active grant's last
	// decision, and for a name that will be read, its newest put.
	var qs []*auditQuery
	for _, n := range names {
		g, granted := rs.grants[n]
		if granted && g.Status == GrantActive && rs.grantQ[n] == nil {
			rs.grantQ[n] = grantQuery(t, svc, n)
			qs = append(qs, rs.grantQ[n])
		}
		if version == 0 && granted && rs.latestQ[n] == nil && decideRead(n, g.Status, rs.secrets[n], 0).ok {
			rs.latestQ[n] = latestQuery(t, n)
			qs = append(qs, rs.latestQ[n])
		}
	}
	if err := o.lastAudits(qs); err != nil {
		return nil, err
	}
	return rs, nil
}

// grantStatus is op.grantStatus(t, svc, name, true) from the rows read: ""
// when there is no grant; a grant row must authenticate and agree with the
// chain's last decision about it.
func (rs *serviceRows) grantStatus(o *op, t store.Tenant, name string) (string, error) {
	g, ok := rs.grants[name]
	if !ok {
		return "", nil
	}
	if err := o.check(keyring.GrantRow(g)); err != nil {
		return "", err
	}
	if g.Status == GrantActive {
		q := rs.grantQ[name]
		if q == nil {
			q = grantQuery(t, g.Service, name) // not foreseen: asked on its own
		}
		r, err := o.answer(q)
		if err != nil {
			return "", err
		}
		if err := grantAgrees(g, r); err != nil {
			return "", err
		}
	}
	return g.Status, nil
}

// checkLatest is op.checkLatest from the rows read.
func (rs *serviceRows) checkLatest(o *op, t store.Tenant, name string, s store.Secret) error {
	q := rs.latestQ[name]
	if q == nil {
		q = latestQuery(t, name) // not foreseen: asked on its own
	}
	r, err := o.answer(q)
	if err != nil {
		return err
	}
	return latestAgrees(t, name, s, r)
}

// ensureStub records a stub for a missing secret (or reopens a filled one
// whose secret was removed since), auditing it when it is new.
func (o *op) ensureStub(actor string, t store.Tenant, name, requestedBy, description, detail string) error {
	created, err := o.tx.OpenStub(o.ctx, store.Stub{TenantID: t.ID, Name: name, RequestedBy: requestedBy, Description: description, CreatedAt: o.ts()})
	if err != nil || !created {
		return err
	}
	o.auditAs(actor, auditRow{Action: "stub", Tenant: t.Name, Object: name, Success: true, Detail: detail})
	return nil
}

// ensureRequest makes sure service has a pending request for name and
// returns its ID, auditing it when it is new. The store keeps a second
// pending request impossible, even from another process.
func (o *op) ensureRequest(actor string, t store.Tenant, service, name, requestedBy, origin string) (int64, error) {
	r := store.Request{TenantID: t.ID, Service: service, Name: name, Status: RequestPending, RequestedBy: requestedBy, RequestedAt: o.ts(), Origin: origin}
	id, created, err := o.tx.InsertRequest(o.ctx, r)
	if err != nil || !created {
		return id, err
	}
	r.ID = id
	if err := o.tx.DecideRequest(o.ctx, id, r.Status, "", "", o.keys.MAC(keyring.RequestRow(r))); err != nil {
		return 0, err
	}
	o.auditAs(actor, auditRow{Action: "access-request", Tenant: t.Name, Object: name, Success: true, Detail: svcDetail(service, fmt.Sprintf("request %d (%s)", id, origin))})
	return id, nil
}

// DeclareAccess records what service declares it needs, as an operator
// ("schema apply"): a stub for every secret that does not exist, and an
// access request for every secret the service has no grant for. Denied and
// revoked grants are left alone. One transaction, audited.
func (v *Vault) DeclareAccess(ctx context.Context, tenantName, service string, decls []Declared) (*DeclareResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if err := checkService(service); err != nil {
		return nil, err
	}
	for _, d := range decls {
		if err := checkName(d.Name); err != nil {
			return nil, err
		}
	}
	res := &DeclareResult{}
	err := v.update(ctx, func(o *op) error {
		*res = DeclareResult{Stubbed: []string{}, Requested: []string{}, Pending: []string{}, Granted: []string{}, Denied: []string{}}
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		for _, d := range decls {
			exists, err := o.liveSecret(t, d.Name)
			if err != nil {
				return err
			}
			if !exists {
				st, err := o.tx.Stub(o.ctx, t.ID, d.Name)
				had := err == nil && st.FilledAt == ""
				if err != nil && !errors.Is(err, store.ErrNoRow) {
					return err
				}
				if err := o.ensureStub(o.caller.Actor, t, d.Name, service, d.Description, svcDetail(service, "declared in a schema")); err != nil {
					return err
				}
				if !had {
					res.Stubbed = append(res.Stubbed, d.Name)
				}
			}
			g, err := o.grantStatus(t, service, d.Name, true)
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
			_, perr := o.tx.PendingRequest(o.ctx, t.ID, service, d.Name)
			if perr != nil && !errors.Is(perr, store.ErrNoRow) {
				return perr
			}
			if _, err := o.ensureRequest(o.caller.Actor, t, service, d.Name, o.caller.Actor, "schema"); err != nil {
				return err
			}
			if perr == nil {
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

func (o *op) liveSecret(t store.Tenant, name string) (bool, error) {
	s, err := o.tx.Secret(o.ctx, t.ID, name, 0)
	if errors.Is(err, store.ErrNoRow) {
		return false, nil
	}
	return err == nil && s.DeletedAt == "", err
}

// CheckAccess reports, without changing anything, every name that service
// could not read now: missing (no live secret), not granted, denied or
// revoked. It needs no key and writes no audit row: it reads no secret.
func (v *Vault) CheckAccess(ctx context.Context, tenantName, service string, names []string) ([]AccessProblem, error) {
	out := []AccessProblem{}
	err := v.view(ctx, func(o *op) error {
		out = out[:0]
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		for _, n := range names {
			exists, err := o.liveSecret(t, n)
			if err != nil {
				return err
			}
			g, err := o.grantStatus(t, service, n, false)
			if err != nil {
				return err
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
				if r, err := o.tx.PendingRequest(o.ctx, t.ID, service, n); err == nil {
					p.Request = r.ID
				} else if !errors.Is(err, store.ErrNoRow) {
					return err
				}
			}
			if len(reasons) > 0 {
				p.Reason = strings.Join(reasons, ", ")
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}

// ServiceTokenProblem says why service could not authenticate now: "" when
// it has an approved token, else "no approved token", followed by the
// states of the tokens it does have ("no approved token (1 revoked, 1
// pending)"). Without an approved token a service reads nothing, whatever
// it was granted. It needs no key and writes no audit row.
func (v *Vault) ServiceTokenProblem(ctx context.Context, service string) (string, error) {
	toks, err := v.Tokens(ctx)
	if err != nil {
		return "", err
	}
	counts := map[string]int{}
	for _, t := range toks {
		if t.Service != service {
			continue
		}
		if t.Status == TokenApproved {
			return "", nil
		}
		counts[t.Status]++
	}
	if len(counts) == 0 {
		return "no approved token (none created)", nil
	}
	var have []string
	for _, s := range slices.Sorted(mapKeys(counts)) {
		have = append(have, fmt.Sprintf("%d %s", counts[s], s))
	}
	return "no approved token (" + strings.Join(have, ", ") + ")", nil
}

func mapKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
