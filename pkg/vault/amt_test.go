package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/amt"
	"github.com/keysmith/keysmith/pkg/amt/amttest"
)

func fwNonce(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, amt.NonceSize)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkActivation verifies a signature as AMT does: with the leaf's
// public key over exactly fw ‖ nonce, the chain leaf to root, and the
// fingerprint the SHA-256 of the root's DER.
func checkActivation(t *testing.T, c *amttest.Chain, fw []byte, a *AMTActivation) {
	t.Helper()
	if len(a.Nonce) != amt.NonceSize {
		t.Fatalf("nonce has %d bytes", len(a.Nonce))
	}
	if err := amt.VerifyActivation(c.Leaf, fw, a.Nonce, a.Signature); err != nil {
		t.Fatalf("signature does not verify with the leaf key over fw_nonce‖nonce: %v", err)
	}
	want := [][]byte{c.Leaf.Raw, c.Inter.Raw, c.Root.Raw}
	if len(a.Chain) != 3 {
		t.Fatalf("chain has %d certificates", len(a.Chain))
	}
	for i := range want {
		if !bytes.Equal(a.Chain[i], want[i]) {
			t.Errorf("chain[%d] is not leaf→intermediate→root", i)
		}
	}
	fp := sha256.Sum256(c.Root.Raw)
	if a.RootFingerprint != hex.EncodeToString(fp[:]) {
		t.Errorf("root fingerprint %s", a.RootFingerprint)
	}
}

