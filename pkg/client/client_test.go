package client_test

// Tests of pkg/client against a real keysmith server: pkg/server run
// in-process on 127.0.0.1 over real TCP and TLS 1.3 (or a real unix
// socket), backed by a real SQLite vault in t.TempDir(). Nothing of TLS,
// gRPC or the store is mocked.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// ---------------------------------------------------------------------
// The server under test.

// syncBuffer is the server's decision log, written by its goroutines.
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

// env is one SQLite vault served by one or more in-process servers.
type env struct {
	dir     string
	op      *vault.Vault // the operator's handle on the vault
	backend *server.VaultBackend
	log     *syncBuffer

	addr    string // the main server: TCP + TLS, self-signed certificate
	fp      string // its SPKI fingerprint
	certPEM string // its self-signed certificate file
	certs   *server.CertSource
}

// tlsConf is a new TLS configuration of the main server's certificate,
// one per server: http.Server changes the one it is given.
func (e *env) tlsConf() *tls.Config { return e.certs.TLSConfig() }

// newEnv creates a vault and serves it on 127.0.0.1 (a free port) over
// TLS with a self-signed certificate, as keysmith serve does. The
// failed-authentication limit is off: tests call with bad tokens a lot.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{dir: t.TempDir(), log: &syncBuffer{}}
	k, err := masterkey.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "vault.db")
	st, err := sqlite.Create(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Create(ctx, st, "dev", k, vault.Options{Actor: "keysmith-serve"})
	if err != nil {
		t.Fatal(err)
	}
	e.backend = server.NewVaultBackend(v, "keysmith-serve", nil)
	t.Cleanup(func() { e.backend.Close() })
	// The operator works on the server's own handle: a Vault is safe for
	// concurrent use, and a second handle would cost another key
	// derivation per test.
	e.op = v

	src, _, err := server.SelfSigned(filepath.Join(e.dir, "serve"), server.ListenNames("127.0.0.1:0"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.fp = src.Fingerprint()
	e.certPEM = filepath.Join(e.dir, "serve", "server.crt")
	e.certs = src
	e.addr = e.serve(t, server.Options{}, tcpListener(t), e.tlsConf())
	return e
}

func tcpListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serve runs another server on ln (TLS with conf, or plaintext on a unix
// socket when conf is nil) over the same vault, unless opts names another
// backend; it stops when the test ends. AuthFailures 0 means no limit
// here. It returns the listener's address.
func (e *env) serve(t *testing.T, opts server.Options, ln net.Listener, conf *tls.Config) string {
	t.Helper()
	if opts.Backend == nil {
		opts.Backend = e.backend
	}
	if opts.AuthFailures == 0 {
		opts.AuthFailures = -1
	}
	opts.Log = server.NewLogger(e.log)
	if opts.DrainTime == 0 {
		opts.DrainTime = 5 * time.Second
	}
	srv := server.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, conf) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// serveUnix serves the vault on a new unix socket and returns "unix:PATH".
func (e *env) serveUnix(t *testing.T) string {
	t.Helper()
	addr, _ := e.serveUnixRecorded(t)
	return addr
}

// prefaceListener records the first bytes of each connection it accepts.
type prefaceListener struct {
	net.Listener
	mu       sync.Mutex
	prefaces []string
}

func (l *prefaceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &prefaceConn{Conn: c, l: l}, nil
}

func (l *prefaceListener) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.prefaces...)
}

type prefaceConn struct {
	net.Conn
	l    *prefaceListener
	once sync.Once
}

func (c *prefaceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.once.Do(func() {
			c.l.mu.Lock()
			c.l.prefaces = append(c.l.prefaces, string(p[:min(n, 24)]))
			c.l.mu.Unlock()
		})
	}
	return n, err
}

// serveUnixRecorded is serveUnix, also returning the listener that
// records how each connection began.
func (e *env) serveUnixRecorded(t *testing.T) (string, *prefaceListener) {
	t.Helper()
	// A short directory: socket paths are limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "ksc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "keysmith.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	pl := &prefaceListener{Listener: ln}
	e.serve(t, server.Options{}, pl, nil)
	return "unix:" + path, pl
}

// serveCert serves the vault over TLS with the certificate in the PEM
// files, as keysmith serve --tls-cert/--tls-key does.
func (e *env) serveCert(t *testing.T, certFile, keyFile string) string {
	t.Helper()
	src, err := server.LoadCertFiles(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return e.serve(t, server.Options{}, tcpListener(t), src.TLSConfig())
}

// client is a client of addr pinning the main server's key, with tok.
func (e *env) client(t *testing.T, addr, tok string) *client.Client {
	t.Helper()
	return newClient(t, addr, client.Options{Token: tok, Fingerprint: e.fp, UserAgent: "client-test"})
}

func newClient(t *testing.T, addr string, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.New(addr, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

func newToken(t *testing.T) (tok, id string) {
	t.Helper()
	tok, err := client.NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err = vault.ParseToken(tok)
	if err != nil {
		t.Fatalf("ParseToken(NewToken()): %v", err)
	}
	return tok, id
}

// service registers and approves a token for service through the vault
// (as an operator would after keysmith token register) and returns it.
func (e *env) service(t *testing.T, service string) string {
	t.Helper()
	tok, id := newToken(t)
	ctx := context.Background()
	if _, _, err := e.op.RegisterToken(ctx, tok, service, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.op.ApproveToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	return tok
}

// put stores value as name in tenant and grants it to service.
func (e *env) put(t *testing.T, tenant, service, name string, value []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.op.Put(ctx, tenant, name, value, ""); err != nil {
		t.Fatal(err)
	}
	if service != "" {
		if _, err := e.op.GrantAccess(ctx, tenant, service, name); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) auditCount(t *testing.T, action string) int {
	t.Helper()
	recs, err := e.op.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == action {
			n++
		}
	}
	return n
}

// ---------------------------------------------------------------------
// Assertions.

var kinds = []struct {
	name string
	err  error
}{
	{"ErrPermissionDenied", client.ErrPermissionDenied},
	{"ErrPending", client.ErrPending},
	{"ErrNotFound", client.ErrNotFound},
	{"ErrInvalid", client.ErrInvalid},
	{"ErrUnavailable", client.ErrUnavailable},
}

// wantKind checks that err is a *client.Error of exactly kind (no other
// kind matches), with code and reason (reason -1: not checked), naming
// server, and returns it.
func wantKind(t *testing.T, err, kind error, code connect.Code, reason keysmithv1.ErrorReason, server string) *client.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", kind)
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v (%T): not a *client.Error", err, err)
	}
	for _, k := range kinds {
		if got, want := errors.Is(err, k.err), k.err == kind; got != want {
			t.Errorf("errors.Is(%q, %s) = %v, want %v (code %v, reason %v)", err, k.name, got, want, ce.Code, ce.Reason)
		}
	}
	if ce.Code != code {
		t.Errorf("%q: code %v, want %v", err, ce.Code, code)
	}
	if reason >= 0 && ce.Reason != reason {
		t.Errorf("%q: reason %v, want %v", err, ce.Reason, reason)
	}
	if ce.Server != server {
		t.Errorf("%q: Server %q, want %q", err, ce.Server, server)
	}
	if err.Error() == "" {
		t.Errorf("empty error text (code %v)", ce.Code)
	}
	return ce
}

// noLeak fails if any secret appears in err's text (or in its %+v form).
func noLeak(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, form := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err)} {
		for _, s := range secrets {
			if s != "" && strings.Contains(form, s) {
				t.Errorf("error text %q holds a secret (%.12s...)", form, s)
			}
		}
	}
}

