package client_test

// DeviceService through pkg/client against the real server: mutual TLS
// with Options.Certificate, and ChallengeLogin (channel-bound over TLS,
// unbound on a unix socket).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

type testDevice struct {
	id, name, uuid, keyID, fp string
	key                       *ecdsa.PrivateKey
	cert                      tls.Certificate
}

// provision stores a device with a fresh P-256 key at role, as keysmith
// device provision does.
func (e *env) provision(t *testing.T, name, uuid, role string) *testDevice {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.op.AddDeviceKeys(context.Background(), vault.DefaultTenant, []vault.KeyRequest{{Name: name, UUID: uuid, Role: role, SPKI: spki, Origin: vault.KeyProvisioned}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := devicecred.ClientCertificate(key, name)
	if err != nil {
		t.Fatal(err)
	}
	return &testDevice{id: res[0].DeviceID, name: name, uuid: uuid, keyID: res[0].KeyID, fp: res[0].Fingerprint, key: key, cert: cert}
}

func report(t *testing.T, requestID, uuid string, kv ...string) []byte {
	t.Helper()
	rep := vault.Report{RequestID: requestID, DeviceUUID: uuid}
	for i := 0; i < len(kv); i += 2 {
		rep.Secrets = append(rep.Secrets, vault.ReportSecret{Name: kv[i], Value: kv[i+1]})
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

// TestDeviceMTLS: Options.Certificate is the device key over mutual TLS:
// Login, ReportProvisioning and GetDeviceSecret, and their refusals as
// kinds and reasons.
func TestDeviceMTLS(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.provision(t, "amt-01", uuidA, "server")
	b := e.provision(t, "amt-02", uuidB, "server")
	ca := newClient(t, e.addr, client.Options{Fingerprint: e.fp, Certificate: &a.cert})
	cb := newClient(t, e.addr, client.Options{Fingerprint: e.fp, Certificate: &b.cert})

	id, err := ca.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := client.DeviceIdentity{DeviceID: a.id, Name: "amt-01", Role: "server", Tenant: vault.DefaultTenant, UUID: uuidA, KeyFingerprint: a.fp, AuthMethod: "mtls"}
	if *id != want {
		t.Fatalf("Login: %+v, want %+v", *id, want)
	}

	const wifi = "wifi-s3cret-value"
	rr, err := ca.ReportProvisioning(ctx, report(t, "req-1", uuidA, "AMT_PASSWORD", amtPW, "WIFI_PSK", wifi))
	if err != nil {
		t.Fatal(err)
	}
	if rr.Status != "applied" || rr.RequestID != "req-1" || len(rr.Secrets) != 2 || rr.Secrets["AMT_PASSWORD"] != 1 || rr.Secrets["WIFI_PSK"] != 1 {
		t.Fatalf("report: %+v", rr)
	}
	rr, err = ca.ReportProvisioning(ctx, report(t, "req-1", uuidA, "AMT_PASSWORD", amtPW, "WIFI_PSK", wifi))
	if err != nil || rr.Status != "already_applied" || rr.Secrets["WIFI_PSK"] != 1 {
		t.Fatalf("the same report again: %+v, %v", rr, err)
	}
	// Another report under that request_id: a conflict.
	_, err = ca.ReportProvisioning(ctx, report(t, "req-1", uuidA, "WIFI_PSK", "other-s3cret"))
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeAlreadyExists, keysmithv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS, e.addr)
	noLeak(t, err, "other-s3cret", wifi, amtPW)
	// An AMT password that breaks the rules: invalid.
	_, err = ca.ReportProvisioning(ctx, report(t, "req-2", uuidA, "MEBX_PASSWORD", "short"))
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	_, err = ca.ReportProvisioning(ctx, []byte("{not json"))
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	// B cannot report for A.
	_, err = cb.ReportProvisioning(ctx, report(t, "req-b", uuidA, "WIFI_PSK", "evil-s3cret"))
	wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED, e.addr)

	s, err := ca.GetDeviceSecret(ctx, "WIFI_PSK")
	if err != nil || s.Name != "WIFI_PSK" || string(s.Value) != wifi || s.Version != 1 || s.Source != "report:req-1" {
		t.Fatalf("GetDeviceSecret: %+v, %v", s, err)
	}
	_, err = ca.GetDeviceSecret(ctx, "NOPE")
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND, e.addr)
	_, err = ca.GetDeviceSecret(ctx, "bad name!")
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	// B does not read A's secrets.
	_, err = cb.GetDeviceSecret(ctx, "WIFI_PSK")
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND, e.addr)
	noLeak(t, err, wifi)

	// A revoked key is refused on its next call, on the warm connection.
	if _, err := e.op.RevokeDeviceKey(ctx, vault.DefaultTenant, a.keyID); err != nil {
		t.Fatal(err)
	}
	_, err = ca.Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED, e.addr)
	_, err = ca.GetDeviceSecret(ctx, "WIFI_PSK")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED, e.addr)
	noLeak(t, err, wifi)
}

