package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/api/keysmith/v1/keysmithv1connect"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

type testDevice struct {
	id, name, uuid string
	key            *ecdsa.PrivateKey
	cert           tls.Certificate
	keyID          string
}

// provision stores a device (role) with a fresh P-256 key, as "keysmith
// device provision" does.
func provision(t testing.TB, fx *fixture, name, uuid, role string) *testDevice {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fx.op.AddDeviceKeys(context.Background(), vault.DefaultTenant, []vault.KeyRequest{{Name: name, UUID: uuid, Role: role, SPKI: spki, Origin: vault.KeyProvisioned}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := devicecred.ClientCertificate(key, name)
	if err != nil {
		t.Fatal(err)
	}
	return &testDevice{id: res[0].DeviceID, name: name, uuid: uuid, key: key, cert: cert, keyID: res[0].KeyID}
}

// devConn is a DeviceService client on its own TLS connections, presenting
// cert when set; state returns the TLS state of the last connection made.
type devConn struct {
	keysmithv1connect.DeviceServiceClient
	mu   sync.Mutex
	last *tls.ConnectionState
}

func (d *devConn) state() *tls.ConnectionState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

func (fx *fixture) devClient(t testing.TB, cert *tls.Certificate) *devConn {
	t.Helper()
	pemBytes, err := os.ReadFile(fx.certPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	conf := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13, NextProtos: []string{"h2"}}
	if cert != nil {
		conf.Certificates = []tls.Certificate{*cert}
	}
	d := &devConn{}
	tr := &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&tls.Dialer{Config: conf}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			st := c.(*tls.Conn).ConnectionState()
			d.mu.Lock()
			d.last = &st
			d.mu.Unlock()
			return c, nil
		},
		ForceAttemptHTTP2: true,
	}
	var p http.Protocols
	p.SetHTTP2(true)
	tr.Protocols = &p
	t.Cleanup(tr.CloseIdleConnections)
	d.DeviceServiceClient = keysmithv1connect.NewDeviceServiceClient(&http.Client{Transport: tr}, "https://"+fx.addr, connect.WithGRPC(),
		connect.WithInterceptors(reasonChecker(t)))
	return d
}

// reasonChecker fails the test for a DeviceService error that does not
// carry exactly one DeviceError detail with a reason and the status
// message (docs/server.md, "Error codes"): every refusal path of every
// device test goes through it.
func reasonChecker(t testing.TB) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if ce := (*connect.Error)(nil); errors.As(err, &ce) {
				if de := deviceError(ce); de == nil || de.Reason == keysmithv1.ErrorReason_ERROR_REASON_UNSPECIFIED || de.ErrorMessage != ce.Message() {
					t.Errorf("%s: error %v (%v) without its DeviceError detail: %+v", req.Spec().Procedure, ce.Code(), ce.Message(), de)
				}
			}
			return res, err
		}
	}
}

// deviceError is the DeviceError detail of ce, nil if it has none or more
// than one.
func deviceError(ce *connect.Error) *keysmithv1.DeviceError {
	var out *keysmithv1.DeviceError
	for _, d := range ce.Details() {
		v, err := d.Value()
		if err != nil {
			continue
		}
		if m, ok := v.(*keysmithv1.DeviceError); ok {
			if out != nil {
				return nil
			}
			out = m
		}
	}
	return out
}

// wantReason checks err's DeviceError reason.
func wantReason(t testing.TB, err error, reason keysmithv1.ErrorReason) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v: not a connect error", err)
	}
	if de := deviceError(ce); de == nil || de.Reason != reason {
		t.Fatalf("%v: reason %+v, want %v", err, de, reason)
	}
}

func wantConnect(t testing.TB, err error, code connect.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", code)
	}
	if connect.CodeOf(err) != code {
		t.Fatalf("got %v (%v), want %v", connect.CodeOf(err), err, code)
	}
	if msg != "" && !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q does not contain %q", err, msg)
	}
}