// tokenParts are a token and its secret part (the text after the ID):
// neither may ever be shown.
func tokenParts(tok string) []string {
	return []string{tok, tok[len(tok)-43:]}
}

// ---------------------------------------------------------------------
// New: addresses and TLS options.

func TestNewAddressForms(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "k.sock")
	for _, addr := range []string{
		"127.0.0.1:7743",
		"localhost:7743",
		"keysmith.example.com:443",
		"[::1]:7743",
		"https://127.0.0.1:7743",
		"https://127.0.0.1:7743/", // a trailing slash is trimmed
		"https://keysmith.example.com:443",
		"unix:" + sock, // need not exist yet: New does not connect
		"unix:relative.sock",
	} {
		c, err := client.New(addr, client.Options{Token: "x", Fingerprint: strings.Repeat("ab", 32)})
		if err != nil || c == nil {
			t.Errorf("New(%q): %v", addr, err)
			continue
		}
		c.Close()
	}
	for _, addr := range []string{
		"",
		"unix:",                           // no socket path
		"https://127.0.0.1:7743/api",      // a path
		"https://127.0.0.1:7743/keysmith", //
		"127.0.0.1:7743/x",                //
		"http://127.0.0.1:7743",           // not TLS: only https:// or unix:
		"127.0.0.1",                       // no port
		"localhost",                       //
		"https://localhost",               //
		"https://",                        //
		"::1",                             // an IPv6 address without brackets or port
	} {
		c, err := client.New(addr, client.Options{Token: "x"})
		if !errors.Is(err, client.ErrInvalid) {
			t.Errorf("New(%q) = %v, %v; want ErrInvalid", addr, c, err)
			continue
		}
		if c != nil {
			t.Errorf("New(%q): a client with an error", addr)
		}
		for _, k := range kinds[:4] {
			if k.err != client.ErrInvalid && errors.Is(err, k.err) {
				t.Errorf("New(%q): %v is also %s", addr, err, k.name)
			}
		}
	}
}

func TestNewFingerprintForms(t *testing.T) {
	good := strings.Repeat("0123456789abcdef", 4)
	colons := func(s string) string {
		var parts []string
		for i := 0; i < len(s); i += 2 {
			parts = append(parts, s[i:i+2])
		}
		return strings.Join(parts, ":")
	}
	for _, fp := range []string{good, strings.ToUpper(good), "sha256:" + good, "SHA256:" + strings.ToUpper(good), colons(good), "  " + good + "\n"} {
		c, err := client.New("127.0.0.1:7743", client.Options{Fingerprint: fp})
		if err != nil {
			t.Errorf("fingerprint %q: %v", fp, err)
			continue
		}
		c.Close()
	}
	for _, fp := range []string{"abc", good[:62], good + "00", strings.Repeat("zz", 32), "sha1:" + good, good[:63] + "g", "0x" + good[:62]} {
		_, err := client.New("127.0.0.1:7743", client.Options{Fingerprint: fp})
		if !errors.Is(err, client.ErrInvalid) {
			t.Errorf("fingerprint %q: %v, want ErrInvalid", fp, err)
		}
	}
	// The fingerprint is a TLS option: a unix socket has no TLS and
	// does not look at it.
	if _, err := client.New("unix:/nonexistent.sock", client.Options{Fingerprint: "abc"}); err != nil {
		t.Errorf("unix socket with an unused fingerprint: %v", err)
	}
}

func TestNewCAFile(t *testing.T) {
	dir := t.TempDir()
	_, err := client.New("127.0.0.1:7743", client.Options{CAFile: filepath.Join(dir, "missing.pem")})
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing CA file: %v, want an error wrapping fs.ErrNotExist", err)
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("this is not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New("127.0.0.1:7743", client.Options{CAFile: garbage}); !errors.Is(err, client.ErrInvalid) || !strings.Contains(err.Error(), "garbage.pem") {
		t.Errorf("non-PEM CA file: %v, want ErrInvalid naming the file", err)
	}
	// PEM, but no certificate in it: a private key.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = client.New("127.0.0.1:7743", client.Options{CAFile: keyFile})
	if !errors.Is(err, client.ErrInvalid) {
		t.Errorf("CA file holding a key: %v, want ErrInvalid", err)
	}
	// The key's PEM never shows in the error.
	noLeak(t, err, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))[30:90])
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New("127.0.0.1:7743", client.Options{CAFile: empty}); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("empty CA file: %v, want ErrInvalid", err)
	}
}

// ---------------------------------------------------------------------
// TLS against the real server.

// testCA is a certificate authority of the test's own.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

func newCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, file: file}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue makes a server certificate for dns and ips, valid from nb to na,
// and writes it and its key to PEM files; fp is its SPKI fingerprint.
func (ca *testCA) issue(t *testing.T, dir, name string, dns []string, ips []net.IP, nb, na time.Time) (certFile, keyFile, fp string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return certFile, keyFile, server.SPKIFingerprint(leaf)
}

func TestPinnedFingerprint(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("postgres://orders:pinned-s3cret@db/orders"))
	ctx := context.Background()
	raw, err := hex.DecodeString(e.fp)
	if err != nil {
		t.Fatal(err)
	}
	var colons []string
	for _, b := range raw {
		colons = append(colons, fmt.Sprintf("%02X", b))
	}
	for _, fp := range []string{e.fp, "sha256:" + strings.ToUpper(e.fp), strings.Join(colons, ":")} {
		for _, addr := range []string{e.addr, "https://" + e.addr, "https://" + e.addr + "/"} {
			c := newClient(t, addr, client.Options{Token: tok, Fingerprint: fp})
			s, err := c.GetSecret(ctx, "", "DB_URL", "")
			if err != nil {
				t.Fatalf("pin %q at %q: %v", fp, addr, err)
			}
			if string(s.Value) != "postgres://orders:pinned-s3cret@db/orders" || s.Version != 1 || s.Name != "DB_URL" {
				t.Fatalf("pin %q at %q: %+v", fp, addr, s)
			}
		}
	}
}

