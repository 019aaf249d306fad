package vault

// Intel AMT provisioning certificates: docs/amt.md, "Storage", "Limits"
// and "Signing". A tenant stores a certificate chain and its private key
// once; the key is sealed under the tenant DEK (keyring.SealAMTKey) and
// never leaves the vault: callers get activation signatures.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/amt"
	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// AMT sentinel errors, tested with errors.Is.
var (
	ErrNoAMTCert     = vaulterr.ErrNoAMTCert
	ErrAMTCertExists = vaulterr.ErrAMTCertExists
	ErrAMTNotAllowed = vaulterr.ErrAMTNotAllowed
	ErrAMTNonce      = vaulterr.ErrAMTNonce
)

// Prefixes of the entries of a certificate's allowed list.
const (
	AMTAllowDevice = "device:" // + public device ID
	AMTAllowRole   = "role:"   // + role
)

// AMTCertInfo describes a stored provisioning certificate; never its key.
type AMTCertInfo struct {
	Tenant          string   `json:"tenant"`
	Name            string   `json:"name"`
	Subject         string   `json:"subject"`
	RootFingerprint string   `json:"root_fingerprint"` // lowercase hex SHA-256 of the root's DER
	NotAfter        string   `json:"not_after"`        // the chain's earliest expiry, RFC 3339 UTC
	Certificates    int      `json:"certificates"`     // in the chain, leaf to root
	Allowed         []string `json:"allowed"`          // "device:<id>", "role:<role>"; empty: any device of the tenant
	CreatedAt       string   `json:"created_at"`
	CreatedBy       string   `json:"created_by"`
	notAfter        time.Time
}

// ExpiresWithin reports whether the certificate expires within d of now.
func (c AMTCertInfo) ExpiresWithin(now time.Time, d time.Duration) bool {
	return !c.notAfter.After(now.Add(d))
}

// Expiry is the chain's earliest expiry.
func (c AMTCertInfo) Expiry() time.Time { return c.notAfter }

func amtCertInfo(tenant string, c store.AMTCert) AMTCertInfo {
	na, _ := time.Parse(TimeLayout, c.NotAfter)
	n := 0
	if certs, err := x509.ParseCertificates(c.Chain); err == nil {
		n = len(certs)
	}
	allowed := splitAllowed(c.Allowed)
	return AMTCertInfo{Tenant: tenant, Name: c.Name, Subject: c.Subject, RootFingerprint: c.RootFingerprint,
		NotAfter: na.UTC().Format(time.RFC3339), Certificates: n, Allowed: allowed, CreatedAt: c.CreatedAt, CreatedBy: c.CreatedBy, notAfter: na}
}

func splitAllowed(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "\n")
}

// AMTActivation is what a device needs to finish admin-control-mode
// activation: the signer's nonce, the signature over fw_nonce ‖ nonce,
// the chain in DER leaf to root, and the root fingerprint.
type AMTActivation struct {
	Cert            string
	Nonce           []byte
	Signature       []byte
	Chain           [][]byte
	RootFingerprint string // lowercase hex
}

// amtCertRow returns the tenant's certificate name with its MAC checked
// and its state checked against the audit chain (amtstate.go).
func (o *op) amtCertRow(t store.Tenant, name string) (store.AMTCert, error) {
	c, err := o.tx.AMTCert(o.ctx, t.ID, name)
	if errors.Is(err, store.ErrNoRow) {
		return c, fmt.Errorf("%w: %q in tenant %s", ErrNoAMTCert, name, t.Name)
	}
	if err != nil {
		return c, err
	}
	if err := o.keys.Check(keyring.AMTCertRow(c)); err != nil {
		return c, err
	}
	return c, o.checkAMTCertState(t, c)
}