// TestDeviceRefusedCredentials: no credential, a key no device has, a
// service token: each a permission error with its reason.
func TestDeviceRefusedCredentials(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := newClient(t, e.addr, client.Options{Fingerprint: e.fp}).Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING, e.addr)

	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := devicecred.ClientCertificate(stranger, "stranger")
	if err != nil {
		t.Fatal(err)
	}
	_, err = newClient(t, e.addr, client.Options{Fingerprint: e.fp, Certificate: &cert}).Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, e.addr)

	tok := e.service(t, "orders")
	_, err = newClient(t, e.addr, client.Options{Fingerprint: e.fp, Token: tok}).GetDeviceSecret(ctx, "WIFI_PSK")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, e.addr)
	noLeak(t, err, tokenParts(tok)...)
	// A forged session.
	_, err = newClient(t, e.addr, client.Options{Fingerprint: e.fp, Token: devicecred.SessionPrefix + "Zm9yZ2Vk"}).Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, e.addr)
}

// TestChallengeLogin over the server's own TLS: the answer is
// channel-bound, the session then authorises later calls of the client
// (from many goroutines), and ends with the key.
func TestChallengeLogin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.provision(t, "amt-01", uuidA, "server")
	c := newClient(t, e.addr, client.Options{Fingerprint: e.fp})
	before := time.Now()
	s, err := c.ChallengeLogin(ctx, "", a.id, a.key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Token, devicecred.SessionPrefix) || !s.ChannelBound || s.DeviceID != a.id || s.Role != "server" || s.Tenant != vault.DefaultTenant {
		t.Fatalf("session: %+v", redact(s))
	}
	if !s.Expires.After(before.Add(10*time.Minute)) || !s.ChallengeExpires.After(before) {
		t.Errorf("session expiries: %v, challenge %v", s.Expires, s.ChallengeExpires)
	}
	if !strings.Contains(e.log.String(), `"rpc":"CompleteChallenge"`) {
		t.Log("no CompleteChallenge log line (log shape may differ)")
	}
	if _, err := c.ReportProvisioning(ctx, report(t, "req-1", uuidA, "WIFI_PSK", "session-s3cret")); err != nil {
		t.Fatalf("report with the session: %v", err)
	}
	// The session is sent on every later call, from any goroutine.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := c.Login(ctx)
			if err != nil || id.AuthMethod != "session" || id.DeviceID != a.id {
				errs <- errors.New("login with the session: " + errText(err))
			}
			sec, err := c.GetDeviceSecret(ctx, "WIFI_PSK")
			if err != nil || string(sec.Value) != "session-s3cret" {
				errs <- errors.New("device secret with the session: " + errText(err))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The session is no service token.
	_, err = newClient(t, e.addr, client.Options{Fingerprint: e.fp, Token: s.Token}).GetSecret(ctx, "", "DB_URL", "")
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, e.addr)
	noLeak(t, err, s.Token)

	// Revoking the key ends the session.
	if _, err := e.op.RevokeDeviceKey(ctx, vault.DefaultTenant, a.keyID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED, e.addr)
	noLeak(t, err, s.Token)
	if strings.Contains(e.log.String(), s.Token) {
		t.Error("the server log holds the session")
	}
}