func TestWrongPinRefusedBeforeSending(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("wrong-pin-s3cret"))
	gets := e.auditCount(t, "get")
	ctx := context.Background()

	// Another key's fingerprint (a key that exists, not zeros).
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	sum := sha256Hex(spki)
	for _, wrong := range []string{strings.Repeat("0", 64), sum} {
		c := newClient(t, e.addr, client.Options{Token: tok, Fingerprint: wrong})
		_, err := c.GetSecret(ctx, "", "DB_URL", "")
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, keysmithv1.ErrorReason_ERROR_REASON_UNSPECIFIED, e.addr)
		if !strings.Contains(err.Error(), "not the pinned") || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), e.fp) {
			t.Errorf("wrong pin: %q, want it to name both fingerprints", err)
		}
		if !strings.HasPrefix(err.Error(), "server "+e.addr+": ") {
			t.Errorf("wrong pin: %q does not name the server", err)
		}
		noLeak(t, err, append(tokenParts(tok), "wrong-pin-s3cret")...)
		_, err = c.GetSecrets(ctx, "", []client.Ref{{Name: "DB_URL"}})
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, -1, e.addr)
		_, err = c.RegisterToken(ctx, "orders", "")
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, -1, e.addr)
		noLeak(t, err, tokenParts(tok)...)
	}
	// Nothing reached the vault: no read, no refusal was audited.
	if n := e.auditCount(t, "get"); n != gets {
		t.Errorf("%d get audit rows after refused handshakes, want %d", n, gets)
	}
	if strings.Contains(e.log.String(), tok) {
		t.Error("the server log holds the token")
	}
}

func sha256Hex(b []byte) string {
	leaf := &x509.Certificate{RawSubjectPublicKeyInfo: b}
	return server.SPKIFingerprint(leaf)
}

func TestUntrustedCertificateRefused(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	ctx := context.Background()
	gets := e.auditCount(t, "get")
	otherCA := newCA(t, t.TempDir(), "other-ca")
	for name, opts := range map[string]client.Options{
		"system roots":    {Token: tok},
		"another CA":      {Token: tok, RootCAs: otherCA.pool()},
		"another CA file": {Token: tok, CAFile: otherCA.file},
	} {
		c := newClient(t, e.addr, opts)
		_, err := c.GetSecret(ctx, "", "DB_URL", "")
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, keysmithv1.ErrorReason_ERROR_REASON_UNSPECIFIED, e.addr)
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: %q does not say the certificate was refused", name, err)
		}
		noLeak(t, err, tokenParts(tok)...)
	}
	if n := e.auditCount(t, "get"); n != gets {
		t.Errorf("%d get audit rows after refused handshakes, want %d", n, gets)
	}
}

// TestCATrust: a server certificate issued by a CA the client trusts
// (RootCAs or CAFile) verifies, for the names it covers only; the pin
// replaces the chain and name checks but not the dates.
func TestCATrust(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("ca-s3cret"))
	ctx := context.Background()
	dir := t.TempDir()
	ca := newCA(t, dir, "keysmith-test-ca")
	now := time.Now()

	// A certificate for 127.0.0.1 and localhost.
	crt, key, fp := ca.issue(t, dir, "good", []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, now.Add(-time.Hour), now.Add(time.Hour))
	addr := e.serveCert(t, crt, key)
	_, port, _ := net.SplitHostPort(addr)
	for name, opts := range map[string]client.Options{
		"RootCAs":       {Token: tok, RootCAs: ca.pool()},
		"CAFile":        {Token: tok, CAFile: ca.file},
		"CAFile+pin":    {Token: tok, CAFile: ca.file, Fingerprint: fp},
		"leaf pin only": {Token: tok, Fingerprint: fp},
	} {
		for _, a := range []string{addr, "localhost:" + port, "https://localhost:" + port} {
			s, err := newClient(t, a, opts).GetSecret(ctx, "", "DB_URL", "")
			if err != nil || string(s.Value) != "ca-s3cret" {
				t.Errorf("%s at %s: %+v, %v", name, a, s, err)
			}
		}
	}
	// The main server's self-signed certificate as its own CA file.
	if s, err := newClient(t, e.addr, client.Options{Token: tok, CAFile: e.certPEM}).GetSecret(ctx, "", "DB_URL", ""); err != nil || string(s.Value) != "ca-s3cret" {
		t.Errorf("self-signed certificate as CA file: %+v, %v", s, err)
	}

	// A certificate for localhost only: 127.0.0.1 is another name.
	crt, key, fp = ca.issue(t, dir, "localhost-only", []string{"localhost"}, nil, now.Add(-time.Hour), now.Add(time.Hour))
	addr = e.serveCert(t, crt, key)
	_, port, _ = net.SplitHostPort(addr)
	if _, err := newClient(t, "localhost:"+port, client.Options{Token: tok, RootCAs: ca.pool()}).GetSecret(ctx, "", "DB_URL", ""); err != nil {
		t.Errorf("localhost-only certificate at localhost: %v", err)
	}
	_, err := newClient(t, addr, client.Options{Token: tok, RootCAs: ca.pool()}).GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, -1, addr)
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("wrong name: %q does not say which", err)
	}
	noLeak(t, err, tokenParts(tok)...)
	// The pin does not look at names.
	if _, err := newClient(t, addr, client.Options{Token: tok, Fingerprint: fp}).GetSecret(ctx, "", "DB_URL", ""); err != nil {
		t.Errorf("pinned localhost-only certificate at 127.0.0.1: %v", err)
	}

	// An expired certificate and one not valid yet: refused with the CA,
	// and with the pin too ("the certificate's dates still count").
	for _, dates := range []struct {
		name   string
		nb, na time.Time
	}{
		{"expired", now.Add(-48 * time.Hour), now.Add(-time.Hour)},
		{"future", now.Add(time.Hour), now.Add(48 * time.Hour)},
	} {
		crt, key, fp := ca.issue(t, dir, dates.name, []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, dates.nb, dates.na)
		addr := e.serveCert(t, crt, key)
		_, err := newClient(t, addr, client.Options{Token: tok, RootCAs: ca.pool()}).GetSecret(ctx, "", "DB_URL", "")
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, -1, addr)
		_, err = newClient(t, addr, client.Options{Token: tok, Fingerprint: fp}).GetSecret(ctx, "", "DB_URL", "")
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, -1, addr)
		if !strings.Contains(err.Error(), "not valid now") {
			t.Errorf("%s certificate with its pin: %q", dates.name, err)
		}
		noLeak(t, err, tokenParts(tok)...)
	}
}