// AddAMTCert stores a provisioning certificate under name, its key sealed
// under the tenant's current DEK. A name in use is ErrAMTCertExists.
func (v *Vault) AddAMTCert(ctx context.Context, tenantName, name string, c *amt.Cert) (*AMTCertInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	keyDER, err := c.MarshalKey()
	if err != nil {
		return nil, err
	}
	defer clear(keyDER)
	chain := bytes.Join(c.ChainDER(), nil)
	fp := c.RootFingerprint()
	var out *AMTCertInfo
	err = v.update(ctx, func(o *op) error {
		t, err := o.lockedTenant(tenantName)
		if err != nil {
			return err
		}
		if _, err := o.tx.AMTCert(o.ctx, t.ID, name); err == nil {
			return fmt.Errorf("%w: %q in tenant %s", ErrAMTCertExists, name, t.Name)
		} else if !errors.Is(err, store.ErrNoRow) {
			return err
		}
		dek, err := o.sealingDEK(t) // dekstate.go
		if err != nil {
			return err
		}
		sealed, err := keyring.SealAMTKey(dek, t.ID, name, chain, t.DEKVersion, keyDER)
		if err != nil {
			return err
		}
		row := store.AMTCert{TenantID: t.ID, Name: name, Chain: chain, Subject: amt.Describe(c.Leaf()), RootFingerprint: hex.EncodeToString(fp[:]),
			NotAfter: formatTime(c.NotAfter()), DEKVersion: t.DEKVersion, SealedKey: sealed, CreatedAt: o.ts(), CreatedBy: o.caller.Actor}
		row.MAC = o.keys.MAC(keyring.AMTCertRow(row))
		if err := o.tx.InsertAMTCert(o.ctx, row); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: %q in tenant %s", ErrAMTCertExists, name, t.Name)
			}
			return err
		}
		info := amtCertInfo(t.Name, row)
		out = &info
		o.audit(auditRow{Action: "amt-cert-add", Tenant: t.Name, Object: name, Success: true,
			Detail: fmt.Sprintf("subject %q, root fingerprint %s, expires %s", row.Subject, row.RootFingerprint, info.NotAfter)})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "amt-cert-add", tenantName, name, err)
		return nil, err
	}
	return out, nil
}

// ListAMTCerts lists the tenant's provisioning certificates by name.
func (v *Vault) ListAMTCerts(ctx context.Context, tenantName string) ([]AMTCertInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	out := []AMTCertInfo{}
	err := v.view(ctx, func(o *op) error {
		out = out[:0]
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		cs, err := o.tx.AMTCerts(o.ctx, t.ID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := o.keys.Check(keyring.AMTCertRow(c)); err != nil {
				return err
			}
			out = append(out, amtCertInfo(t.Name, c))
		}
		return nil
	})
	return out, err
}

// RemoveAMTCert deletes a provisioning certificate and its sealed key.
func (v *Vault) RemoveAMTCert(ctx context.Context, tenantName, name string) (*AMTCertInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *AMTCertInfo
	var tenantID int64
	err := v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		c, err := o.tx.AMTCert(o.ctx, t.ID, name)
		if errors.Is(err, store.ErrNoRow) {
			return fmt.Errorf("%w: %q in tenant %s", ErrNoAMTCert, name, t.Name)
		} else if err != nil {
			return err
		}
		if _, err := o.tx.DeleteAMTCert(o.ctx, t.ID, name); err != nil {
			return err
		}
		tenantID = t.ID
		info := amtCertInfo(t.Name, c)
		out = &info
		o.audit(auditRow{Action: "amt-cert-rm", Tenant: t.Name, Object: name, Success: true,
			Detail: fmt.Sprintf("subject %q, root fingerprint %s", c.Subject, c.RootFingerprint)})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "amt-cert-rm", tenantName, name, err)
		return nil, err
	}
	v.amt.drop(func(r amtRef) bool { return r.tenant == tenantID && r.name == name })
	v.checkpoint(ctx)
	return out, nil
}