func errText(err error) string {
	if err == nil {
		return "wrong result"
	}
	return err.Error()
}

// redact is s without its bearer token, for failure messages.
func redact(s *client.Session) client.Session {
	r := *s
	r.Token = r.Token[:min(len(r.Token), 8)] + "..."
	return r
}

// TestChallengeLoginRefused: the wrong key, an unknown device or tenant,
// no key; a failed login leaves the client's credential as it was.
func TestChallengeLoginRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.provision(t, "amt-01", uuidA, "server")
	b := e.provision(t, "amt-02", uuidB, "server")
	c := newClient(t, e.addr, client.Options{Fingerprint: e.fp})

	_, err := c.ChallengeLogin(ctx, "", a.id, b.key) // B's key for A
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID, e.addr)
	_, err = c.ChallengeLogin(ctx, "", "dev_0000000000000000", a.key)
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND, e.addr)
	_, err = c.ChallengeLogin(ctx, "nope", a.id, a.key)
	wantKind(t, err, client.ErrNotFound, connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT, e.addr)
	_, err = c.ChallengeLogin(ctx, "", "not a device id", a.key)
	wantKind(t, err, client.ErrInvalid, connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, e.addr)
	if _, err := c.ChallengeLogin(ctx, "", a.id, nil); !errors.Is(err, client.ErrInvalid) {
		t.Errorf("no key: %v, want ErrInvalid", err)
	}
	// None of that gave the client a session.
	_, err = c.Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING, e.addr)
	// A revoked key cannot log in.
	if _, err := e.op.RevokeDeviceKey(ctx, vault.DefaultTenant, b.keyID); err != nil {
		t.Fatal(err)
	}
	_, err = c.ChallengeLogin(ctx, "", b.id, b.key)
	if !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("revoked key: %v, want ErrPermissionDenied", err)
	}
}

// TestChallengeUnixSocket: on a unix socket keysmith terminates no TLS:
// the challenge is not channel-bound and ChallengeLogin signs it unbound;
// BeginChallenge and CompleteChallenge by hand do the same.
func TestChallengeUnixSocket(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	addr := e.serveUnix(t)
	a := e.provision(t, "amt-01", uuidA, "server")
	c := newClient(t, addr, client.Options{})
	s, err := c.ChallengeLogin(ctx, "", a.id, a.key)
	if err != nil {
		t.Fatal(err)
	}
	if s.ChannelBound || !strings.HasPrefix(s.Token, devicecred.SessionPrefix) || s.DeviceID != a.id {
		t.Fatalf("session over the socket: %+v", redact(s))
	}
	if id, err := c.Login(ctx); err != nil || id.AuthMethod != "session" || id.DeviceID != a.id {
		t.Fatalf("login over the socket: %+v, %v", id, err)
	}

	// By hand: begin, sign, complete; the nonce is single-use.
	h := newClient(t, addr, client.Options{})
	ch, err := h.BeginChallenge(ctx, "", a.id)
	if err != nil {
		t.Fatal(err)
	}
	if ch.ChannelBound || len(ch.Nonce) != devicecred.ChallengeSize || !ch.Expires.After(time.Now()) {
		t.Fatalf("challenge: %+v", ch)
	}
	sig, err := devicecred.SignChallenge(a.key, a.id, ch.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := h.CompleteChallenge(ctx, "", a.id, ch.Nonce, sig)
	if err != nil || !strings.HasPrefix(tok, devicecred.SessionPrefix) || !exp.After(time.Now()) {
		t.Fatalf("complete: %v, %v", exp, err)
	}
	_, _, err = h.CompleteChallenge(ctx, "", a.id, ch.Nonce, sig)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED, addr)
	noLeak(t, err, tok)
	// CompleteChallenge by hand does not set the client's session.
	_, err = h.Login(ctx)
	wantKind(t, err, client.ErrPermissionDenied, connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING, addr)
	// The session works as a bearer token of another client.
	if id, err := newClient(t, addr, client.Options{Token: tok}).Login(ctx); err != nil || id.DeviceID != a.id {
		t.Fatalf("the session as Options.Token: %+v, %v", id, err)
	}
}