// wantAudit finds an audit row of action with success, whose detail or
// object contains sub, with the caller's address.
func wantAudit(t testing.TB, fx *fixture, action string, success bool, sub string) vault.AuditRecord {
	t.Helper()
	rows, err := fx.op.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(rows) - 1; i >= 0; i-- {
		r := rows[i]
		if r.Action == action && r.Success == success && (strings.Contains(r.Detail, sub) || strings.Contains(r.Object, sub)) {
			if r.IPAddress != "127.0.0.1" {
				t.Fatalf("audit row %+v: ip %q", r, r.IPAddress)
			}
			return r
		}
	}
	t.Fatalf("no audit row %s success=%v containing %q", action, success, sub)
	return vault.AuditRecord{}
}

func report(t testing.TB, requestID, uuid string, kv ...string) []byte {
	t.Helper()
	type sec struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	rep := struct {
		RequestID  string `json:"request_id"`
		DeviceUUID string `json:"device_uuid"`
		Secrets    []sec  `json:"secrets"`
	}{RequestID: requestID, DeviceUUID: uuid}
	for i := 0; i < len(kv); i += 2 {
		rep.Secrets = append(rep.Secrets, sec{kv[i], kv[i+1]})
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	uuidA = "4c4c4544-0042-3510-8052-b3c04f4a4e32"
	uuidB = "4c4c4544-0042-3510-8052-b3c04f4a4e33"
	amtPW = "Amt-Passw0rd-1234"
)

// TestDeviceMTLS: a provisioned device logs in with its key as the TLS
// client certificate, reports its generated secrets once, reads them back;
// the same report again is "already applied", another with that request_id
// is refused; another device can neither report for it nor read its
// secrets; a revoked key, and a key left at an old role, are refused on the
// next call. On SQLite and on PostgreSQL.
func TestDeviceMTLS(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) { deviceMTLS(t, startOn(t, kind, server.Options{AuthFailures: -1}, nil)) })
	}
}