func auditDetails(t *testing.T, v *Vault, action string) []AuditRecord {
	t.Helper()
	rs, err := v.Audit(ctx, AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestAMTCertSignAndLimits(t *testing.T) {
	v, path, k := newVault(t)
	c := amttest.Shared(t)
	info, err := v.AddAMTCert(ctx, DefaultTenant, "intel-prov", c.Cert(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Subject != "amt.example.com" || info.Certificates != 3 || len(info.Allowed) != 0 {
		t.Errorf("AddAMTCert = %+v", info)
	}
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "intel-prov", c.Cert(t)); !errors.Is(err, ErrAMTCertExists) {
		t.Errorf("second add: %v, want ErrAMTCertExists", err)
	}
	ls, err := v.ListAMTCerts(ctx, DefaultTenant)
	if err != nil || len(ls) != 1 || ls[0].Name != "intel-prov" {
		t.Fatalf("ListAMTCerts = %v, %v", ls, err)
	}

	// An operator signs; the signature verifies as AMT verifies it.
	fw := fwNonce(t)
	a, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, "")
	if err != nil {
		t.Fatal(err)
	}
	checkActivation(t, c, fw, a)
	b, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, "")
	if err != nil || bytes.Equal(a.Nonce, b.Nonce) {
		t.Fatalf("second signature: nonce not fresh (%v)", err)
	}

	// Devices: any device may sign until the certificate is limited.
	kiosk := addKey(t, v, KeyRequest{Name: "kiosk-1", UUID: "0f8fad5b-d9cb-469f-a165-70867728950e", Role: "kiosk", SPKI: spkiOf(t), Origin: KeyProvisioned})
	other := addKey(t, v, KeyRequest{Name: "build-1", Role: "builder", SPKI: spkiOf(t), Origin: KeyProvisioned})
	if _, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, other.DeviceID); err != nil {
		t.Fatalf("unlimited certificate, device build-1: %v", err)
	}
	if _, err := v.AllowAMTCert(ctx, DefaultTenant, "intel-prov", nil, []string{"kiosk"}, false); err != nil {
		t.Fatal(err)
	}
	a, err = v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, kiosk.DeviceID)
	if err != nil {
		t.Fatalf("allowed role: %v", err)
	}
	checkActivation(t, c, fw, a)
	if _, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, other.DeviceID); !errors.Is(err, ErrAMTNotAllowed) {
		t.Fatalf("device at another role: %v, want ErrAMTNotAllowed", err)
	}
	if _, err := v.AllowAMTCert(ctx, DefaultTenant, "intel-prov", []string{"build-1"}, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, other.DeviceID); err != nil {
		t.Fatalf("allowed device: %v", err)
	}
	info, err = v.AllowAMTCert(ctx, DefaultTenant, "intel-prov", []string{other.DeviceID}, []string{"kiosk"}, true)
	if err != nil || len(info.Allowed) != 0 {
		t.Fatalf("remove limits: %+v, %v", info, err)
	}

	// Audit: every signature names the device and its UUID; the refusal too.
	rows := auditDetails(t, v, "amt-sign")
	var ok, denied int
	for _, r := range rows {
		if strings.Contains(r.Detail, "kiosk-1 ("+kiosk.DeviceID+", uuid \"0f8fad5b-d9cb-469f-a165-70867728950e\")") && r.Success {
			ok++
		}
		if !r.Success && strings.Contains(r.Detail, "build-1 ("+other.DeviceID) && strings.Contains(r.Detail, "not allowed") {
			denied++
		}
	}
	if ok != 1 || denied != 1 || len(rows) != 6 {
		t.Errorf("amt-sign audit rows: %d ok of kiosk-1, %d denied of build-1, %d in all: %+v", ok, denied, len(rows), rows)
	}

	// Refusals: bad nonce, unknown certificate.
	if _, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw[:19], ""); !errors.Is(err, ErrAMTNonce) {
		t.Errorf("19-byte nonce: %v", err)
	}
	if _, err := v.SignActivation(ctx, DefaultTenant, "nope", fw, ""); !errors.Is(err, ErrNoAMTCert) {
		t.Errorf("unknown certificate: %v", err)
	}

	// DEK rotation re-seals the key; signing still works after reopening.
	res, err := v.RotateDEK(ctx, DefaultTenant, nil)
	if err != nil || res.AMTKeys != 1 {
		t.Fatalf("RotateDEK = %+v, %v", res, err)
	}
	v2 := reopen(t, path, k)
	a, err = v2.SignActivation(ctx, DefaultTenant, "intel-prov", fw, "")
	if err != nil {
		t.Fatal(err)
	}
	checkActivation(t, c, fw, a)
	if _, probs, err := v2.VerifyAll(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("VerifyAll: %v, %v", probs, err)
	}

	// Tampering below the store: allowed changed without the key.
	db := rawDB(t, v2)
	if _, err := db.Exec("UPDATE amt_certs SET allowed = 'role:builder'"); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.SignActivation(ctx, DefaultTenant, "intel-prov", fw, other.DeviceID); !errors.Is(err, ErrTampered) {
		t.Errorf("tampered allowed: %v, want ErrTampered", err)
	}
	if _, probs, _ := v2.VerifyAll(ctx); len(probs) != 1 || probs[0].What != "row MAC" {
		t.Errorf("VerifyAll of a tampered row: %v", probs)
	}
	if _, err := db.Exec("UPDATE amt_certs SET allowed = ''"); err != nil {
		t.Fatal(err)
	}
	// The sealed key moved to another name does not open.
	if _, err := v2.AddAMTCert(ctx, DefaultTenant, "second", c.Cert(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE amt_certs SET sealed_key = (SELECT sealed_key FROM amt_certs WHERE name = 'intel-prov') WHERE name = 'second'"); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.SignActivation(ctx, DefaultTenant, "second", fw, ""); !errors.Is(err, ErrTampered) {
		t.Errorf("key of another name: %v, want ErrTampered", err)
	}
	if _, probs, _ := v2.VerifyAll(ctx); len(probs) != 1 || probs[0].What != "AMT certificate" {
		t.Errorf("VerifyAll of a moved key: %v", probs)
	}

	// Remove.
	if _, err := v2.RemoveAMTCert(ctx, DefaultTenant, "second"); err != nil {
		t.Fatal(err)
	}
	if _, err := v2.RemoveAMTCert(ctx, DefaultTenant, "second"); !errors.Is(err, ErrNoAMTCert) {
		t.Errorf("second rm: %v", err)
	}
	if rs := auditDetails(t, v2, "amt-cert-rm"); len(rs) < 1 || !rs[0].Success {
		t.Errorf("amt-cert-rm audit: %+v", rs)
	}
}