// ---------------------------------------------------------------------
// Reads.

func TestGetSecret(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	ctx := context.Background()
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("v1-value"))
	if _, err := e.op.Put(ctx, vault.DefaultTenant, "DB_URL", []byte("v2-value: ünïcode ✓"), ""); err != nil {
		t.Fatal(err)
	}
	bin := []byte{0xff, 0x00, 0xfe, 0x80, 'a'}
	e.put(t, vault.DefaultTenant, "orders", "tls/key.der", bin)
	nul := []byte("a\x00b")
	e.put(t, vault.DefaultTenant, "orders", "WITH_NUL", nul)
	e.put(t, vault.DefaultTenant, "orders", "EMPTY", []byte{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16) // 64 KiB
	e.put(t, vault.DefaultTenant, "orders", "BIG", big)

	c := e.client(t, e.addr, tok)
	s, err := c.GetSecret(ctx, "", "DB_URL", "ignored for an existing secret")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "DB_URL" || s.Version != 2 || string(s.Value) != "v2-value: ünïcode ✓" {
		t.Errorf("GetSecret: %+v", s)
	}
	// Not UTF-8: the server sends value_bytes, the client returns them.
	s, err = c.GetSecret(ctx, vault.DefaultTenant, "tls/key.der", "")
	if err != nil || !bytes.Equal(s.Value, bin) || s.Version != 1 || s.Name != "tls/key.der" {
		t.Errorf("binary value: %+v, %v", s, err)
	}
	s, err = c.GetSecret(ctx, "", "WITH_NUL", "")
	if err != nil || !bytes.Equal(s.Value, nul) {
		t.Errorf("value with NUL: %+v, %v", s, err)
	}
	s, err = c.GetSecret(ctx, "", "EMPTY", "")
	if err != nil || s.Value == nil || len(s.Value) != 0 || s.Version != 1 {
		t.Errorf("empty value: %+v, %v", s, err)
	}
	s, err = c.GetSecret(ctx, "", "BIG", "")
	if err != nil || !bytes.Equal(s.Value, big) {
		t.Errorf("64 KiB value: %d bytes, %v", len(s.Value), err)
	}
	// The caller's user agent reaches the server's log and audit.
	if !strings.Contains(e.log.String(), `"user_agent":"client-test"`) {
		t.Errorf("the server log has no line with the client's user agent:\n%s", e.log.String())
	}
	// The default user agent.
	if _, err := newClient(t, e.addr, client.Options{Token: tok, Fingerprint: e.fp}).GetSecret(ctx, "", "DB_URL", ""); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.log.String(), `"user_agent":"keysmith-client"`) {
		t.Errorf("no log line with the default user agent keysmith-client")
	}
}

func TestTenants(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	ctx := context.Background()
	if err := e.op.AddTenant(ctx, "team2"); err != nil {
		t.Fatal(err)
	}
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("default-value"))
	e.put(t, "team2", "orders", "DB_URL", []byte("team2-value"))
	c := e.client(t, e.addr, tok)
	for tenant, want := range map[string]string{"": "default-value", vault.DefaultTenant: "default-value", "team2": "team2-value"} {
		s, err := c.GetSecret(ctx, tenant, "DB_URL", "")
		if err != nil || string(s.Value) != want {
			t.Errorf("tenant %q: %+v, %v", tenant, s, err)
		}
		got, err := c.GetSecrets(ctx, tenant, []client.Ref{{Name: "DB_URL"}})
		if err != nil || len(got) != 1 || string(got[0].Value) != want {
			t.Errorf("GetSecrets tenant %q: %+v, %v", tenant, got, err)
		}
	}
	_, err := c.GetSecret(ctx, "nope", "DB_URL", "")
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT, e.addr)
	_, err = c.GetSecrets(ctx, "nope", []client.Ref{{Name: "DB_URL"}})
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT, e.addr)
}

