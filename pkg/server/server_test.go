package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// syncBuffer is the decision log, written by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	addr    string
	fp      string
	certPEM string // the self-signed certificate file
	path    string // the vault: a SQLite file or a postgres:// URL
	mu      sync.Mutex
	key     masterkey.Key // the server's key source (guarded by mu)
	op      *vault.Vault  // the operator's own handle on the vault file
	log     *syncBuffer
	cancel  context.CancelFunc
	done    chan error
}

func testKey(t testing.TB) masterkey.Key {
	k, err := masterkey.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// start runs a server over a new SQLite vault on 127.0.0.1 (a free port),
// TLS with a self-signed certificate. wrap, if set, wraps the backend.
func start(t testing.TB, opts server.Options, wrap func(server.Backend) server.Backend) *fixture {
	t.Helper()
	return startOn(t, sqliteStore, opts, wrap)
}

// storeKind names the store a fixture's vault lives in.
type storeKind string

const (
	sqliteStore   storeKind = "sqlite"
	postgresStore storeKind = "postgres"
)

// stores are the stores the end-to-end tests run on.
var stores = []storeKind{sqliteStore, postgresStore}

// openStore opens (create: creates) the store at url: a SQLite file path,
// or a postgres:// URL.
func openStore(t testing.TB, url string, create bool) store.Store {
	t.Helper()
	var st store.Store
	var err error
	switch {
	case strings.HasPrefix(url, "postgres://") && create:
		st, err = postgres.Create(context.Background(), url)
	case strings.HasPrefix(url, "postgres://"):
		st, err = postgres.Open(context.Background(), url)
	case create:
		st, err = sqlite.Create(context.Background(), url)
	default:
		st, err = sqlite.Open(context.Background(), url)
	}
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// newVaultURL is where a new vault of kind goes: a file in dir, or a
// PostgreSQL schema of its own (the test skips without
// KEYSMITH_TEST_POSTGRES, and fails with KEYSMITH_REQUIRE_POSTGRES=1).
func newVaultURL(t testing.TB, kind storeKind, dir string) string {
	t.Helper()
	if kind == postgresStore {
		return pgtest.NewSchema(t)
	}
	return filepath.Join(dir, "vault.db")
}

// openVault opens and unlocks the vault at url with k as actor.
func openVault(t testing.TB, url string, k masterkey.Key, actor string) *vault.Vault {
	t.Helper()
	v, err := vault.Open(context.Background(), openStore(t, url, false), vault.Options{Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock(context.Background(), k); err != nil {
		v.Close()
		t.Fatal(err)
	}
	return v
}

// startOn is start on a store of kind. The server's backend reopens the
// vault with fx.key (the key source) after a master-key rotation by
// another process, as keysmith serve does.
func startOn(t testing.TB, kind storeKind, opts server.Options, wrap func(server.Backend) server.Backend) *fixture {
	t.Helper()
	dir := t.TempDir()
	fx := &fixture{path: newVaultURL(t, kind, dir), key: testKey(t), log: &syncBuffer{}}
	v, err := vault.Create(context.Background(), openStore(t, fx.path, true), "dev", fx.key, vault.Options{Actor: "keysmith-serve"})
	if err != nil {
		t.Fatal(err)
	}
	fx.op = openVault(t, fx.path, fx.key, "operator")
	t.Cleanup(func() { fx.op.Close() })
	reopen := func() (*vault.Vault, error) {
		fx.mu.Lock()
		k := fx.key
		fx.mu.Unlock()
		nv, err := vault.Open(context.Background(), openStore(t, fx.path, false), vault.Options{Actor: "keysmith-serve"})
		if err != nil {
			return nil, err
		}
		if err := nv.Unlock(context.Background(), k); err != nil {
			nv.Close()
			return nil, err
		}
		return nv, nil
	}
	vb := server.NewVaultBackend(v, "keysmith-serve", reopen)
	var b server.Backend = vb
	t.Cleanup(func() { vb.Close() })
	if wrap != nil {
		b = wrap(b)
	}
	src, _, err := server.SelfSigned(filepath.Join(dir, "serve"), server.ListenNames("127.0.0.1:0"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fx.fp, fx.certPEM = src.Fingerprint(), filepath.Join(dir, "serve", "server.crt")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fx.addr = ln.Addr().String()
	opts.Backend, opts.Log = b, server.NewLogger(fx.log)
	srv := server.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	fx.cancel, fx.done = cancel, make(chan error, 1)
	go func() { fx.done <- srv.Serve(ctx, ln, src.TLSConfig()) }()
	t.Cleanup(func() { fx.stop(t) })
	return fx
}

func (fx *fixture) stop(t testing.TB) {
	if fx.cancel == nil {
		return
	}
	fx.cancel()
	fx.cancel = nil
	if err := <-fx.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// grpcConn is a stock grpc-go client trusting the server's certificate.
func (fx *fixture) grpcConn(t testing.TB) *grpc.ClientConn {
	t.Helper()
	pemBytes, err := os.ReadFile(fx.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	conn, err := grpc.NewClient(fx.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (fx *fixture) client(t testing.TB, tok string) *client.Client {
	t.Helper()
	c, err := client.New(fx.addr, client.Options{Token: tok, Fingerprint: fx.fp, UserAgent: "server-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newToken(t testing.TB) (tok, id string) {
	t.Helper()
	tok, err := client.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err = vault.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return tok, id
}

const (
	rpcGetSecret     = "/keysmith.v1.SecretsService/GetSecret"
	rpcGetSecrets    = "/keysmith.v1.SecretsService/GetSecrets"
	rpcRegisterToken = "/keysmith.v1.SecretsService/RegisterToken"
)

func getSecret(t testing.TB, conn *grpc.ClientConn, ctx context.Context, req *keysmithv1.GetSecretRequest) (*keysmithv1.GetSecretResponse, error) {
	t.Helper()
	res := &keysmithv1.GetSecretResponse{}
	err := conn.Invoke(ctx, rpcGetSecret, req, res)
	return res, err
}

func wantCode(t testing.TB, err error, code codes.Code, reason keysmithv1.ErrorReason) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("got %v (%v), want %v", st.Code(), err, code)
	}
	if reason == 0 {
		return
	}
	for _, d := range st.Details() {
		if m, ok := d.(*keysmithv1.GetSecretResponse); ok {
			if m.Reason != reason || m.Success || m.ErrorMessage == "" {
				t.Fatalf("detail %v, want reason %v", m, reason)
			}
			return
		}
	}
	t.Fatalf("no GetSecretResponse detail in %v", st.Details())
}

// TestSeedWorkflowGRPC is seed 003's workflow with a stock grpc-go client:
// register, pending, approve, missing → stub, grant, read, revoke, read;
// on SQLite and on PostgreSQL.
func TestSeedWorkflowGRPC(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) { seedWorkflow(t, startOn(t, kind, server.Options{}, nil)) })
	}
}

func seedWorkflow(t *testing.T, fx *fixture) {
	conn := fx.grpcConn(t)
	ctx := context.Background()
	tok, id := newToken(t)

	reg := &keysmithv1.RegisterTokenResponse{}
	if err := conn.Invoke(ctx, rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "orders", ServiceVersion: "2.1.0", Token: tok}, reg); err != nil {
		t.Fatal(err)
	}
	if reg.Status != keysmithv1.RegistrationStatus_PENDING_APPROVAL || reg.TokenId != id || !reg.Created {
		t.Fatalf("register: %v", reg)
	}
	_, err := getSecret(t, conn, ctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL", Token: tok})
	wantCode(t, err, codes.FailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_PENDING)

	if _, err := fx.op.ApproveToken(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The token as bearer metadata; a missing secret becomes a stub with the description.
	bctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	_, err = getSecret(t, conn, bctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL", Description: "orders database"})
	wantCode(t, err, codes.NotFound, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING)
	stubs, err := fx.op.Stubs(context.Background(), vault.DefaultTenant)
	if err != nil || len(stubs) != 1 || stubs[0].Name != "DB_URL" || stubs[0].Description != "orders database" {
		t.Fatalf("stubs %+v, %v", stubs, err)
	}

	if _, err := fx.op.Put(context.Background(), vault.DefaultTenant, "DB_URL", []byte("postgres://orders:s3cret-value@db/orders"), ""); err != nil {
		t.Fatal(err)
	}
	_, err = getSecret(t, conn, bctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL"})
	wantCode(t, err, codes.FailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING)
	if _, err := fx.op.GrantAccess(context.Background(), vault.DefaultTenant, "orders", "DB_URL"); err != nil {
		t.Fatal(err)
	}
	res, err := getSecret(t, conn, bctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL"})
	if err != nil || !res.Success || res.Value != "postgres://orders:s3cret-value@db/orders" || res.Version != 1 {
		t.Fatalf("read: %v, %v", res, err)
	}

	// A second service's approved token cannot read the first's secret.
	tok2, id2 := newToken(t)
	if err := conn.Invoke(ctx, rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "billing", Token: tok2}, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.op.ApproveToken(context.Background(), id2); err != nil {
		t.Fatal(err)
	}
	_, err = getSecret(t, conn, ctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL", Token: tok2})
	wantCode(t, err, codes.FailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING)

	if err := fx.op.RevokeAccess(context.Background(), vault.DefaultTenant, "orders", "DB_URL"); err != nil {
		t.Fatal(err)
	}
	_, err = getSecret(t, conn, bctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL"})
	wantCode(t, err, codes.PermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED)

	// Registering the same token again reports its status.
	if err := conn.Invoke(ctx, rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "orders", Token: tok}, reg); err != nil {
		t.Fatal(err)
	}
	if reg.Status != keysmithv1.RegistrationStatus_APPROVED || reg.Created {
		t.Fatalf("re-register: %v", reg)
	}
	// Another secret under a known ID is refused.
	forged := tok[:len(tok)-4] + "AAAA"
	err = conn.Invoke(ctx, rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "orders", Token: forged}, reg)
	wantCode(t, err, codes.AlreadyExists, 0)

	// Token states: denied, revoked, unknown, missing.
	tok3, id3 := newToken(t)
	if err := conn.Invoke(ctx, rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "billing", Token: tok3}, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.op.DenyToken(context.Background(), id3); err != nil {
		t.Fatal(err)
	}
	_, err = getSecret(t, conn, ctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL", Token: tok3})
	wantCode(t, err, codes.PermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_DENIED)
	if _, err := fx.op.RevokeToken(context.Background(), id2); err != nil {
		t.Fatal(err)
	}
	_, err = getSecret(t, conn, ctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL", Token: tok2})
	wantCode(t, err, codes.PermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED)
	unknown, _ := newToken(t)
	_, err = getSecret(t, conn, ctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL", Token: unknown})
	wantCode(t, err, codes.Unauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID)
	_, err = getSecret(t, conn, ctx, &keysmithv1.GetSecretRequest{SecretName: "DB_URL"})
	wantCode(t, err, codes.Unauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING)

	// grpc.health.v1 answers for each service the server serves (and
	// for ""), and NotFound for one it does not.
	for _, name := range []string{"", "keysmith.v1.SecretsService", "keysmith.v1.DeviceService"} {
		hc, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: name})
		if err != nil || hc.Status != grpc_health_v1.HealthCheckResponse_SERVING {
			t.Fatalf("health %q: %v, %v", name, hc, err)
		}
	}
	_, err = grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "keysmith.v1.NoSuchService"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("health of an unknown service: %v, want NotFound", err)
	}

	// Every decision is audited with the caller's address and agent; the
	// log has one line per decision with seed 003's fields.
	fx.stop(t)
	recs, err := fx.op.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	gets := 0
	for _, r := range recs {
		if r.Action == "get" {
			gets++
			if r.IPAddress != "127.0.0.1" || !strings.HasPrefix(r.UserAgent, "grpc-go/") {
				t.Errorf("audit row without address or agent: %+v", r)
			}
		}
	}
	if gets != 10 {
		t.Errorf("%d get rows, want 10", gets)
	}
	log := fx.log.String()
	for _, field := range []string{`"timestamp":`, `"level":`, `"service":"keysmith"`, `"secret_id":"DB_URL"`, `"service_name":"orders"`, `"success":true`, `"ip_address":"127.0.0.1"`, `"user_agent":"grpc-go/`} {
		if !strings.Contains(log, field) {
			t.Errorf("log lacks %s:\n%s", field, log)
		}
	}
	noSecrets(t, fx, log, tok, tok2, tok3, forged, unknown, "s3cret-value", tok[len(tok)-43:])
}

// noSecrets fails if the log, the audit trail or the vault file's audit
// rows contain any of secrets, or the master key.
func noSecrets(t *testing.T, fx *fixture, log string, secrets ...string) {
	t.Helper()
	recs, err := fx.op.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var audit strings.Builder
	for _, r := range recs {
		audit.WriteString(r.Actor + " " + r.Action + " " + r.Object + " " + r.Detail + "\n")
	}
	secrets = append(secrets, fx.key.Text())
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("log holds a secret %q", s)
		}
		if strings.Contains(audit.String(), s) {
			t.Errorf("audit holds a secret %q", s)
		}
	}
}

// TestGetSecretsAndBinary: one call for many names, all or nothing with a
// status per name; a non-UTF-8 value comes as bytes.
func TestGetSecretsAndBinary(t *testing.T) {
	fx := start(t, server.Options{}, nil)
	tok, id := newToken(t)
	c := fx.client(t, tok)
	ctx := context.Background()
	if _, err := c.RegisterToken(ctx, "orders", ""); err != nil {
		t.Fatal(err)
	}
	fx.op.ApproveToken(context.Background(), id)
	var refs []client.Ref
	for _, n := range []string{"A", "B", "BIN"} {
		refs = append(refs, client.Ref{Name: n})
	}
	fx.op.Put(context.Background(), vault.DefaultTenant, "A", []byte("a-value"), "")
	fx.op.Put(context.Background(), vault.DefaultTenant, "BIN", []byte{0xff, 0x00, 0xfe}, "")
	for _, n := range []string{"A", "BIN"} {
		fx.op.GrantAccess(context.Background(), vault.DefaultTenant, "orders", n)
	}
	_, err := c.GetSecrets(ctx, "", refs)
	var ce *client.Error
	if !errors.As(err, &ce) || !errors.Is(err, client.ErrPending) || ce.Code != connect.CodeNotFound || len(ce.Results) != 3 {
		t.Fatalf("GetSecrets with a missing name: %v", err)
	}
	want := []keysmithv1.SecretStatus{keysmithv1.SecretStatus_SECRET_STATUS_NOT_READ, keysmithv1.SecretStatus_SECRET_STATUS_MISSING, keysmithv1.SecretStatus_SECRET_STATUS_NOT_READ}
	for i, r := range ce.Results {
		if r.Status != want[i] || r.Value != "" || r.ValueBytes != nil {
			t.Errorf("result %d: %v, want %v", i, r, want[i])
		}
	}
	fx.op.Put(context.Background(), vault.DefaultTenant, "B", []byte("b-value"), "")
	fx.op.GrantAccess(context.Background(), vault.DefaultTenant, "orders", "B")
	got, err := c.GetSecrets(ctx, "", refs)
	if err != nil || len(got) != 3 || string(got[0].Value) != "a-value" || string(got[1].Value) != "b-value" || !bytes.Equal(got[2].Value, []byte{0xff, 0x00, 0xfe}) {
		t.Fatalf("GetSecrets: %v, %v", got, err)
	}
	// Other tenants: no such tenant is NotFound.
	if _, err := c.GetSecret(ctx, "nope", "A", ""); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
}

// TestRateLimit: 1,000 wrong tokens from one address: 10 are looked at,
// the rest are ResourceExhausted, and all 1,000 are audited.
func TestRateLimit(t *testing.T) {
	fx := start(t, server.Options{}, nil)
	ctx := context.Background()
	var unauth, exhausted int
	began := time.Now()
	for i := range 1000 {
		tok, _ := newToken(t)
		_, err := fx.client(t, tok).GetSecret(ctx, "", "DB_URL", "")
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("call %d: %v", i, err)
		}
		switch ce.Code {
		case connect.CodeUnauthenticated:
			unauth++
		case connect.CodeResourceExhausted:
			exhausted++
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// 10 at once, then 10 a minute refilled while the loop runs.
	if allowed := 10 + int(time.Since(began).Minutes()*10) + 1; unauth < 10 || unauth > allowed || exhausted != 1000-unauth {
		t.Fatalf("%d unauthenticated, %d rate limited", unauth, exhausted)
	}
	recs, err := fx.op.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == "get" && !r.Success && r.IPAddress == "127.0.0.1" {
			n++
		}
	}
	if n != 1000 {
		t.Fatalf("%d audited attempts, want 1000", n)
	}
	if _, err := fx.op.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestPinning: a wrong pinned key or an untrusted certificate is refused
// before anything is sent.
func TestPinning(t *testing.T) {
	fx := start(t, server.Options{}, nil)
	tok, _ := newToken(t)
	wrong := strings.Repeat("0", 64)
	c, err := client.New(fx.addr, client.Options{Token: tok, Fingerprint: wrong})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(context.Background(), "", "DB_URL", "")
	if !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "not the pinned") {
		t.Fatalf("wrong pin: %v", err)
	}
	// No pin and no CA: the self-signed certificate does not verify.
	c, _ = client.New(fx.addr, client.Options{Token: tok})
	if _, err = c.GetSecret(context.Background(), "", "DB_URL", ""); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted: %v", err)
	}
	// The CA file: the certificate itself.
	c, _ = client.New(fx.addr, client.Options{Token: tok, CAFile: fx.certPEM})
	if _, err = c.GetSecret(context.Background(), "", "DB_URL", ""); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("trusted CA: %v", err)
	}
	// The right name is checked: 127.0.0.2 is not in the certificate.
	host := strings.Replace(fx.addr, "127.0.0.1", "127.0.0.2", 1)
	c, _ = client.New(host, client.Options{Token: tok, CAFile: fx.certPEM})
	if _, err = c.GetSecret(context.Background(), "", "DB_URL", ""); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("wrong name: %v", err)
	}
	if log := fx.log.String(); strings.Contains(log, tok) {
		t.Fatal("log holds the token")
	}
}

// blocking holds GetSecrets until release is closed.
type blocking struct {
	server.Backend
	started chan struct{}
	release chan struct{}
}

func (b *blocking) GetSecrets(ctx context.Context, c server.Caller, tenant string, refs []server.SecretRef) (*server.Read, error) {
	b.started <- struct{}{}
	<-b.release
	return b.Backend.GetSecrets(ctx, c, tenant, refs)
}

// TestDrain: on shutdown the server stops accepting and lets the call in
// flight finish; Serve returns nil.
func TestDrain(t *testing.T) {
	b := &blocking{started: make(chan struct{}, 1), release: make(chan struct{})}
	fx := start(t, server.Options{}, func(in server.Backend) server.Backend { b.Backend = in; return b })
	tok, id := newToken(t)
	fx.op.RegisterToken(context.Background(), tok, "orders", "")
	fx.op.ApproveToken(context.Background(), id)
	fx.op.Put(context.Background(), vault.DefaultTenant, "A", []byte("a-value"), "")
	fx.op.GrantAccess(context.Background(), vault.DefaultTenant, "orders", "A")
	c := fx.client(t, tok)
	got := make(chan error, 1)
	go func() {
		s, err := c.GetSecret(context.Background(), "", "A", "")
		if err == nil && string(s.Value) != "a-value" {
			err = errors.New("wrong value")
		}
		got <- err
	}()
	<-b.started
	fx.cancel()
	fx.cancel = nil
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fx.addr, time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting after shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-fx.done:
		t.Fatalf("Serve returned %v with a call in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	if err := <-got; err != nil {
		t.Fatalf("the call in flight: %v", err)
	}
	if err := <-fx.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