func deviceMTLS(t *testing.T, fx *fixture) {
	ctx := context.Background()
	a := provision(t, fx, "amt-01", uuidA, "server")
	b := provision(t, fx, "amt-02", uuidB, "server")
	ca, cb := fx.devClient(t, &a.cert), fx.devClient(t, &b.cert)

	res, err := ca.Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Msg; m.DeviceId != a.id || m.Role != "server" || m.Tenant != vault.DefaultTenant || m.DeviceUuid != uuidA || m.AuthMethod != "mtls" || m.Name != "amt-01" {
		t.Fatalf("login: %+v", m)
	}

	rep := report(t, "req-1", uuidA, "AMT_PASSWORD", amtPW, "WIFI_PSK", "wifi-secret-value")
	rr, err := ca.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: rep}))
	if err != nil {
		t.Fatal(err)
	}
	if rr.Msg.Status != "applied" || len(rr.Msg.Secrets) != 2 || rr.Msg.Secrets[0].Version != 1 {
		t.Fatalf("report: %+v", rr.Msg)
	}
	wantAudit(t, fx, "device-report", true, "request req-1, 2 secrets")
	// The same report again: already applied, nothing changes.
	rr, err = ca.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: rep}))
	if err != nil || rr.Msg.Status != "already_applied" || rr.Msg.Secrets[0].Version != 1 {
		t.Fatalf("replayed report: %+v, %v", rr, err)
	}
	// Another report with that request_id: refused.
	_, err = ca.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: report(t, "req-1", uuidA, "WIFI_PSK", "other")}))
	wantConnect(t, err, connect.CodeAlreadyExists, "already applied")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS)
	wantAudit(t, fx, "device-report", false, "request_id already applied with another report")
	if lines := decisionLines(t, fx, "ReportProvisioning"); len(lines) == 0 || lines[len(lines)-1]["msg"] != "refused: already_exists" {
		t.Fatalf("ReportProvisioning log lines: %v; want the last refused: already_exists", lines)
	}
	// AMT password rules.
	_, err = ca.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: report(t, "req-2", uuidA, "MEBX_PASSWORD", "short")}))
	wantConnect(t, err, connect.CodeInvalidArgument, "AMT password must be")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	wantAudit(t, fx, "device-report", false, "invalid report")

	sec, err := ca.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "AMT_PASSWORD"}))
	if err != nil || string(sec.Msg.Value) != amtPW || sec.Msg.Version != 1 || sec.Msg.Source != "report:req-1" {
		t.Fatalf("read back: %+v, %v", sec, err)
	}
	r := wantAudit(t, fx, "device-secret-get", true, "secret AMT_PASSWORD version 1")
	if !strings.Contains(r.Actor, a.id) || r.UserAgent == "" {
		t.Fatalf("audit row of the read: %+v", r)
	}
	_, err = ca.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "NOPE"}))
	wantConnect(t, err, connect.CodeNotFound, "")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	_, err = ca.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "bad name!"}))
	wantConnect(t, err, connect.CodeInvalidArgument, "")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)

	// Device B cannot report for A, nor read A's secrets.
	_, err = cb.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: report(t, "req-b", uuidA, "WIFI_PSK", "evil")}))
	wantConnect(t, err, connect.CodePermissionDenied, "acts only for itself")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED)
	wantAudit(t, fx, "device-report", false, "report for another device's UUID")
	_, err = cb.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "AMT_PASSWORD"}))
	wantConnect(t, err, connect.CodeNotFound, "amt-02")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND)

	// Revoke A's key: its next call fails, on the same warm connection.
	if _, err := fx.op.RevokeDeviceKey(ctx, vault.DefaultTenant, a.keyID); err != nil {
		t.Fatal(err)
	}
	_, err = ca.Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
	wantConnect(t, err, connect.CodePermissionDenied, "revoked")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED)
	wantAudit(t, fx, "device-verify", false, "Login refused (mtls)")
	_, err = ca.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "AMT_PASSWORD"}))
	wantConnect(t, err, connect.CodePermissionDenied, "revoked")
	wantAudit(t, fx, "device-secret-get", false, "GetDeviceSecret refused (mtls)")

	// A key left at an old role: B moves to role "kiosk" with a new key.
	old := b.cert
	key2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki2, _ := x509.MarshalPKIXPublicKey(&key2.PublicKey)
	if _, err := fx.op.AddDeviceKeys(ctx, vault.DefaultTenant, []vault.KeyRequest{{Device: b.id, Role: "kiosk", SPKI: spki2, Origin: vault.KeyProvisioned}}); err != nil {
		t.Fatal(err)
	}
	_, err = fx.devClient(t, &old).Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
	wantConnect(t, err, connect.CodePermissionDenied, "")
	cert2, _ := devicecred.ClientCertificate(key2, "amt-02")
	res, err = fx.devClient(t, &cert2).Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
	if err != nil || res.Msg.Role != "kiosk" || res.Msg.DeviceId != b.id {
		t.Fatalf("login at the new role: %+v, %v", res, err)
	}
}