// TestSignActivationKeyCache: the opened key is reused between signatures,
// but a certificate removed and added again under the same name with
// another key signs with the new key at once, and a removed one signs
// nothing; every signature is audited (batched) either way.
func TestSignActivationKeyCache(t *testing.T) {
	v, _, _ := newVault(t)
	a := amttest.Shared(t)
	b, err := amttest.New(time.Now().Add(365 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	fw := bytes.Repeat([]byte{7}, amt.NonceSize)
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "prov", a.Cert(t)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		act, err := v.SignActivation(ctx, DefaultTenant, "prov", fw, "")
		if err != nil {
			t.Fatal(err)
		}
		checkActivation(t, a, fw, act)
	}
	if n := len(v.amt.m); n != 1 {
		t.Fatalf("%d cached keys, want 1", n)
	}
	if _, err := v.RemoveAMTCert(ctx, DefaultTenant, "prov"); err != nil {
		t.Fatal(err)
	}
	if n := len(v.amt.m); n != 0 {
		t.Fatalf("%d cached keys after rm, want 0", n)
	}
	if _, err := v.SignActivation(ctx, DefaultTenant, "prov", fw, ""); !errors.Is(err, ErrNoAMTCert) {
		t.Fatalf("sign with a removed certificate: %v", err)
	}
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "prov", b.Cert(t)); err != nil {
		t.Fatal(err)
	}
	act, err := v.SignActivation(ctx, DefaultTenant, "prov", fw, "")
	if err != nil {
		t.Fatal(err)
	}
	checkActivation(t, b, fw, act)
	if got := len(auditDetails(t, v, "amt-sign")); got != 4+1 { // 4 signatures, 1 refusal
		t.Errorf("%d amt-sign audit rows, want 5", got)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(v.amt.m); n != 0 {
		t.Errorf("%d cached keys after Close", n)
	}
}

// TestSignActivationGate: at most GOMAXPROCS signatures are computed at
// once; a caller waiting for a slot gives up with its context (no
// signature made, so no amt-sign row), and one still waiting signs once a
// slot is free, its row committed before it returns.
func TestSignActivationGate(t *testing.T) {
	v, _, _ := newVault(t)
	a := amttest.Shared(t)
	fw := bytes.Repeat([]byte{7}, amt.NonceSize)
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "prov", a.Cert(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := v.SignActivation(ctx, DefaultTenant, "prov", fw, ""); err != nil {
		t.Fatal(err)
	}
	slots := cap(v.amt.gate)
	if slots != runtime.GOMAXPROCS(0) {
		t.Fatalf("%d signing slots, want GOMAXPROCS %d", slots, runtime.GOMAXPROCS(0))
	}
	for range slots { // every slot busy
		v.amt.gate <- struct{}{}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if act, err := v.SignActivation(short, DefaultTenant, "prov", fw, ""); !errors.Is(err, context.DeadlineExceeded) || act != nil {
		t.Fatalf("sign with every slot busy: %v, %v; want the context's deadline", act, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := v.SignActivation(ctx, DefaultTenant, "prov", fw, "")
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("signed with every slot busy: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	<-v.amt.gate // one slot frees
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range slots - 1 {
		<-v.amt.gate
	}
	if got := len(auditDetails(t, v, "amt-sign")); got != 2 {
		t.Errorf("%d amt-sign audit rows, want 2 (a caller that gave up made no signature)", got)
	}
}

// TestSignActivationConcurrent: 16 callers signing at once (more than the
// signing slots) each get a signature that verifies over their own
// fw_nonce, every nonce is fresh, there is one amt-sign row per signature
// naming its nonce, and the audit chain verifies.
func TestSignActivationConcurrent(t *testing.T) {
	v, _, _ := newVault(t)
	a := amttest.Shared(t)
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "prov", a.Cert(t)); err != nil {
		t.Fatal(err)
	}
	const callers, each = 16, 4
	acts := make([][]*AMTActivation, callers)
	fws := make([][]byte, callers)
	errs := make(chan error, callers)
	for g := range callers {
		fws[g] = bytes.Repeat([]byte{byte(g)}, amt.NonceSize)
		go func() {
			for range each {
				act, err := v.SignActivation(ctx, DefaultTenant, "prov", fws[g], "")
				if err != nil {
					errs <- err
					return
				}
				acts[g] = append(acts[g], act)
			}
			errs <- nil
		}()
	}
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	rows := auditDetails(t, v, "amt-sign")
	seen := map[string]bool{}
	for g := range callers {
		for _, act := range acts[g] {
			checkActivation(t, a, fws[g], act)
			n := hex.EncodeToString(act.Nonce)
			if seen[n] {
				t.Fatalf("nonce %s drawn twice", n)
			}
			seen[n] = true
			found := 0
			for _, r := range rows {
				if r.Success && strings.HasSuffix(r.Detail, "nonce "+n) {
					found++
				}
			}
			if found != 1 {
				t.Fatalf("%d amt-sign rows for nonce %s, want 1", found, n)
			}
		}
	}
	if len(seen) != callers*each || len(rows) != callers*each {
		t.Fatalf("%d signatures, %d amt-sign rows; want %d", len(seen), len(rows), callers*each)
	}
	if _, err := v.VerifyAudit(ctx); err != nil {
		t.Fatalf("audit chain after concurrent signatures: %v", err)
	}
}
