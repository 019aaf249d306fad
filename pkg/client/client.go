// Package client reads secrets from a keysmith server (docs/server.md) over
// gRPC with a service token: what "keysmith vault get --server", "keysmith
// run --server" and the loaders "keysmith schema gen-go" writes use. It
// needs no keysmith binary and no master key.
package client

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/api/keysmith/v1/keysmithv1connect"
)

// Error kinds, tested with errors.Is.
var (
	// ErrPermissionDenied: the token is unknown, pending, denied or revoked,
	// or the service's access to a secret was denied or revoked.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrPending: a secret is missing (a stub was made) or not granted yet
	// (an access request is pending): an operator must act.
	ErrPending = errors.New("access pending approval")
	// ErrNotFound: no such tenant.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request was refused as malformed (a name, the token's form).
	ErrInvalid = errors.New("invalid request")
	// ErrUnavailable: the server could not be reached or answered with a
	// failure of its own (connection refused, TLS refused, internal error,
	// rate limited).
	ErrUnavailable = errors.New("server unavailable")
)

// Options configure a Client.
type Options struct {
	// Token is the service token (kst1_...), sent as
	// "authorization: Bearer" metadata.
	Token string
	// Fingerprint pins the server's key: the hex SHA-256 of its
	// certificate's SubjectPublicKeyInfo ("keysmith serve" prints it).
	// Without it the certificate must verify against RootCAs (or the
	// system's roots) for the host name.
	Fingerprint string
	// RootCAs are the CAs to trust; CAFile reads them from a PEM file.
	RootCAs *x509.CertPool
	CAFile  string
	// UserAgent is sent with every call (default "keysmith-client").
	UserAgent string
	// Timeout bounds each call (default 30s).
	Timeout time.Duration
	// Certificate, when set, is presented as the TLS client certificate:
	// a device's key for DeviceService over mutual TLS (see
	// devicecred.ClientCertificate).
	Certificate *tls.Certificate
}

// Client talks to one server. It is safe for concurrent use.
type Client struct {
	rpc     keysmithv1connect.SecretsServiceClient
	dev     keysmithv1connect.DeviceServiceClient
	opts    Options
	addr    string
	closeFn func()

	mu      sync.Mutex
	session string // a device session from ChallengeLogin, sent instead of Options.Token
}

// New returns a client of the server at addr: "host:port" (TLS),
// "https://host:port", or "unix:/path.sock" (plaintext HTTP/2 on a local
// socket). It does not connect yet.
func New(addr string, opts Options) (*Client, error) {
	// A token read from a file keeps its line end; the server trims white
	// space around a token, and net/http would refuse the header.
	opts.Token = strings.TrimSpace(opts.Token)
	if opts.UserAgent == "" {
		opts.UserAgent = "keysmith-client"
	}
	if opts.Timeout == 0 {
		opts.Timeout = 30 * time.Second
	}
	tr := &http.Transport{
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	var protocols http.Protocols
	var base string
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("%w: server %q: no socket path", ErrInvalid, addr)
		}
		protocols.SetUnencryptedHTTP2(true)
		var d net.Dialer
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }
		base = "http://localhost"
	} else {
		host := strings.TrimSuffix(strings.TrimPrefix(addr, "https://"), "/")
		if strings.Contains(host, "/") || host == "" {
			return nil, fmt.Errorf("%w: server %q: want HOST:PORT or unix:/PATH", ErrInvalid, addr)
		}
		if _, _, err := net.SplitHostPort(host); err != nil {
			return nil, fmt.Errorf("%w: server %q: want HOST:PORT or unix:/PATH", ErrInvalid, addr)
		}
		conf, err := tlsConfig(opts)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = conf
		protocols.SetHTTP2(true)
		base = "https://" + host
	}
	tr.Protocols = &protocols
	hc := &http.Client{Transport: tr}
	c := &Client{
		rpc:     keysmithv1connect.NewSecretsServiceClient(hc, base, connect.WithGRPC()),
		dev:     keysmithv1connect.NewDeviceServiceClient(hc, base, connect.WithGRPC()),
		opts:    opts,
		addr:    addr,
		closeFn: tr.CloseIdleConnections,
	}
	return c, nil
}

// Close releases the client's connections.
func (c *Client) Close() { c.closeFn() }

func tlsConfig(opts Options) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: opts.RootCAs}
	if opts.Certificate != nil {
		conf.Certificates = []tls.Certificate{*opts.Certificate}
	}
	if opts.CAFile != "" {
		pemBytes, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%w: CA file %q holds no PEM certificate", ErrInvalid, opts.CAFile)
		}
		conf.RootCAs = pool
	}
	if opts.Fingerprint != "" {
		want, err := parseFingerprint(opts.Fingerprint)
		if err != nil {
			return nil, err
		}
		// The pinned key replaces the chain check; the certificate's dates
		// still count.
		conf.InsecureSkipVerify = true
		conf.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("server sent no certificate")
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			got := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return fmt.Errorf("server key fingerprint %s is not the pinned %s", hex.EncodeToString(got[:]), hex.EncodeToString(want))
			}
			if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
				return fmt.Errorf("server certificate is not valid now (valid %s to %s)", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
			}
			return nil
		}
	}
	return conf, nil
}

func parseFingerprint(s string) ([]byte, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.ReplaceAll(strings.TrimPrefix(s, "sha256:"), ":", "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: server fingerprint: want the SHA-256 of the server's SPKI, 64 hex digits", ErrInvalid)
	}
	return b, nil
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.Timeout)
}

