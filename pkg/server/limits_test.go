package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

// grant registers, approves and grants tok's service name, with value.
func (fx *fixture) grant(t *testing.T, service, name, value string) (tok string) {
	t.Helper()
	ctx := context.Background()
	tok, id := newToken(t)
	if _, _, err := fx.op.RegisterToken(ctx, tok, service, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.op.ApproveToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.op.Put(ctx, vault.DefaultTenant, name, []byte(value), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.op.GrantAccess(ctx, vault.DefaultTenant, service, name); err != nil {
		t.Fatal(err)
	}
	return tok
}

func wantValue(t *testing.T, c *client.Client, name, want string) {
	t.Helper()
	s, err := c.GetSecret(context.Background(), "", name, "")
	if err != nil || string(s.Value) != want {
		t.Fatalf("GetSecret %s: %v, want %q", name, err, want)
	}
}

// slow holds GetSecrets until its context is done, as a store does.
type slow struct {
	server.Backend
	started chan struct{}
}

func (b *slow) GetSecrets(ctx context.Context, c server.Caller, tenant string, refs []server.SecretRef) (*server.Read, error) {
	b.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestRequestLimits: a request larger than MaxRequestBytes is
// ResourceExhausted before the backend is asked; a call that takes longer
// than MaxCallTime is DeadlineExceeded.
func TestRequestLimits(t *testing.T) {
	b := &slow{started: make(chan struct{}, 1)}
	fx := start(t, server.Options{MaxRequestBytes: 4096, MaxCallTime: 300 * time.Millisecond}, func(in server.Backend) server.Backend { b.Backend = in; return b })
	tok, _ := newToken(t)
	c := fx.client(t, tok)
	_, err := c.GetSecret(context.Background(), "", "A", strings.Repeat("d", 8192))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != connect.CodeResourceExhausted {
		t.Fatalf("an 8 KiB request with a 4 KiB limit: %v", err)
	}
	select {
	case <-b.started:
		t.Fatal("the backend was asked")
	default:
	}
	// The backend holds the call past the server's deadline (the
	// client's own is 30s).
	began := time.Now()
	_, err = c.GetSecret(context.Background(), "", "A", "")
	if !errors.As(err, &ce) || ce.Code != connect.CodeDeadlineExceeded {
		t.Fatalf("a call past the deadline: %v", err)
	}
	<-b.started
	if d := time.Since(began); d > 900*time.Millisecond {
		t.Fatalf("the deadline answered after %v", d)
	}
}

// TestRotationByAnotherProcess: a DEK rotation and a master-key rotation
// done by another keysmith (the operator's handle, as vault rotate-dek and
// vault rotate-master do) are picked up by the running server: reads keep
// working and new puts are readable through it. On SQLite and PostgreSQL.
func TestRotationByAnotherProcess(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) {
			fx := startOn(t, kind, server.Options{}, nil)
			ctx := context.Background()
			tok := fx.grant(t, "orders", "A", "a-1")
			c := fx.client(t, tok)
			wantValue(t, c, "A", "a-1")

			res, err := fx.op.RotateDEK(ctx, vault.DefaultTenant, nil)
			if err != nil || res.DEKVersion != 2 {
				t.Fatalf("rotate-dek: %+v %v", res, err)
			}
			wantValue(t, c, "A", "a-1")
			fx.op.Put(ctx, vault.DefaultTenant, "A", []byte("a-2"), "")
			wantValue(t, c, "A", "a-2")

			nk, err := masterkey.Generate(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if err := fx.op.RotateMaster(ctx, nk); err != nil {
				t.Fatal(err)
			}
			// The key source now gives the new key (a key file or key
			// command updated with the rotation).
			fx.mu.Lock()
			fx.key = nk
			fx.mu.Unlock()
			wantValue(t, c, "A", "a-2")
			fx.op.Put(ctx, vault.DefaultTenant, "A", []byte("a-3"), "")
			wantValue(t, c, "A", "a-3")
			fx.op.RotateDEK(ctx, vault.DefaultTenant, nil)
			fx.op.Put(ctx, vault.DefaultTenant, "B", []byte("b-1"), "")
			fx.op.GrantAccess(ctx, vault.DefaultTenant, "orders", "B")
			wantValue(t, c, "B", "b-1")
			wantValue(t, c, "A", "a-3")
			// The audit chain the server kept writing still verifies.
			if _, problems, err := fx.op.VerifyAll(ctx); err != nil || len(problems) > 0 {
				t.Fatalf("vault verify: %v %v", problems, err)
			}
		})
	}
}

// TestRotateEveryOnceAcrossServers: two servers' --rotate-every loops
// (every 2s, checking every 100ms) on one PostgreSQL rotate each data key
// once per period, not once per server.
func TestRotateEveryOnceAcrossServers(t *testing.T) {
	url := newVaultURL(t, postgresStore, "")
	k := testKey(t)
	// A data key's age counts from its creation, so the clock starts
	// before the vault (and its first DEK) is made: taken after it, a
	// rotation 2 s after the DEK's creation came 1.99 s "after start".
	began := time.Now()
	v, err := vault.Create(context.Background(), openStore(t, url, true), "dev", k, vault.Options{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Put(context.Background(), vault.DefaultTenant, "A", []byte("a-value"), "")
	if err := v.AddTenant(context.Background(), "second"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	rotations := map[string][]time.Time{}
	var wg sync.WaitGroup
	for i := range 2 {
		b := server.NewVaultBackend(openVault(t, url, k, "server"), "server", nil)
		defer b.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			server.RotateLoop(ctx, b, 2*time.Second, 100*time.Millisecond, func(tenant string, err error) {
				if err != nil {
					t.Errorf("server %d: %v", i, err)
					return
				}
				mu.Lock()
				rotations[tenant] = append(rotations[tenant], time.Now())
				mu.Unlock()
			})
		}()
	}
	time.Sleep(5 * time.Second)
	cancel()
	wg.Wait()
	tenants, err := v.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range tenants {
		got := rotations[tn.Name]
		// Created at 0: rotated at about 2s and 4s.
		if len(got) != 2 || tn.DEKVersion != 3 {
			t.Errorf("tenant %s: %d rotations (DEK version %d), want 2 in 5s", tn.Name, len(got), tn.DEKVersion)
			continue
		}
		// (reports come after the commit; the key's age counts from its transaction)
		if got[0].Sub(began) < 2*time.Second || got[1].Sub(got[0]) < 1800*time.Millisecond {
			t.Errorf("tenant %s: rotated at %v and %v after start: sooner than every 2s", tn.Name, got[0].Sub(began), got[1].Sub(began))
		}
	}
	if s, err := v.Get(context.Background(), vault.DefaultTenant, "A", 0); err != nil || string(s.Value) != "a-value" {
		t.Fatalf("after the rotations: %v", err)
	}
}

// testCA is a CA for certificates a test makes.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // file
}

func newCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, pem: filepath.Join(dir, name+".pem")}
	os.WriteFile(ca.pem, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return ca
}

// issue writes a server certificate for 127.0.0.1 valid from nb to na
// into certFile/keyFile and returns its SPKI fingerprint.
func (ca *testCA) issue(t *testing.T, certFile, keyFile string, nb, na time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "keysmith"}, NotBefore: nb, NotAfter: na,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	// Written as a rotation tool would: new file, renamed over the old.
	for f, b := range map[string][]byte{certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})} {
		if err := os.WriteFile(f+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f+".new", f); err != nil {
			t.Fatal(err)
		}
	}
	leaf, _ := x509.ParseCertificate(der)
	return server.SPKIFingerprint(leaf)
}