// AllowAMTCert changes who may ask for signatures with the certificate:
// devices (an ID, name or hardware UUID, stored as the device ID) and
// roles are added to its allowed list, or removed from it with remove.
// A certificate with an empty list may be used by any device of the
// tenant. It returns the new list.
func (v *Vault) AllowAMTCert(ctx context.Context, tenantName, name string, devices, roles []string, remove bool) (*AMTCertInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	for _, r := range roles {
		if !ValidRole(r) {
			return nil, fmt.Errorf("%w: role %q", ErrInvalidName, r)
		}
	}
	var out *AMTCertInfo
	err := v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		c, err := o.amtCertRow(t, name)
		if err != nil {
			return err
		}
		var entries []string
		var named []string
		for _, ref := range devices {
			d, err := o.findDevice(t, ref, true)
			if err != nil {
				if !remove || !errors.Is(err, ErrNoDevice) {
					return err
				}
				entries = append(entries, AMTAllowDevice+ref) // a removed device's ID
				continue
			}
			entries = append(entries, AMTAllowDevice+d.ID)
			named = append(named, fmt.Sprintf("device %s (%s, uuid %q)", d.Name, d.ID, d.UUID))
		}
		for _, r := range roles {
			entries = append(entries, AMTAllowRole+r)
			named = append(named, "role "+r)
		}
		set := splitAllowed(c.Allowed)
		for _, e := range entries {
			i := slices.Index(set, e)
			switch {
			case remove && i >= 0:
				set = slices.Delete(set, i, i+1)
			case !remove && i < 0:
				set = append(set, e)
			}
		}
		slices.Sort(set)
		c.Allowed = strings.Join(set, "\n")
		c.MAC = o.keys.MAC(keyring.AMTCertRow(c))
		if err := o.tx.SetAMTCertAllowed(o.ctx, t.ID, name, c.Allowed, c.MAC); err != nil {
			return err
		}
		info := amtCertInfo(t.Name, c)
		out = &info
		verb := "allowed"
		if remove {
			verb = "no longer allowed"
		}
		o.audit(auditRow{Action: "amt-cert-allow", Tenant: t.Name, Object: name, Success: true,
			Detail: fmt.Sprintf("%s: %s; allowed now: %s", verb, strings.Join(named, ", "), allowedSummary(set))})
		return nil
	})
	if err != nil {
		v.auditFailure(ctx, "amt-cert-allow", tenantName, name, err)
		return nil, err
	}
	return out, nil
}

func allowedSummary(set []string) string {
	if len(set) == 0 {
		return "any device of the tenant"
	}
	return strings.Join(set, " ")
}

// amtAllows is the decision: may device d use a certificate whose allowed
// list is allowed? An empty list allows every device of the tenant.
func amtAllows(allowed string, d store.Device) bool {
	set := splitAllowed(allowed)
	if len(set) == 0 {
		return true
	}
	return slices.Contains(set, AMTAllowDevice+d.ID) || slices.Contains(set, AMTAllowRole+d.Role)
}

// SignActivation signs an activation for Intel AMT admin control mode
// with the tenant's certificate certName: a fresh 20-byte nonce from the
// vault's randomness, and the RSA PKCS#1 v1.5 SHA-256 signature over
// fwNonce ‖ nonce. device is the authenticated device asking (its ID,
// name or UUID; the certificate's allowed list applies), or "" for an
// operator holding the master key. Every signature is an audit row naming
// the device and its UUID; a refusal is one too. The signature is
// returned only once its audit row is committed.
func (v *Vault) SignActivation(ctx context.Context, tenantName, certName string, fwNonce []byte, device string) (*AMTActivation, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	object := certName
	if len(fwNonce) != amt.NonceSize {
		err := fmt.Errorf("%w: got %d bytes", ErrAMTNonce, len(fwNonce))
		v.auditSignFailure(ctx, tenantName, object, device, err)
		return nil, err
	}
	var s *amtSigning
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		c, err := o.amtCertRow(t, certName)
		if err != nil {
			return err
		}
		var d *store.Device
		if device != "" {
			found, err := o.findDevice(t, device, true)
			if err != nil {
				return err
			}
			d = &found
		}
		s, err = o.amtSigning(t, c, d)
		return err
	})
	if err != nil {
		v.auditSignFailure(ctx, tenantName, object, device, err)
		return nil, err
	}
	return v.signActivation(ctx, s, fwNonce)
}