// TestDeviceIdentityRefused: no credential, a key no device has, a service
// token on DeviceService, and a device session on SecretsService are all
// refused, with their codes and audit rows.
func TestDeviceIdentityRefused(t *testing.T) {
	fx := start(t, server.Options{AuthFailures: -1}, nil)
	ctx := context.Background()
	provision(t, fx, "amt-01", uuidA, "server")

	_, err := fx.devClient(t, nil).Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
	wantConnect(t, err, connect.CodeUnauthenticated, "no device credential")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING)
	wantAudit(t, fx, "device-verify", false, "Login refused (none)")

	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sc, _ := devicecred.ClientCertificate(stranger, "stranger")
	_, err = fx.devClient(t, &sc).ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: report(t, "r", uuidA, "X", "y")}))
	wantConnect(t, err, connect.CodeUnauthenticated, "device key not found")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID)
	wantAudit(t, fx, "device-report", false, "ReportProvisioning refused (mtls)")

	// A service token never authorises DeviceService, even approved.
	tok, id := newToken(t)
	fx.op.RegisterToken(ctx, tok, "orders", "")
	fx.op.ApproveToken(ctx, id)
	req := connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "AMT_PASSWORD"})
	req.Header().Set("Authorization", "Bearer "+tok)
	_, err = fx.devClient(t, nil).GetDeviceSecret(ctx, req)
	wantConnect(t, err, connect.CodeUnauthenticated, "service token does not authorise DeviceService")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID)
	wantAudit(t, fx, "device-secret-get", false, "GetDeviceSecret refused (token)")

	// A forged session.
	req = connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "AMT_PASSWORD"})
	req.Header().Set("Authorization", "Bearer ksd1_AAAA")
	_, err = fx.devClient(t, nil).GetDeviceSecret(ctx, req)
	wantConnect(t, err, connect.CodeUnauthenticated, "device session is invalid")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID)
	wantAudit(t, fx, "device-secret-get", false, "GetDeviceSecret refused (session)")

	// BeginChallenge for a malformed and an unknown device.
	_, err = fx.devClient(t, nil).BeginChallenge(ctx, connect.NewRequest(&keysmithv1.BeginChallengeRequest{DeviceId: "amt-01"}))
	wantConnect(t, err, connect.CodeInvalidArgument, "device ID")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	wantAudit(t, fx, "device-challenge", false, "invalid device ID")
	_, err = fx.devClient(t, nil).BeginChallenge(ctx, connect.NewRequest(&keysmithv1.BeginChallengeRequest{DeviceId: "dev_0000000000000000"}))
	wantConnect(t, err, connect.CodeNotFound, "device not found")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	wantAudit(t, fx, "device-challenge", false, "no such device")
	_, err = fx.devClient(t, nil).BeginChallenge(ctx, connect.NewRequest(&keysmithv1.BeginChallengeRequest{DeviceId: "dev_0000000000000000", Tenant: "nope"}))
	wantConnect(t, err, connect.CodeNotFound, "tenant")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT)
	_, err = fx.devClient(t, nil).CompleteChallenge(ctx, connect.NewRequest(&keysmithv1.CompleteChallengeRequest{DeviceId: "dev_0000000000000000", Nonce: []byte("short")}))
	wantConnect(t, err, connect.CodeInvalidArgument, "")
	wantAudit(t, fx, "device-verify", false, "malformed answer")
	// SignActivation without amtcert's handler, or refused by it: never OK without a device.
	_, err = fx.devClient(t, nil).SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "x", FwNonce: make([]byte, 20)}))
	if err == nil {
		t.Fatal("SignActivation without a device key succeeded")
	}
}