// serveFiles serves with --tls-cert/--tls-key files (no vault needed: the
// calls are refused at the token, which is enough to show a connection).
func serveFiles(t *testing.T, certFile, keyFile string) (addr string, src *server.CertSource) {
	t.Helper()
	src, err := server.LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	fx := start(t, server.Options{}, nil)
	fx.stop(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Backend: server.NewVaultBackend(openVault(t, fx.path, fx.key, "server"), "server", nil)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, src.TLSConfig()) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String(), src
}

// connects reports how a call with opts fares: nil when the TLS
// connection was made (the call itself is refused for its unknown token).
func connects(addr string, opts client.Options) error {
	tok, _ := client.NewToken(rand.Reader)
	opts.Token = tok
	c, err := client.New(addr, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.GetSecret(context.Background(), "", "A", "")
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == connect.CodeUnauthenticated {
		return nil
	}
	if err == nil {
		return errors.New("read with an unknown token")
	}
	return err
}

// TestTLSFilesReloadAndRefusals: with --tls-cert/--tls-key, a reload (what
// SIGHUP does) serves the new certificate: a client pinning the new
// fingerprint connects and one pinning the old refuses. An expired
// certificate, a certificate of another CA and a wrong pin are refused by
// the client.
func TestTLSFilesReloadAndRefusals(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	now := time.Now()
	fp1 := ca.issue(t, certFile, keyFile, now.Add(-time.Hour), now.Add(time.Hour))
	addr, src := serveFiles(t, certFile, keyFile)
	if err := connects(addr, client.Options{Fingerprint: fp1}); err != nil {
		t.Fatalf("pinning the certificate: %v", err)
	}
	if err := connects(addr, client.Options{CAFile: ca.pem}); err != nil {
		t.Fatalf("trusting the CA: %v", err)
	}
	wrongPin := strings.Repeat("ab", 32)
	if err := connects(addr, client.Options{Fingerprint: wrongPin}); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "not the pinned") {
		t.Fatalf("a wrong pin: %v", err)
	}

	// A new certificate in the files, then SIGHUP's reload.
	fp2 := ca.issue(t, certFile, keyFile, now.Add(-time.Hour), now.Add(time.Hour))
	if fp2 == fp1 {
		t.Fatal("same key")
	}
	if err := connects(addr, client.Options{Fingerprint: fp1}); err != nil {
		t.Fatalf("before the reload: %v", err)
	}
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if src.Fingerprint() != fp2 {
		t.Fatalf("reloaded fingerprint %s, want %s", src.Fingerprint(), fp2)
	}
	if err := connects(addr, client.Options{Fingerprint: fp2}); err != nil {
		t.Fatalf("pinning the new certificate after the reload: %v", err)
	}
	if err := connects(addr, client.Options{Fingerprint: fp1}); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("pinning the old certificate after the reload: %v", err)
	}
	// A broken file: the reload fails and the certificate in use stays.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	if err := src.Reload(); err == nil {
		t.Fatal("reloaded a broken key")
	}
	if err := connects(addr, client.Options{Fingerprint: fp2}); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}

	// Expired: refused although the CA is trusted.
	ca.issue(t, certFile, keyFile, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	src.Reload()
	if err := connects(addr, client.Options{CAFile: ca.pem}); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired certificate: %v", err)
	}
	// Another CA's certificate: refused.
	other := newCA(t, dir, "other")
	other.issue(t, certFile, keyFile, now.Add(-time.Hour), now.Add(time.Hour))
	src.Reload()
	if err := connects(addr, client.Options{CAFile: ca.pem}); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("another CA's certificate: %v", err)
	}
	if err := connects(addr, client.Options{CAFile: other.pem}); err != nil {
		t.Fatalf("trusting the other CA: %v", err)
	}
}