// SignActivationByKey is DeviceByKey (tenantName "" = any tenant) and
// SignActivation for the device found, in one read snapshot: what a
// device's SignActivation call over mTLS needs. Every check of the two
// runs, in the same order, with the same errors: the key's and device's
// row MACs, the key active at the device's role, the chain's record of
// no revocation of the key and no removal of the device (activeKey; the
// device row it checks is the one findDevice would read in the same
// snapshot, and checkKeyNotRevoked's scan includes the device-rm rows
// checkDeviceNotRemoved looks for, so neither is asked twice), then the
// firmware nonce, the certificate row and its MAC, the allowed list.
//
// When the key identifies no device, id is nil, nothing is audited and
// err is DeviceByKey's (the caller audits the refusal, as after
// DeviceByKey). When it does, id is the device, and a refused signature
// is audited as SignActivation's is. The signature is returned only once
// its audit row committed.
func (v *Vault) SignActivationByKey(ctx context.Context, tenantName string, fp [32]byte, certName string, fwNonce []byte) (*DeviceIdentity, *AMTActivation, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, nil, err
	}
	var id *DeviceIdentity
	var s *amtSigning
	err := v.view(ctx, func(o *op) error {
		id, s = nil, nil
		found, t, d, err := o.deviceByKeyRows(tenantName, fp)
		if err != nil {
			return err
		}
		id = found
		if len(fwNonce) != amt.NonceSize {
			return fmt.Errorf("%w: got %d bytes", ErrAMTNonce, len(fwNonce))
		}
		c, err := o.amtCertRow(t, certName)
		if err != nil {
			return err
		}
		if d.TenantID != t.ID {
			// Not a row activeKey's checks vouch for as the tenant's
			// device: look it up as SignActivation does.
			if d, err = o.findDevice(t, d.ID, true); err != nil {
				return err
			}
		}
		s, err = o.amtSigning(t, c, &d)
		return err
	})
	if id == nil {
		if err == nil {
			err = fmt.Errorf("vault: no device identified")
		}
		return nil, nil, err
	}
	if err != nil {
		v.auditSignFailure(ctx, id.Tenant, certName, id.DeviceID, err)
		return id, nil, err
	}
	act, err := v.signActivation(ctx, s, fwNonce)
	return id, act, err
}

// amtSigning is what one signature needs from its read snapshot.
type amtSigning struct {
	cert   *amt.Cert
	row    store.AMTCert
	tenant string
	who    string // "operator" or the device, for the audit row
}

// amtSigning decides whether d (nil: an operator) may sign with the
// checked certificate row c, and opens its key (from the cache when
// the row is the one the cached key was opened from).
func (o *op) amtSigning(t store.Tenant, c store.AMTCert, d *store.Device) (*amtSigning, error) {
	s := &amtSigning{row: c, tenant: t.Name, who: "operator"}
	if d != nil {
		s.who = fmt.Sprintf("device %s (%s, uuid %q)", d.Name, d.ID, d.UUID)
		if !amtAllows(c.Allowed, *d) {
			return nil, fmt.Errorf("%w: device %s (role %s) may not use %q", ErrAMTNotAllowed, d.Name, d.Role, c.Name)
		}
	}
	v := o.v
	ref := amtRefOf(t.ID, c)
	if s.cert = v.amt.get(ref); s.cert != nil {
		return s, nil
	}
	dek, err := o.dek(t.ID, c.DEKVersion)
	if err != nil {
		return nil, err
	}
	keyDER, err := keyring.OpenAMTKey(dek, t.ID, c.Name, c.Chain, c.DEKVersion, c.SealedKey)
	if err != nil {
		return nil, err
	}
	defer clear(keyDER)
	if s.cert, err = v.loadAMTCert(t.ID, c, keyDER); err != nil {
		return nil, err
	}
	v.amt.put(ref, s.cert)
	return s, nil
}