// TestDeviceChallengeSession: BeginChallenge over keysmith's own TLS is
// channel-bound; the answer relayed onto another connection fails, the
// right one gives a ksd1_ session that works on a connection without a
// client certificate; the same answer again is a replay; the session never
// reads through SecretsService; revoking the key ends the session.
func TestDeviceChallengeSession(t *testing.T) {
	fx := start(t, server.Options{AuthFailures: -1}, nil)
	ctx := context.Background()
	a := provision(t, fx, "amt-01", uuidA, "server")
	c1, c2 := fx.devClient(t, nil), fx.devClient(t, nil)

	bc, err := c1.BeginChallenge(ctx, connect.NewRequest(&keysmithv1.BeginChallengeRequest{DeviceId: a.id}))
	if err != nil {
		t.Fatal(err)
	}
	if !bc.Msg.ChannelBound || len(bc.Msg.Nonce) != devicecred.ChallengeSize {
		t.Fatalf("begin: %+v", bc.Msg)
	}
	// Warm c2's connection, then relay c1's answer onto it.
	if _, err := c2.Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{})); err == nil {
		t.Fatal("login without a credential")
	}
	b1, err := devicecred.ChannelBinding(c1.state())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := devicecred.SignChallengeBound(a.key, a.id, bc.Msg.Nonce, b1)
	if err != nil {
		t.Fatal(err)
	}
	cc := &keysmithv1.CompleteChallengeRequest{DeviceId: a.id, Nonce: bc.Msg.Nonce, Signature: sig}
	_, err = c2.CompleteChallenge(ctx, connect.NewRequest(cc))
	wantConnect(t, err, connect.CodeUnauthenticated, "does not verify")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID)
	wantAudit(t, fx, "device-verify", false, "bad signature")
	// An unbound answer is refused too where the server terminates TLS.
	usig, _ := devicecred.SignChallenge(a.key, a.id, bc.Msg.Nonce)
	_, err = c1.CompleteChallenge(ctx, connect.NewRequest(&keysmithv1.CompleteChallengeRequest{DeviceId: a.id, Nonce: bc.Msg.Nonce, Signature: usig}))
	wantConnect(t, err, connect.CodeUnauthenticated, "")

	done, err := c1.CompleteChallenge(ctx, connect.NewRequest(cc))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(done.Msg.SessionToken, devicecred.SessionPrefix) || done.Msg.DeviceId != a.id || done.Msg.Role != "server" {
		t.Fatalf("complete: %+v", done.Msg)
	}
	wantAudit(t, fx, "device-verify", true, "channel-bound")
	// Another handle on the same store (another server) verifies the session.
	okey, err := fx.op.DeviceSessionKey()
	if err != nil {
		t.Fatal(err)
	}
	if sess, err := devicecred.VerifySession(okey, done.Msg.SessionToken, time.Now()); err != nil || sess.TenantID == 0 {
		t.Fatalf("session on another handle: %+v, %v", sess, err)
	}
	_, err = c1.CompleteChallenge(ctx, connect.NewRequest(cc))
	wantConnect(t, err, connect.CodePermissionDenied, "already used")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED)
	wantAudit(t, fx, "device-verify", false, "replayed challenge")

	req := connect.NewRequest(&keysmithv1.LoginRequest{})
	req.Header().Set("Authorization", "Bearer "+done.Msg.SessionToken)
	res, err := c2.Login(ctx, req)
	if err != nil || res.Msg.AuthMethod != "session" || res.Msg.DeviceId != a.id {
		t.Fatalf("session login: %+v, %v", res, err)
	}
	// The session does not read through SecretsService.
	_, err = fx.client(t, done.Msg.SessionToken).GetSecret(ctx, "", "DB_URL", "")
	if err == nil {
		t.Fatal("device session read through SecretsService")
	}

	if _, err := fx.op.RevokeDeviceKey(ctx, vault.DefaultTenant, a.keyID); err != nil {
		t.Fatal(err)
	}
	req = connect.NewRequest(&keysmithv1.LoginRequest{})
	req.Header().Set("Authorization", "Bearer "+done.Msg.SessionToken)
	_, err = c2.Login(ctx, req)
	wantConnect(t, err, connect.CodePermissionDenied, "revoked")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED)
}

// TestDeviceRateLimit: failed device authentications count against the
// address, then every device call is refused before the key is looked at.
func TestDeviceRateLimit(t *testing.T) {
	fx := start(t, server.Options{AuthFailures: 3}, nil)
	ctx := context.Background()
	c := fx.devClient(t, nil)
	for range 3 {
		_, err := c.Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
		wantConnect(t, err, connect.CodeUnauthenticated, "")
	}
	a := provision(t, fx, "amt-01", uuidA, "server")
	_, err := fx.devClient(t, &a.cert).Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{}))
	wantConnect(t, err, connect.CodeResourceExhausted, "too many failed")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED)
	wantAudit(t, fx, "device-verify", false, "rate limit")
}