// TestTokenCompareConstantTime: the token's secret is compared as a
// SHA-256 hash with subtle.ConstantTimeCompare, also for an unknown ID
// (against a dummy hash) — asserted on the vault's source, so that a
// later "==" or bytes.Equal on a hash fails here — and over TCP a known
// ID with a wrong secret is answered exactly as an unknown token.
func TestTokenCompareConstantTime(t *testing.T) {
	fset := token.NewFileSet()
	files, _ := filepath.Glob("../vault/*.go")
	var constTime int
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			mentionsHash := func(e ast.Expr) bool {
				found := false
				ast.Inspect(e, func(m ast.Node) bool {
					if id, ok := m.(*ast.Ident); ok && (id.Name == "TokenHash" || id.Name == "Hash" || id.Name == "dummyHash") {
						found = true
					}
					return true
				})
				return found
			}
			switch x := n.(type) {
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok || len(x.Args) != 2 {
					return true
				}
				pkg, _ := sel.X.(*ast.Ident)
				if pkg == nil || !mentionsHash(x.Args[0]) && !mentionsHash(x.Args[1]) {
					return true
				}
				switch pkg.Name + "." + sel.Sel.Name {
				case "subtle.ConstantTimeCompare":
					constTime++
				case "bytes.Equal", "reflect.DeepEqual", "slices.Equal":
					t.Errorf("%s: a token hash compared with %s.%s, not subtle.ConstantTimeCompare", fset.Position(x.Pos()), pkg.Name, sel.Sel.Name)
				}
			case *ast.BinaryExpr:
				if (x.Op == token.EQL || x.Op == token.NEQ) && (mentionsHash(x.X) || mentionsHash(x.Y)) {
					if id, ok := x.Y.(*ast.Ident); ok && id.Name == "nil" {
						return true
					}
					// subtle.ConstantTimeCompare(...) != 1: its result, not the hash.
					if call, ok := x.X.(*ast.CallExpr); ok {
						if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
							return true
						}
					}
					t.Errorf("%s: a token hash compared with %s", fset.Position(x.Pos()), x.Op)
				}
			}
			return true
		})
	}
	// authenticate (known and unknown ID) and RegisterToken's re-registration.
	if constTime < 3 {
		t.Errorf("%d constant-time comparisons of token hashes in pkg/vault, want at least 3", constTime)
	}

	fx := start(t, server.Options{}, nil)
	tok := fx.grant(t, "orders", "A", "a-value")
	forged := tok[:len(tok)-4] + "AAAA"
	unknown, _ := newToken(t)
	var msgs []string
	for _, tk := range []string{forged, unknown} {
		_, err := fx.client(t, tk).GetSecret(context.Background(), "", "A", "")
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Code != connect.CodeUnauthenticated {
			t.Fatalf("%v", err)
		}
		id, _ := vault.ParseToken(tk)
		msgs = append(msgs, strings.ReplaceAll(err.Error(), id, "ID"))
	}
	if msgs[0] != msgs[1] {
		t.Errorf("a known ID with a wrong secret is told apart from an unknown token:\n%s\n%s", msgs[0], msgs[1])
	}
	wantValue(t, fx.client(t, tok), "A", "a-value")
}