// signActivation makes the signature s was decided for. The row goes to
// the audit batcher (auditbatch.go) while the signature is computed:
// signatures of many devices at once share one append; none is returned
// before its row committed. It needs no read, so no snapshot is opened
// for it.
func (v *Vault) signActivation(ctx context.Context, s *amtSigning, fwNonce []byte) (*AMTActivation, error) {
	act, err := v.amt.sign(ctx, s.cert, v.opts.Rand, fwNonce, func(nonce []byte) error {
		return v.auditAppend(ctx, auditRow{Action: "amt-sign", Tenant: s.tenant, Object: s.row.Name, Success: true,
			Detail: fmt.Sprintf("%s, root fingerprint %s, nonce %x", s.who, s.row.RootFingerprint, nonce)})
	})
	if err != nil {
		return nil, err
	}
	return &AMTActivation{Cert: s.row.Name, Nonce: act.Nonce, Signature: act.Signature, Chain: act.Chain,
		RootFingerprint: hex.EncodeToString(act.RootFingerprint[:])}, nil
}

// amtRef names one stored AMT certificate row: tenant, name and a digest
// of what the opened key depends on (chain, sealed key, DEK version), so a
// re-added, re-sealed or altered row never finds an entry made for another.
type amtRef struct {
	tenant int64
	name   string
	digest [sha256.Size]byte
}

func amtRefOf(tenant int64, c store.AMTCert) amtRef {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%d\x00%d\x00", c.DEKVersion, len(c.Chain), len(c.SealedKey))
	h.Write(c.Chain)
	h.Write(c.SealedKey)
	r := amtRef{tenant: tenant, name: c.Name}
	h.Sum(r.digest[:0])
	return r
}

// amtCache keeps the provisioning keys SignActivation opened, so that a
// signature costs the RSA operation and not also the unsealing and
// parsing of the key. Every call still reads and checks the row first (a
// removed certificate is not found; a changed row misses the cache). One
// entry per tenant and name; RemoveAMTCert and Close drop entries.
//
// It also admits the RSA operations (sign): at most GOMAXPROCS at a time,
// the others waiting in arrival order. An RSA-2048 signature is about a
// millisecond of one core, all computation; with more signers than cores
// the Go scheduler gives each a 10 ms slice in turn, so a signature that
// is preempted waits for every other signer's slice (16 signers on 2 cores:
// p50 about 1 ms, p99 about 160 ms). In arrival order every signature
// waits about the same: the signatures ahead of it, divided by the cores.
type amtCache struct {
	mu   sync.Mutex
	m    map[amtRef]*amt.Cert
	gate chan struct{} // RSA operations running; made on first use
}

// sign makes cert's activation signature once a signing slot is free
// (or fails with ctx's error while waiting, before anything is recorded).
// It draws the signer's nonce, then computes the signature in a goroutine
// of its own while record(nonce) runs (the audit row's group commit: the
// commit waits on the disk and on the scheduler, the signature on a core),
// and returns once both are done: never a signature whose record failed.
// If the signature fails after its record committed (it does not with a
// key that loaded), the row names a nonce whose signature nobody got.
func (c *amtCache) sign(ctx context.Context, cert *amt.Cert, rand io.Reader, fwNonce []byte, record func(nonce []byte) error) (*amt.Activation, error) {
	c.mu.Lock()
	if c.gate == nil {
		c.gate = make(chan struct{}, runtime.GOMAXPROCS(0))
	}
	gate := c.gate
	c.mu.Unlock()
	select {
	case gate <- struct{}{}: // blocked senders are woken first come, first served
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	nonce := make([]byte, amt.NonceSize)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		<-gate
		return nil, fmt.Errorf("drawing nonce: %w", err)
	}
	type signed struct {
		act *amt.Activation
		err error
	}
	done := make(chan signed, 1)
	go func() {
		defer func() { <-gate }()
		act, err := cert.SignActivationNonce(fwNonce, nonce)
		done <- signed{act, err}
	}()
	rerr := record(nonce)
	s := <-done
	if rerr != nil {
		return nil, rerr
	}
	return s.act, s.err
}