// TestDeviceLogHoldsNoSecret: the decision log of a whole run holds no
// reported value, no private key.
func TestDeviceLogHoldsNoSecret(t *testing.T) {
	fx := start(t, server.Options{}, nil)
	ctx := context.Background()
	a := provision(t, fx, "amt-01", uuidA, "server")
	ca := fx.devClient(t, &a.cert)
	if _, err := ca.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: report(t, "req-1", uuidA, "AMT_PASSWORD", amtPW)})); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "AMT_PASSWORD"})); err != nil {
		t.Fatal(err)
	}
	ca.ReportProvisioning(ctx, connect.NewRequest(&keysmithv1.ReportProvisioningRequest{ReportJson: report(t, "req-1", uuidA, "AMT_PASSWORD", "Other-Passw0rd-99")}))
	der, _ := x509.MarshalECPrivateKey(a.key)
	rows, _ := fx.op.Audit(ctx, vault.AuditFilter{})
	all := fx.log.String()
	for _, r := range rows {
		all += r.Detail + r.Object + r.Actor
	}
	for _, s := range []string{amtPW, "Other-Passw0rd-99", string(der)} {
		if strings.Contains(all, s) {
			t.Fatalf("log or audit holds a secret %q", s)
		}
	}
	if !strings.Contains(fx.log.String(), `"rpc":"GetDeviceSecret"`) {
		t.Fatalf("no decision line: %s", fx.log.String())
	}
}

// decisionLines are the server's log lines of rpc, decoded.
func decisionLines(t testing.TB, fx *fixture, rpc string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(fx.log.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["rpc"] == rpc {
			out = append(out, m)
		}
	}
	return out
}

// TestDeviceNotFound: BeginChallenge for a device ID no device has, and
// SignActivation with a certificate the tenant does not have, are NotFound
// and their log lines say not_found (the reason ERROR_REASON_NOT_FOUND),
// not invalid_argument; each refusal is an audit row. On SQLite and on
// PostgreSQL.
func TestDeviceNotFound(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) {
			fx := startOn(t, kind, server.Options{AuthFailures: -1}, nil)
			ctx := context.Background()
			_, err := fx.devClient(t, nil).BeginChallenge(ctx, connect.NewRequest(&keysmithv1.BeginChallengeRequest{DeviceId: "dev_0000000000000000"}))
			wantConnect(t, err, connect.CodeNotFound, "device not found")
			wantAudit(t, fx, "device-challenge", false, "no such device")
			lines := decisionLines(t, fx, "BeginChallenge")
			if len(lines) != 1 || lines[0]["code"] != "not_found" || lines[0]["msg"] != "refused: not_found" || lines[0]["success"] != false {
				t.Fatalf("BeginChallenge log lines: %v; want one refused: not_found", lines)
			}

			a := provision(t, fx, "amt-01", uuidA, "server")
			_, err = fx.devClient(t, &a.cert).SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "nope", FwNonce: make([]byte, 20)}))
			wantConnect(t, err, connect.CodeNotFound, "AMT certificate not found")
			wantAudit(t, fx, "amt-sign", false, "no such certificate")
			lines = decisionLines(t, fx, "SignActivation")
			if len(lines) != 1 || lines[0]["code"] != "not_found" || lines[0]["msg"] != "refused: not_found" || lines[0]["device_id"] != a.id {
				t.Fatalf("SignActivation log lines: %v; want one refused: not_found for %s", lines, a.id)
			}

			// A secret the device never had: not found, nothing pending
			// (no stub or request is made for a device).
			_, err = fx.devClient(t, &a.cert).GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "NOPE"}))
			wantConnect(t, err, connect.CodeNotFound, "")
			lines = decisionLines(t, fx, "GetDeviceSecret")
			if len(lines) != 1 || lines[0]["code"] != "not_found" || lines[0]["msg"] != "refused: not_found" {
				t.Fatalf("GetDeviceSecret log lines: %v; want one refused: not_found", lines)
			}
		})
	}
}
