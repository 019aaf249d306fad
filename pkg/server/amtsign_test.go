package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/keysmith/keysmith/pkg/amt"
	"github.com/keysmith/keysmith/pkg/amt/amttest"
	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

// TestSignActivationMTLS: over TLS on loopback a device signs with a stored
// certificate (verified as AMT does), a device limited out is denied
// (PermissionDenied, audited), a bad nonce is InvalidArgument, an unknown
// certificate NotFound, a revoked key PermissionDenied with no signature
// (audited as refused by authentication); the key PEM never reaches the
// log. On SQLite and on PostgreSQL.
func TestSignActivationMTLS(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) { signActivationMTLS(t, startOn(t, kind, server.Options{AuthFailures: -1}, nil)) })
	}
}

func signActivationMTLS(t *testing.T, fx *fixture) {
	ctx := context.Background()
	a := provision(t, fx, "amt-01", uuidA, "server")
	b := provision(t, fx, "amt-02", uuidB, "kiosk")
	c := amttest.Shared(t)
	if _, err := fx.op.AddAMTCert(ctx, vault.DefaultTenant, "intel-prov", c.Cert(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.op.AllowAMTCert(ctx, vault.DefaultTenant, "intel-prov", nil, []string{"server"}, false); err != nil {
		t.Fatal(err)
	}
	fw := make([]byte, amt.NonceSize)
	rand.Read(fw)
	ca, cb := fx.devClient(t, &a.cert), fx.devClient(t, &b.cert)
	res, err := ca.SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "intel-prov", FwNonce: fw}))
	if err != nil {
		t.Fatal(err)
	}
	m := res.Msg
	if err := amt.VerifyActivation(c.Leaf, fw, m.Nonce, m.Signature); err != nil {
		t.Fatalf("signature: %v", err)
	}
	fp := sha256.Sum256(c.Root.Raw)
	if len(m.CertificateChain) != 3 || !bytes.Equal(m.CertificateChain[0], c.Leaf.Raw) || !bytes.Equal(m.CertificateChain[2], c.Root.Raw) || !bytes.Equal(m.RootFingerprint, fp[:]) {
		t.Fatal("chain not leaf→root, or wrong fingerprint")
	}
	wantAudit(t, fx, "amt-sign", true, "device amt-01 ("+a.id+", uuid \""+uuidA+"\")")

	_, err = cb.SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "intel-prov", FwNonce: fw}))
	wantConnect(t, err, connect.CodePermissionDenied, "may not use")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED)
	wantAudit(t, fx, "amt-sign", false, "not allowed")
	_, err = ca.SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "intel-prov", FwNonce: fw[:5]}))
	wantConnect(t, err, connect.CodeInvalidArgument, "20 bytes")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT)
	_, err = ca.SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "nope", FwNonce: fw}))
	wantConnect(t, err, connect.CodeNotFound, "AMT certificate not found")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND)
	// Through pkg/client, as keysmith device commands call: the reason
	// detail gives the error's kind and Reason.
	for _, tc := range []struct {
		dev    *testDevice
		cert   string
		kind   error
		reason keysmithv1.ErrorReason
	}{
		{b, "intel-prov", client.ErrPermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED},
		{a, "nope", client.ErrNotFound, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND},
	} {
		cl, err := client.New(fx.addr, client.Options{Fingerprint: fx.fp, Certificate: &tc.dev.cert, UserAgent: "server-test (device)"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cl.SignActivation(ctx, tc.cert, fw)
		cl.Close()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Reason != tc.reason || !errors.Is(err, tc.kind) {
			t.Errorf("client SignActivation(%s) as %s: %v (%+v), want reason %v, kind %v", tc.cert, tc.dev.name, err, ce, tc.reason, tc.kind)
		}
	}
	// The signature's refusals are logged with the device identified
	// (the device and its signature come from one read, SignActivationByKey).
	if !strings.Contains(fx.log.String(), `"device_id":"`+b.id+`"`) {
		t.Errorf("the refused signature's log line does not name device %s:\n%s", b.id, fx.log.String())
	}
	// A revoked key is refused before anything is signed, on the same
	// warm connection, audited as an amt-sign refused by authentication.
	if _, err := fx.op.RevokeDeviceKey(ctx, vault.DefaultTenant, a.keyID); err != nil {
		t.Fatal(err)
	}
	signed := len(auditRows(t, fx, "amt-sign", true))
	_, err = ca.SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "intel-prov", FwNonce: fw}))
	wantConnect(t, err, connect.CodePermissionDenied, "revoked")
	wantReason(t, err, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED)
	wantAudit(t, fx, "amt-sign", false, "SignActivation refused (mtls)")
	if n := len(auditRows(t, fx, "amt-sign", true)); n != signed {
		t.Fatalf("a revoked key got a signature: %d amt-sign rows, %d before", n, signed)
	}
	if strings.Contains(fx.log.String(), string(c.KeyPEM()[40:120])) {
		t.Fatal("the provisioning key is in the server log")
	}
}

func auditRows(t testing.TB, fx *fixture, action string, success bool) []vault.AuditRecord {
	t.Helper()
	rows, err := fx.op.Audit(context.Background(), vault.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var out []vault.AuditRecord
	for _, r := range rows {
		if r.Success == success {
			out = append(out, r)
		}
	}
	return out
}