func TestGetSecrets(t *testing.T) {
	e := newEnv(t)
	tok := e.service(t, "orders")
	ctx := context.Background()
	bin := []byte{0xc3, 0x28, 0xa0, 0xa1}
	e.put(t, vault.DefaultTenant, "orders", "A", []byte("a-s3cret"))
	e.put(t, vault.DefaultTenant, "orders", "BIN", bin)
	e.put(t, vault.DefaultTenant, "", "UNGRANTED", []byte("ungranted-s3cret"))
	c := e.client(t, e.addr, tok)

	refs := []client.Ref{{Name: "BIN"}, {Name: "A"}, {Name: "MISSING", Description: "what orders need"}}
	_, err := c.GetSecrets(ctx, "", refs)
	ce := wantKind(t, err, client.ErrPending, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING, e.addr)
	want := map[string]keysmithv1.SecretStatus{
		"BIN":     keysmithv1.SecretStatus_SECRET_STATUS_NOT_READ,
		"A":       keysmithv1.SecretStatus_SECRET_STATUS_NOT_READ,
		"MISSING": keysmithv1.SecretStatus_SECRET_STATUS_MISSING,
	}
	if len(ce.Results) != 3 {
		t.Fatalf("results: %v", ce.Results)
	}
	for i, r := range ce.Results {
		if r.SecretName != refs[i].Name || r.Status != want[r.SecretName] || r.Value != "" || r.ValueBytes != nil || r.Version != 0 {
			t.Errorf("result %d: %v", i, r)
		}
	}
	noLeak(t, err, append(tokenParts(tok), "a-s3cret", string(bin))...)
	// The stub records the description.
	stubs, err := e.op.Stubs(ctx, vault.DefaultTenant)
	if err != nil || len(stubs) != 1 || stubs[0].Name != "MISSING" || stubs[0].Description != "what orders need" {
		t.Errorf("stubs: %+v, %v", stubs, err)
	}

	// A secret that exists but is not granted: pending (FailedPrecondition).
	_, err = c.GetSecrets(ctx, "", []client.Ref{{Name: "A"}, {Name: "UNGRANTED"}})
	ce = wantKind(t, err, client.ErrPending, connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING, e.addr)
	if len(ce.Results) != 2 || ce.Results[1].Status != keysmithv1.SecretStatus_SECRET_STATUS_PENDING_APPROVAL || ce.Results[1].RequestId == 0 {
		t.Errorf("results: %v", ce.Results)
	}
	noLeak(t, err, "a-s3cret", "ungranted-s3cret")

	// Filled and granted: all at once, in the order asked, with versions.
	e.put(t, vault.DefaultTenant, "orders", "MISSING", []byte("now-here"))
	if _, err := e.op.Put(ctx, vault.DefaultTenant, "A", []byte("a-s3cret-2"), ""); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSecrets(ctx, "", refs)
	if err != nil {
		t.Fatal(err)
	}
	wantGot := []client.Secret{{Name: "BIN", Version: 1, Value: bin}, {Name: "A", Version: 2, Value: []byte("a-s3cret-2")}, {Name: "MISSING", Version: 1, Value: []byte("now-here")}}
	if len(got) != len(wantGot) {
		t.Fatalf("GetSecrets: %+v", got)
	}
	for i := range got {
		if got[i].Name != wantGot[i].Name || got[i].Version != wantGot[i].Version || !bytes.Equal(got[i].Value, wantGot[i].Value) {
			t.Errorf("secret %d: %+v, want %+v", i, got[i], wantGot[i])
		}
	}

	// A name twice: a result for each.
	got, err = c.GetSecrets(ctx, "", []client.Ref{{Name: "MISSING"}, {Name: "MISSING"}})
	if err != nil || len(got) != 2 || string(got[0].Value) != "now-here" || string(got[1].Value) != "now-here" {
		t.Errorf("a name twice: %+v, %v", got, err)
	}

	// Access revoked for one name: the whole call is refused.
	if err := e.op.RevokeAccess(ctx, vault.DefaultTenant, "orders", "A"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecrets(ctx, "", refs)
	ce = wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED, e.addr)
	if len(ce.Results) != 3 || ce.Results[1].Status != keysmithv1.SecretStatus_SECRET_STATUS_DENIED {
		t.Errorf("results: %v", ce.Results)
	}
	noLeak(t, err, "now-here", "a-s3cret-2", string(bin))

	// No names, a malformed name.
	_, err = c.GetSecrets(ctx, "", nil)
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, -1, e.addr)
	_, err = c.GetSecrets(ctx, "", []client.Ref{{Name: "BIN"}, {Name: "bad name!"}})
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
}

// TestErrorKinds: each refusal of the error table (docs/server.md) comes
// back as its kind, code and reason, and never shows the token or a value.
func TestErrorKinds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	approved := e.service(t, "orders")
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("kinds-s3cret"))
	e.put(t, vault.DefaultTenant, "", "OTHER", []byte("other-s3cret"))
	e.put(t, vault.DefaultTenant, "orders", "REVOKED", []byte("revoked-s3cret"))
	if err := e.op.RevokeAccess(ctx, vault.DefaultTenant, "orders", "REVOKED"); err != nil {
		t.Fatal(err)
	}
	pending, _ := newToken(t)
	if _, _, err := e.op.RegisterToken(ctx, pending, "billing", ""); err != nil {
		t.Fatal(err)
	}
	denied, deniedID := newToken(t)
	e.op.RegisterToken(ctx, denied, "billing2", "")
	if _, err := e.op.DenyToken(ctx, deniedID); err != nil {
		t.Fatal(err)
	}
	revoked := e.service(t, "billing3")
	revokedID, _ := vault.ParseToken(revoked)
	if _, err := e.op.RevokeToken(ctx, revokedID); err != nil {
		t.Fatal(err)
	}
	unknown, _ := newToken(t)
	forged := approved[:len(approved)-4] + "AAAA" // a known ID, another secret
	secrets := []string{"kinds-s3cret", "other-s3cret", "revoked-s3cret"}
	for _, tk := range []string{approved, pending, denied, revoked, unknown, forged} {
		secrets = append(secrets, tokenParts(tk)...)
	}

	for _, tc := range []struct {
		name        string
		tok         string
		tenant, sec string
		kind        error
		code        connect.Code
		reason      keysmithv1.ErrorReason
	}{
		{"no token", "", "", "DB_URL", client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING},
		{"malformed token", "not-a-token", "", "DB_URL", client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"unknown token", unknown, "", "DB_URL", client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"known ID, wrong secret", forged, "", "DB_URL", client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID},
		{"pending token", pending, "", "DB_URL", client.ErrPermissionDenied, connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_PENDING},
		{"denied token", denied, "", "DB_URL", client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_DENIED},
		{"revoked token", revoked, "", "DB_URL", client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED},
		{"missing secret", approved, "", "NOT_THERE", client.ErrPending, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING},
		{"not granted", approved, "", "OTHER", client.ErrPending, connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING},
		{"access revoked", approved, "", "REVOKED", client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED},
		{"unknown tenant", approved, "nope", "DB_URL", client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT},
		{"invalid tenant", approved, "Not A Tenant!", "DB_URL", client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT},
		{"malformed name", approved, "", "bad name!", client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT},
		{"empty name", approved, "", "", client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT},
		{"name too long", approved, "", strings.Repeat("N", 300), client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client(t, e.addr, tc.tok)
			s, err := c.GetSecret(ctx, tc.tenant, tc.sec, "a description")
			if s != nil {
				t.Errorf("a secret with an error: %+v", s)
			}
			ce := wantKind(t, err, tc.kind, tc.code, tc.reason, e.addr)
			if ce.Message == "" || err.Error() != ce.Message {
				t.Errorf("Error() %q, Message %q: want the server's message", err, ce.Message)
			}
			noLeak(t, err, secrets...)
			// GetSecrets of the one name: the same kind and reason.
			_, err = c.GetSecrets(ctx, tc.tenant, []client.Ref{{Name: tc.sec}})
			wantKind(t, err, tc.kind, tc.code, tc.reason, e.addr)
			noLeak(t, err, secrets...)
			// errors.As to an unrelated type neither panics nor matches.
			var ne *net.OpError
			if errors.As(err, &ne) {
				t.Errorf("%v is a *net.OpError", err)
			}
		})
	}
	// The missing secret became a stub with the description.
	stubs, err := e.op.Stubs(ctx, vault.DefaultTenant)
	if err != nil || len(stubs) != 1 || stubs[0].Name != "NOT_THERE" || stubs[0].Description != "a description" {
		t.Errorf("stubs: %+v, %v", stubs, err)
	}
	// The approved token still reads.
	if s, err := e.client(t, e.addr, approved).GetSecret(ctx, "", "DB_URL", ""); err != nil || string(s.Value) != "kinds-s3cret" {
		t.Fatalf("approved read: %+v, %v", s, err)
	}
	if log := e.log.String(); strings.Contains(log, approved) || strings.Contains(log, "kinds-s3cret") {
		t.Error("the server log holds a token or a value")
	}
}