func request[T any](c *Client, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	req.Header().Set("User-Agent", c.opts.UserAgent)
	if tok := c.bearer(); tok != "" {
		req.Header().Set("Authorization", "Bearer "+tok)
	}
	return req
}

// bearer is the token calls carry: the device session once ChallengeLogin
// has succeeded, else Options.Token.
func (c *Client) bearer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != "" {
		return c.session
	}
	return c.opts.Token
}

// Secret is a value read from the server.
type Secret struct {
	Name    string
	Version int
	Value   []byte
}

// Ref names a secret to read and says what it is for (recorded on the
// stub when it does not exist yet).
type Ref struct {
	Name        string
	Description string
}

// GetSecret reads one secret of tenant ("" = the server's default).
func (c *Client) GetSecret(ctx context.Context, tenant, name, description string) (*Secret, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.rpc.GetSecret(ctx, request(c, &keysmithv1.GetSecretRequest{SecretName: name, Description: description, Tenant: tenant}))
	if err != nil {
		return nil, c.wrap(err)
	}
	m := res.Msg
	return &Secret{Name: name, Version: int(m.Version), Value: value(m.Value, m.ValueBytes)}, nil
}

// GetSecrets reads every ref in one call, all or none. On failure the
// *Error lists the status of each name.
func (c *Client) GetSecrets(ctx context.Context, tenant string, refs []Ref) ([]Secret, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	msg := &keysmithv1.GetSecretsRequest{Tenant: tenant}
	for _, r := range refs {
		msg.Secrets = append(msg.Secrets, &keysmithv1.SecretRef{SecretName: r.Name, Description: r.Description})
	}
	res, err := c.rpc.GetSecrets(ctx, request(c, msg))
	if err != nil {
		return nil, c.wrap(err)
	}
	out := make([]Secret, 0, len(res.Msg.Results))
	for _, r := range res.Msg.Results {
		out = append(out, Secret{Name: r.SecretName, Version: int(r.Version), Value: value(r.Value, r.ValueBytes)})
	}
	if len(out) != len(refs) {
		return nil, fmt.Errorf("%w: asked for %d secrets, got %d", ErrUnavailable, len(refs), len(out))
	}
	return out, nil
}

func value(s string, b []byte) []byte {
	if b != nil {
		return b
	}
	return []byte(s)
}

// Registration is the outcome of RegisterToken.
type Registration struct {
	TokenID string
	Status  string // "pending_approval", "approved", "denied" or "revoked"
	Message string
	Created bool // this call registered it
}

// RegisterToken registers the client's token for service (see
// NewToken): it is pending until an operator approves it; calling again
// reports its status.
func (c *Client) RegisterToken(ctx context.Context, service, serviceVersion string) (*Registration, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.rpc.RegisterToken(ctx, request(c, &keysmithv1.RegisterTokenRequest{ServiceName: service, ServiceVersion: serviceVersion}))
	if err != nil {
		return nil, c.wrap(err)
	}
	m := res.Msg
	status := strings.ToLower(m.Status.String())
	return &Registration{TokenID: m.TokenId, Status: status, Message: m.Message, Created: m.Created}, nil
}

// Error is a call the server refused or that failed.
type Error struct {
	Server  string
	Code    connect.Code
	Reason  keysmithv1.ErrorReason
	Message string
	Results []*keysmithv1.SecretResult // per name, for a refused read
	kind    error
	cause   error
}

func (e *Error) Error() string {
	if e.Code == connect.CodeUnavailable || e.Code == connect.CodeUnknown && e.cause != nil {
		return fmt.Sprintf("server %s: %v", e.Server, e.cause)
	}
	return e.Message
}

// Unwrap returns the error's kind (ErrPermissionDenied, ...).
func (e *Error) Unwrap() []error { return []error{e.kind, e.cause} }

func (c *Client) wrap(err error) error {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return &Error{Server: c.addr, Code: connect.CodeUnavailable, kind: ErrUnavailable, cause: err, Message: err.Error()}
	}
	e := &Error{Server: c.addr, Code: ce.Code(), Message: ce.Message(), cause: nil}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		switch m := v.(type) {
		case *keysmithv1.GetSecretResponse:
			e.Reason = m.Reason
		case *keysmithv1.GetSecretsResponse:
			e.Reason, e.Results = m.Reason, m.Results
		case *keysmithv1.DeviceError: // DeviceService
			e.Reason = m.Reason
		case *keysmithv1.RegisterTokenResponse:
			e.Reason = m.Reason
		}
	}
	e.kind = kindOf(e.Code, e.Reason)
	if e.kind == ErrUnavailable && ce.Code() == connect.CodeUnavailable {
		e.cause = ce.Unwrap()
	}
	return e
}

func kindOf(code connect.Code, reason keysmithv1.ErrorReason) error {
	switch reason {
	case keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING:
		return ErrPending
	case keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND:
		return ErrNotFound
	case keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT:
		return ErrInvalid
	case keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED, keysmithv1.ErrorReason_ERROR_REASON_INTERNAL, keysmithv1.ErrorReason_ERROR_REASON_TAMPERED:
		return ErrUnavailable
	}
	switch code {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeAlreadyExists:
		return ErrPermissionDenied
	case connect.CodeFailedPrecondition:
		if reason == keysmithv1.ErrorReason_ERROR_REASON_TOKEN_PENDING {
			return ErrPermissionDenied
		}
		return ErrPending
	case connect.CodeNotFound:
		return ErrNotFound
	case connect.CodeInvalidArgument:
		return ErrInvalid
	}
	return ErrUnavailable
}