func (c *amtCache) get(r amtRef) *amt.Cert {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[r]
}

func (c *amtCache) put(r amtRef, cert *amt.Cert) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[amtRef]*amt.Cert{}
	}
	for k := range c.m {
		if k.tenant == r.tenant && k.name == r.name {
			delete(c.m, k)
		}
	}
	c.m[r] = cert
}

func (c *amtCache) drop(match func(amtRef) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if match(k) {
			delete(c.m, k)
		}
	}
}

// loadAMTCert rebuilds the certificate from its stored row and opened key.
func (v *Vault) loadAMTCert(tenantID int64, c store.AMTCert, keyDER []byte) (*amt.Cert, error) {
	certs, err := x509.ParseCertificates(c.Chain)
	if err != nil {
		return nil, fmt.Errorf("%w: the chain of AMT certificate %q does not parse: %v", ErrTampered, c.Name, err)
	}
	der := make([][]byte, len(certs))
	for i, x := range certs {
		der[i] = x.Raw
	}
	return amt.Load(der, keyDER)
}

// auditSignFailure records a refused signature, naming the device.
func (v *Vault) auditSignFailure(ctx context.Context, tenantName, object, device string, cause error) {
	if !v.Unlocked() {
		return
	}
	who := "operator"
	if device != "" {
		who = "device " + v.deviceObject(ctx, tenantName, device)
		if info, err := v.Device(ctx, tenantName, device); err == nil {
			who = fmt.Sprintf("device %s (%s, uuid %q)", info.Name, info.ID, info.UUID)
		}
	}
	reason := "failed"
	for _, r := range []struct {
		err    error
		detail string
	}{
		{ErrAMTNotAllowed, "not allowed"},
		{ErrAMTNonce, "bad firmware nonce"},
		{ErrNoAMTCert, "no such certificate"},
		{ErrNoDevice, "no such device"},
		{ErrNoTenant, "no such tenant"},
		{ErrTampered, "does not authenticate"},
	} {
		if errors.Is(cause, r.err) {
			reason = r.detail
			break
		}
	}
	v.auditEvent(ctx, auditRow{Action: "amt-sign", Tenant: tenantName, Object: object, Success: false, Detail: who + ": " + reason})
}

// resealAMTKeys re-seals every provisioning key of the tenant under the
// new DEK, within RotateDEK's transaction.
func (o *op) resealAMTKeys(t store.Tenant, newVer int, newDEK *seal.AEAD) (int, error) {
	cs, err := o.tx.AMTCerts(o.ctx, t.ID)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if err := o.keys.Check(keyring.AMTCertRow(c)); err != nil {
			return 0, err
		}
		old, err := o.dek(t.ID, c.DEKVersion)
		if err != nil {
			return 0, err
		}
		pt, err := keyring.OpenAMTKey(old, t.ID, c.Name, c.Chain, c.DEKVersion, c.SealedKey)
		if err != nil {
			return 0, err
		}
		sealed, err := keyring.SealAMTKey(newDEK, t.ID, c.Name, c.Chain, newVer, pt)
		clear(pt)
		if err != nil {
			return 0, err
		}
		if err := o.tx.UpdateAMTCertSeal(o.ctx, t.ID, c.Name, newVer, sealed); err != nil {
			return 0, err
		}
	}
	return len(cs), nil
}