// TestRateLimitedIsUnavailable: past the failed-authentication limit the
// server answers RATE_LIMITED, which the client reports as unavailable.
func TestRateLimitedIsUnavailable(t *testing.T) {
	e := newEnv(t)
	addr := e.serve(t, server.Options{AuthFailures: 2, AuthWindow: time.Hour}, tcpListener(t), e.tlsConf())
	ctx := context.Background()
	unknown, _ := newToken(t)
	c := e.client(t, addr, unknown)
	for range 2 {
		_, err := c.GetSecret(ctx, "", "DB_URL", "")
		wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, addr)
	}
	_, err := c.GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrUnavailable, connect.CodeResourceExhausted, keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED, addr)
	noLeak(t, err, tokenParts(unknown)...)
	// Even a good token is refused from this address now.
	good := e.service(t, "orders")
	_, err = e.client(t, addr, good).RegisterToken(ctx, "orders", "")
	wantKind(t, err, client.ErrUnavailable, connect.CodeResourceExhausted, keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED, addr)
}

// ---------------------------------------------------------------------
// Unreachable and slow servers.

func TestServerDown(t *testing.T) {
	ln := tcpListener(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	tok, _ := newToken(t)
	c := newClient(t, addr, client.Options{Token: tok, Fingerprint: strings.Repeat("ab", 32)})
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"GetSecret":     func() error { _, err := c.GetSecret(ctx, "", "DB_URL", ""); return err },
		"GetSecrets":    func() error { _, err := c.GetSecrets(ctx, "", []client.Ref{{Name: "DB_URL"}}); return err },
		"RegisterToken": func() error { _, err := c.RegisterToken(ctx, "orders", ""); return err },
		"Login":         func() error { _, err := c.Login(ctx); return err },
	} {
		began := time.Now()
		err := call()
		if d := time.Since(began); d > 3*time.Second {
			t.Errorf("%s: a closed port took %v", name, d)
		}
		wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, keysmithv1.ErrorReason_ERROR_REASON_UNSPECIFIED, addr)
		if !strings.HasPrefix(err.Error(), "server "+addr+": ") || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: %q, want it to name the server and the refused connection", name, err)
		}
		var oe *net.OpError
		if !errors.As(err, &oe) {
			t.Errorf("%s: %v does not unwrap to the *net.OpError", name, err)
		}
		noLeak(t, err, tokenParts(tok)...)
	}
	// A unix socket nobody listens on.
	sock := "unix:" + filepath.Join(t.TempDir(), "none.sock")
	c = newClient(t, sock, client.Options{Token: tok})
	_, err := c.GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrUnavailable, connect.CodeUnavailable, -1, sock)
	noLeak(t, err, tokenParts(tok)...)
}

// hangListener accepts TCP connections and never answers on them.
func hangListener(t *testing.T) string {
	t.Helper()
	ln := tcpListener(t)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c) // read what comes, answer nothing
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestTimeoutSilentListener(t *testing.T) {
	addr := hangListener(t)
	tok, _ := newToken(t)
	const timeout = 300 * time.Millisecond
	c := newClient(t, addr, client.Options{Token: tok, Fingerprint: strings.Repeat("ab", 32), Timeout: timeout})
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"GetSecret":     func() error { _, err := c.GetSecret(ctx, "", "DB_URL", ""); return err },
		"GetSecrets":    func() error { _, err := c.GetSecrets(ctx, "", []client.Ref{{Name: "DB_URL"}}); return err },
		"RegisterToken": func() error { _, err := c.RegisterToken(ctx, "orders", ""); return err },
	} {
		began := time.Now()
		err := call()
		d := time.Since(began)
		if d < timeout*9/10 || d > 5*timeout+time.Second {
			t.Errorf("%s: returned after %v with a %v timeout", name, d, timeout)
		}
		wantKind(t, err, client.ErrUnavailable, connect.CodeDeadlineExceeded, -1, addr)
		noLeak(t, err, tokenParts(tok)...)
	}
	// A caller's shorter deadline wins over Options.Timeout (default 30s).
	c = newClient(t, addr, client.Options{Token: tok, Fingerprint: strings.Repeat("ab", 32)})
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := c.GetSecret(dctx, "", "DB_URL", "")
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("caller deadline 200ms: returned after %v", d)
	}
	wantKind(t, err, client.ErrUnavailable, connect.CodeDeadlineExceeded, -1, addr)
	// A cancelled context returns at once.
	cctx, cancel2 := context.WithCancel(ctx)
	cancel2()
	began = time.Now()
	_, err = c.GetSecret(cctx, "", "DB_URL", "")
	if d := time.Since(began); d > time.Second || err == nil {
		t.Errorf("cancelled context: %v after %v", err, d)
	}
}

// stall holds every read until the call's context ends.
type stall struct {
	server.Backend
	entered chan struct{}
}

func (b *stall) GetSecrets(ctx context.Context, c server.Caller, tenant string, refs []server.SecretRef) (*server.Read, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestTimeoutSlowServer: the server accepts TLS and the call, then does
// not answer: Options.Timeout ends the call.
func TestTimeoutSlowServer(t *testing.T) {
	e := newEnv(t)
	b := &stall{Backend: e.backend, entered: make(chan struct{}, 1)}
	addr := e.serve(t, server.Options{Backend: b}, tcpListener(t), e.tlsConf())
	tok := e.service(t, "orders")
	const timeout = 400 * time.Millisecond
	c := newClient(t, addr, client.Options{Token: tok, Fingerprint: e.fp, Timeout: timeout})
	began := time.Now()
	_, err := c.GetSecret(context.Background(), "", "DB_URL", "")
	d := time.Since(began)
	select {
	case <-b.entered:
	default:
		t.Fatalf("the call never reached the backend: %v", err)
	}
	if d < timeout*9/10 || d > 5*timeout+time.Second {
		t.Errorf("returned after %v with a %v timeout", d, timeout)
	}
	wantKind(t, err, client.ErrUnavailable, connect.CodeDeadlineExceeded, -1, addr)
	noLeak(t, err, tokenParts(tok)...)
	// The same client still works against a server that answers.
	if _, err := c.RegisterToken(context.Background(), "orders", ""); err != nil {
		t.Errorf("RegisterToken after a timeout: %v", err)
	}
}

// ---------------------------------------------------------------------
// Registration.

func TestNewToken(t *testing.T) {
	re := regexp.MustCompile(`^kst1_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for range 50 {
		tok, id := newToken(t)
		if !re.MatchString(tok) {
			t.Fatalf("token %q does not match %v", tok, re)
		}
		if id != tok[5:21] {
			t.Fatalf("ParseToken ID %q, want %q", id, tok[5:21])
		}
		if seen[tok] || seen[id] {
			t.Fatalf("token repeated: %q", tok)
		}
		seen[tok], seen[id] = true, true
	}
	// The layout exactly: 8 bytes hex, "_", 32 bytes base64url.
	raw := make([]byte, 40)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	tok, err := client.NewToken(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := "kst1_" + hex.EncodeToString(raw[:8]) + "_" + base64.RawURLEncoding.EncodeToString(raw[8:])
	if tok != want {
		t.Fatalf("NewToken = %q, want %q", tok, want)
	}
	if id, err := vault.ParseToken(tok); err != nil || id != hex.EncodeToString(raw[:8]) {
		t.Fatalf("ParseToken: %q, %v", id, err)
	}
	// Not enough randomness: an error, no token.
	tok, err = client.NewToken(bytes.NewReader(raw[:39]))
	if err == nil || tok != "" {
		t.Fatalf("short reader: %q, %v", tok, err)
	}
	if _, err := client.NewToken(iotestErr{}); err == nil {
		t.Fatal("failing reader: no error")
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestRegisterTokenFlow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok, id := newToken(t)
	c := e.client(t, e.addr, tok)

	reg, err := c.RegisterToken(ctx, "orders", "2.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if reg.TokenID != id || reg.Status != "pending_approval" || !reg.Created || !strings.Contains(reg.Message, id) {
		t.Fatalf("register: %+v", reg)
	}
	noLeak(t, errors.New(reg.Message), tokenParts(tok)...)
	// Polling: the same status, not created again.
	reg, err = c.RegisterToken(ctx, "orders", "2.1.0")
	if err != nil || reg.Status != "pending_approval" || reg.Created || reg.TokenID != id {
		t.Fatalf("poll: %+v, %v", reg, err)
	}
	// The vault stored it as pending, for service orders.
	toks, err := e.op.Tokens(ctx)
	if err != nil || len(toks) != 1 || toks[0].ID != id || toks[0].Service != "orders" || toks[0].ServiceVersion != "2.1.0" || toks[0].Status != vault.TokenPending {
		t.Fatalf("tokens: %+v, %v", toks, err)
	}
	// Pending: no read.
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("flow-s3cret"))
	_, err = c.GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_PENDING, e.addr)
	noLeak(t, err, append(tokenParts(tok), "flow-s3cret")...)

	// The operator approves it through the vault API.
	if _, err := e.op.ApproveToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	reg, err = c.RegisterToken(ctx, "orders", "2.1.0")
	if err != nil || reg.Status != "approved" || reg.Created {
		t.Fatalf("after approval: %+v, %v", reg, err)
	}
	s, err := c.GetSecret(ctx, "", "DB_URL", "")
	if err != nil || string(s.Value) != "flow-s3cret" || s.Version != 1 {
		t.Fatalf("read after approval: %+v, %v", s, err)
	}

	// The same ID with another secret, or the same token for another
	// service: a conflict, a permission error.
	forged := tok[:len(tok)-4] + "AAAA"
	_, err = e.client(t, e.addr, forged).RegisterToken(ctx, "orders", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeAlreadyExists, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_CONFLICT, e.addr)
	noLeak(t, err, append(tokenParts(tok), tokenParts(forged)...)...)
	_, err = c.RegisterToken(ctx, "billing", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeAlreadyExists, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_CONFLICT, e.addr)

	// Malformed requests.
	_, err = e.client(t, e.addr, "kst1_not-a-token").RegisterToken(ctx, "orders", "")
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	noLeak(t, err, "kst1_not-a-token")
	tok2, id2 := newToken(t)
	c2 := e.client(t, e.addr, tok2)
	_, err = c2.RegisterToken(ctx, "bad service!", "")
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	_, err = c2.RegisterToken(ctx, "billing", "v\x01")
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	_, err = e.client(t, e.addr, "").RegisterToken(ctx, "orders", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING, e.addr)

	// Denied and revoked tokens report their status.
	if reg, err := c2.RegisterToken(ctx, "billing", ""); err != nil || !reg.Created || reg.TokenID != id2 {
		t.Fatalf("register billing: %+v, %v", reg, err)
	}
	if _, err := e.op.DenyToken(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if reg, err := c2.RegisterToken(ctx, "billing", ""); err != nil || reg.Status != "denied" || reg.Created {
		t.Errorf("denied: %+v, %v", reg, err)
	}
	if _, err := e.op.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	if reg, err := c.RegisterToken(ctx, "orders", ""); err != nil || reg.Status != "revoked" || reg.Created {
		t.Errorf("revoked: %+v, %v", reg, err)
	}
	_, err = c.GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED, e.addr)
	if log := e.log.String(); strings.Contains(log, tok) || strings.Contains(log, tok2) {
		t.Error("the server log holds a token")
	}
}

// ---------------------------------------------------------------------
// Concurrency and the unix socket.

// TestConcurrentUse: one Client shared by many goroutines, mixing reads,
// batch reads, refusals and registration polls (run it with -race).
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.service(t, "orders")
	const names = 4
	for i := range names {
		e.put(t, vault.DefaultTenant, "orders", fmt.Sprintf("S%d", i), []byte(fmt.Sprintf("value-%d", i)))
	}
	for _, addr := range []string{e.addr, e.serveUnix(t)} {
		c := newClient(t, addr, client.Options{Token: tok, Fingerprint: e.fp, UserAgent: "client-test-concurrent"})
		const workers, calls = 16, 6
		var wg sync.WaitGroup
		errs := make(chan error, workers*calls)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range calls {
					n := (w + i) % names
					switch (w + i) % 4 {
					case 0:
						s, err := c.GetSecret(ctx, "", fmt.Sprintf("S%d", n), "")
						if err != nil || string(s.Value) != fmt.Sprintf("value-%d", n) {
							errs <- fmt.Errorf("worker %d GetSecret S%d: %+v, %v", w, n, s, err)
						}
					case 1:
						got, err := c.GetSecrets(ctx, "", []client.Ref{{Name: "S0"}, {Name: "S1"}, {Name: "S2"}, {Name: "S3"}})
						if err != nil || len(got) != names {
							errs <- fmt.Errorf("worker %d GetSecrets: %v", w, err)
							continue
						}
						for j, s := range got {
							if string(s.Value) != fmt.Sprintf("value-%d", j) {
								errs <- fmt.Errorf("worker %d GetSecrets %d: %+v", w, j, s)
							}
						}
					case 2:
						_, err := c.GetSecret(ctx, "", "bad name!", "")
						if !errors.Is(err, client.ErrInvalid) {
							errs <- fmt.Errorf("worker %d bad name: %v", w, err)
						}
					case 3:
						reg, err := c.RegisterToken(ctx, "orders", "")
						if err != nil || reg.Status != "approved" {
							errs <- fmt.Errorf("worker %d RegisterToken: %+v, %v", w, reg, err)
						}
					}
				}
			}()
		}
		// Close from another goroutine while calls run: it only drops idle
		// connections, calls go on.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				c.Close()
				time.Sleep(5 * time.Millisecond)
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestUnixSocket(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	addr, rec := e.serveUnixRecorded(t)
	tok, id := newToken(t)
	// No TLS options are needed (or looked at) on a unix socket.
	c := newClient(t, addr, client.Options{Token: tok})
	reg, err := c.RegisterToken(ctx, "orders", "")
	if err != nil || reg.Status != "pending_approval" || !reg.Created {
		t.Fatalf("register over the socket: %+v, %v", reg, err)
	}
	_, err = c.GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_PENDING, addr)
	if _, err := e.op.ApproveToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetSecret(ctx, "", "DB_URL", "for orders")
	wantKind(t, err, client.ErrPending, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING, addr)
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("unix-s3cret"))
	e.put(t, vault.DefaultTenant, "orders", "BIN", []byte{0xff, 0xfe})
	s, err := c.GetSecret(ctx, "", "DB_URL", "")
	if err != nil || string(s.Value) != "unix-s3cret" || s.Version != 1 {
		t.Fatalf("read over the socket: %+v, %v", s, err)
	}
	got, err := c.GetSecrets(ctx, "", []client.Ref{{Name: "DB_URL"}, {Name: "BIN"}})
	if err != nil || len(got) != 2 || !bytes.Equal(got[1].Value, []byte{0xff, 0xfe}) {
		t.Fatalf("GetSecrets over the socket: %+v, %v", got, err)
	}
	_, err = c.GetSecret(ctx, "nope", "DB_URL", "")
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT, addr)
	noLeak(t, err, append(tokenParts(tok), "unix-s3cret")...)
	// Plaintext HTTP/2 with prior knowledge: every connection opens
	// with the HTTP/2 client preface.
	if seen := rec.seen(); len(seen) == 0 {
		t.Error("no connection recorded")
	} else {
		for _, p := range seen {
			if !strings.HasPrefix(p, "PRI * HTTP/2.0") {
				t.Errorf("a connection over the socket began %q, not with the HTTP/2 preface", p)
			}
		}
	}
	// The audit records the caller as "unix".
	recs, err := e.op.Audit(ctx, vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.Action == "get" && r.Success && r.Object == "DB_URL" {
			found = true
			if r.IPAddress != "unix" || r.UserAgent != "keysmith-client" {
				t.Errorf("audit row over the socket: %+v", r)
			}
		}
	}
	if !found {
		t.Error("no audit row of the read")
	}
}

// TestTokenWithLineEnd: a token as read from a file, with its line end,
// reads: the client trims white space around the token as the server does
// (net/http refused the header, and the call came back as ErrUnavailable).
func TestTokenWithLineEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.service(t, "orders")
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte("line-end-s3cret"))
	if s, err := e.client(t, e.addr, "  "+tok+"\t").GetSecret(ctx, "", "DB_URL", ""); err != nil || string(s.Value) != "line-end-s3cret" {
		t.Fatalf("token with spaces around it: %+v, %v", s, err)
	}
	_, err := e.client(t, e.addr, tok+"\n").GetSecret(ctx, "", "DB_URL", "")
	noLeak(t, err, tokenParts(tok)...)
	if err != nil {
		t.Fatalf("token ending in a newline: %v, want it read (trimmed, as the server trims)", err)
	}
}

// TestNothingSecretInErrors: every failure path the other tests take,
// once more in one place, with the token and the value as needles.
func TestNothingSecretInErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tok := e.service(t, "orders")
	const value = "n0thing-s3cret-in-errors"
	e.put(t, vault.DefaultTenant, "orders", "DB_URL", []byte(value))
	e.put(t, vault.DefaultTenant, "", "UNGRANTED", []byte(value+"-ungranted"))
	needles := append(tokenParts(tok), value)
	down := tcpListener(t)
	downAddr := down.Addr().String()
	down.Close()
	hang := hangListener(t)
	var errs []error
	add := func(_ any, err error) {
		if err == nil {
			t.Error("a call that should fail succeeded")
			return
		}
		errs = append(errs, err)
	}
	pinned := e.client(t, e.addr, tok)
	add(pinned.GetSecret(ctx, "", "UNGRANTED", ""))
	add(pinned.GetSecret(ctx, "", "MISSING", value)) // the value as a description
	add(pinned.GetSecret(ctx, "", "bad name!", ""))
	add(pinned.GetSecrets(ctx, "", []client.Ref{{Name: "DB_URL"}, {Name: "UNGRANTED"}}))
	add(pinned.GetSecret(ctx, "nope", "DB_URL", ""))
	add(pinned.RegisterToken(ctx, "another-service", ""))
	add(newClient(t, e.addr, client.Options{Token: tok, Fingerprint: strings.Repeat("1", 64)}).GetSecret(ctx, "", "DB_URL", ""))
	add(newClient(t, e.addr, client.Options{Token: tok}).GetSecret(ctx, "", "DB_URL", ""))
	add(newClient(t, downAddr, client.Options{Token: tok, Fingerprint: e.fp}).GetSecret(ctx, "", "DB_URL", ""))
	add(newClient(t, hang, client.Options{Token: tok, Fingerprint: e.fp, Timeout: 200 * time.Millisecond}).GetSecret(ctx, "", "DB_URL", ""))
	forged := tok[:len(tok)-4] + "AAAA"
	needles = append(needles, tokenParts(forged)...)
	add(e.client(t, e.addr, forged).GetSecret(ctx, "", "DB_URL", ""))
	add(e.client(t, e.addr, forged).RegisterToken(ctx, "orders", ""))
	for _, err := range errs {
		noLeak(t, err, needles...)
	}
	if len(errs) != 12 {
		t.Errorf("%d errors, want 12", len(errs))
	}
}
