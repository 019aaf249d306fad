package vault

// Devices over the network (docs/server.md, "Devices"): what "keysmith
// serve" needs to let a device act as itself with the key keysmith
// provisioned for it. A device is identified by the SHA-256 of its key's
// SubjectPublicKeyInfo, looked up among the active keys at the device's
// current role; it may report and read only for its own device row.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// ErrOtherDevice: a device asked to act for another device (a report
// naming another UUID).
var ErrOtherDevice = fmt.Errorf("%w: a device acts only for itself", ErrAccessDenied)

// deviceSessionInfo is the HKDF info of the device session key.
const deviceSessionInfo = "keysmith/v1/vault/device-session"

// DeviceIdentity is an authenticated device: the device and the active key
// that proved it.
type DeviceIdentity struct {
	Tenant      string `json:"tenant"`
	TenantID    int64  `json:"-"`
	DeviceID    string `json:"device_id"`
	Name        string `json:"name"`
	UUID        string `json:"device_uuid,omitempty"`
	Role        string `json:"role"`
	KeyID       string `json:"key_id"`
	Fingerprint string `json:"key_fingerprint"`
}

func deviceIdentity(t store.Tenant, d store.Device, k store.DeviceKey) *DeviceIdentity {
	return &DeviceIdentity{Tenant: t.Name, TenantID: t.ID, DeviceID: d.ID, Name: d.Name, UUID: d.UUID, Role: d.Role,
		KeyID: k.KeyID, Fingerprint: k.Fingerprint}
}

// DeviceSessionKey is the key that MACs device sessions
// (devicecred.IssueSession): HKDF-SHA256(audit key, no salt, info
// "keysmith/v1/vault/device-session"), 32 bytes. Every server unlocking the
// same store derives the same key, so any of them verifies a session
// another issued.
func (v *Vault) DeviceSessionKey() ([]byte, error) {
	keys, _ := v.state()
	if keys == nil {
		return nil, ErrLocked
	}
	return hkdf.Key(sha256.New, keys.AuditKey(), nil, deviceSessionInfo, devicecred.SessionKeySize)
}

// activeKey decides whether k proves device d now: its row MACs verify, it
// is active, at the device's current role, and the audit chain does not
// record its revocation.
func (o *op) activeKey(t store.Tenant, d store.Device, k store.DeviceKey) error {
	if err := o.check(keyring.DeviceRow(d)); err != nil {
		return err
	}
	if err := o.check(keyring.DeviceKeyRow(k)); err != nil {
		return err
	}
	if k.Status != KeyActive {
		return fmt.Errorf("%w: key %s of device %s was revoked at %s", ErrKeyRevoked, k.KeyID, d.Name, k.RevokedAt)
	}
	if k.Role != d.Role {
		return fmt.Errorf("%w: key %s of device %s is at role %s; the device is at role %s", ErrKeyOtherRole, k.KeyID, d.Name, k.Role, d.Role)
	}
	return o.checkKeyNotRevoked(t, d, k)
}

// deviceByKey finds the key with SPKI fingerprint fp in the tenant named
// (every tenant when tenantName is "") and decides it (activeKey).
func (o *op) deviceByKey(tenantName string, fp [32]byte) (*DeviceIdentity, error) {
	id, _, _, err := o.deviceByKeyRows(tenantName, fp)
	return id, err
}

// deviceByKeyRows is deviceByKey with the tenant and device rows it
// decided on.
func (o *op) deviceByKeyRows(tenantName string, fp [32]byte) (*DeviceIdentity, store.Tenant, store.Device, error) {
	var foundT store.Tenant
	var foundD store.Device
	hexfp := hex.EncodeToString(fp[:])
	var tenants []store.Tenant
	if tenantName != "" {
		t, err := o.tenant(tenantName)
		if err != nil {
			return nil, foundT, foundD, err
		}
		tenants = []store.Tenant{t}
	} else {
		var err error
		if tenants, err = o.tx.Tenants(o.ctx); err != nil {
			return nil, foundT, foundD, err
		}
	}
	var found *DeviceIdentity
	var firstErr error
	for _, t := range tenants {
		k, err := o.tx.DeviceKeyFind(o.ctx, t.ID, "", hexfp)
		if errors.Is(err, store.ErrNoRow) {
			continue
		} else if err != nil {
			return nil, foundT, foundD, err
		}
		if !bytes.Equal(sha256Sum(k.SPKI), fp[:]) {
			return nil, foundT, foundD, fmt.Errorf("%w: stored key %s does not match its fingerprint", ErrTampered, k.KeyID)
		}
		d, err := o.tx.DeviceByRef(o.ctx, k.DeviceRef)
		if err != nil {
			return nil, foundT, foundD, err
		}
		if err := o.activeKey(t, d, k); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if found != nil {
			return nil, foundT, foundD, fmt.Errorf("%w: key %s is a device key in tenants %s and %s: name the tenant", ErrInvalidName, hexfp[:16], found.Tenant, t.Name)
		}
		found, foundT, foundD = deviceIdentity(t, d, k), t, d
	}
	if found != nil {
		return found, foundT, foundD, nil
	}
	if firstErr != nil {
		return nil, store.Tenant{}, store.Device{}, firstErr
	}
	return nil, store.Tenant{}, store.Device{}, fmt.Errorf("%w: no device key has fingerprint %s", ErrNoDeviceKey, hexfp)
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// DeviceByKey returns the device whose active key at its current role has
// the SPKI fingerprint fp (SHA-256 of the DER SubjectPublicKeyInfo), in
// the tenant named, or in any tenant when tenantName is "". It fails with
// ErrNoDeviceKey (no such key), ErrKeyRevoked, ErrKeyOtherRole or
// ErrTampered. It reads only; the caller audits refusals
// (AuditDeviceRefused).
func (v *Vault) DeviceByKey(ctx context.Context, tenantName string, fp [32]byte) (*DeviceIdentity, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceIdentity
	err := v.view(ctx, func(o *op) error {
		var err error
		out, err = o.deviceByKey(tenantName, fp)
		return err
	})
	return out, err
}

// DeviceByTenantKey is DeviceByKey for a tenant named by its internal ID
// (what a device session carries).
func (v *Vault) DeviceByTenantKey(ctx context.Context, tenantID int64, fp [32]byte) (*DeviceIdentity, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceIdentity
	err := v.view(ctx, func(o *op) error {
		t, err := o.tx.TenantByID(o.ctx, tenantID)
		if errors.Is(err, store.ErrNoRow) {
			return fmt.Errorf("%w: tenant %d", ErrNoTenant, tenantID)
		} else if err != nil {
			return err
		}
		out, err = o.deviceByKey(t.Name, fp)
		return err
	})
	return out, err
}

// VerifyChallengeBound is VerifyChallenge for a challenge answered over a
// TLS connection: with binding (the connection's RFC 9266 tls-exporter
// value, devicecred.ChannelBinding) the signature must be over
// devicecred.ChallengeMessageBound, so an answer relayed onto another
// connection does not verify; with binding nil it is VerifyChallenge. The
// nonce is consumed in the transaction that checks it. It returns the
// identity the key proves.
func (v *Vault) VerifyChallengeBound(ctx context.Context, tenantName, ref string, nonce, binding, sig []byte) (*DeviceIdentity, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceIdentity
	err := v.deviceTx(ctx, tenantName, ref, func(o *op, t store.Tenant, d store.Device) error {
		out = nil
		c, err := o.tx.Challenge(o.ctx, d.Ref, nonce)
		if errors.Is(err, store.ErrNoRow) {
			return fmt.Errorf("%w: device %s (%s)", ErrNoChallenge, d.Name, d.ID)
		} else if err != nil {
			return err
		}
		if err := o.checkChallenge(t, d, c, nonce); err != nil {
			return err
		}
		if c.ConsumedAt != "" {
			return fmt.Errorf("%w: verified at %s; a challenge answers once", ErrChallengeReplayed, c.ConsumedAt)
		}
		now := o.ts()
		if now >= c.ExpiresAt {
			return fmt.Errorf("%w: it expired at %s", ErrChallengeExpired, c.ExpiresAt)
		}
		keys, err := o.tx.DeviceKeys(o.ctx, d.Ref)
		if err != nil {
			return err
		}
		var signer *store.DeviceKey
		for i, k := range keys {
			pub, err := x509.ParsePKIXPublicKey(k.SPKI)
			if err != nil {
				return fmt.Errorf("%w: stored key %s does not parse", ErrTampered, k.KeyID)
			}
			ec, ok := pub.(*ecdsa.PublicKey)
			if !ok {
				continue
			}
			if binding != nil {
				err = devicecred.VerifyChallengeBound(ec, d.ID, nonce, binding, sig)
			} else {
				err = devicecred.VerifyChallenge(ec, d.ID, nonce, sig)
			}
			if err == nil {
				signer = &keys[i]
				break
			}
		}
		if signer == nil {
			what := "no key of device %s (%s) made it"
			if binding != nil {
				what += " over this connection's channel binding"
			}
			return fmt.Errorf("%w: "+what, devicecred.ErrBadSignature, d.Name, d.ID)
		}
		if err := o.activeKey(t, d, *signer); err != nil {
			return err
		}
		ok, err := o.tx.ConsumeChallenge(o.ctx, nonce, now, signer.KeyID)
		if err != nil {
			return err
		} else if !ok {
			return ErrChallengeReplayed
		}
		out = deviceIdentity(t, d, *signer)
		bound := ""
		if binding != nil {
			bound = ", channel-bound"
		}
		o.audit(auditRow{Action: "device-verify", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, key %s, fingerprint %s, challenge %s%s", d.ID, signer.KeyID, signer.Fingerprint, challengeID(nonce), bound)})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-verify", tenantName, v.deviceObject(ctx, tenantName, ref), err)
		return nil, err
	}
	return out, nil
}

// ApplyDeviceReport applies a report sent by the device id itself: its
// device_uuid must be the device's own UUID (else ErrOtherDevice, audited),
// and the key must still be active at the device's role. Everything else is
// ApplyReport: once per request_id, the same report again is
// AlreadyApplied, another one with that request_id ErrReportConflict, the
// AMT and MEBx password rules of ParseReport.
func (v *Vault) ApplyDeviceReport(ctx context.Context, id *DeviceIdentity, rep *Report) (*ReportResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if id.UUID == "" || rep.DeviceUUID != id.UUID {
		err := fmt.Errorf("%w: device %s (%s) reported for UUID %s, its own UUID is %q", ErrOtherDevice, id.Name, id.DeviceID, rep.DeviceUUID, id.UUID)
		v.auditEvent(ctx, auditRow{Action: "device-report", Tenant: id.Tenant, Object: id.Name, Success: false,
			Detail: fmt.Sprintf("device %s, key %s, request %s: refused, report for another device's UUID %s", id.DeviceID, id.KeyID, rep.RequestID, rep.DeviceUUID)})
		return nil, err
	}
	return v.ApplyReport(WithCaller(ctx, deviceCaller(ctx, id)), id.Tenant, rep)
}

// OwnDeviceSecret is GetDeviceSecret for the device id itself: its latest
// version of name, the read audited (with the caller's address and user
// agent from the context) as "read by the device".
func (v *Vault) OwnDeviceSecret(ctx context.Context, id *DeviceIdentity, name string) (*DeviceSecret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if err := checkName(name); err != nil {
		v.auditEvent(ctx, auditRow{Action: "device-secret-get", Tenant: id.Tenant, Object: id.Name, Success: false,
			Detail: fmt.Sprintf("device %s, key %s: refused, invalid secret name", id.DeviceID, id.KeyID)})
		return nil, err
	}
	ctx = WithCaller(ctx, deviceCaller(ctx, id))
	return v.GetDeviceSecret(ctx, id.Tenant, id.DeviceID, name)
}

// deviceCaller is the caller in ctx with the device as actor.
func deviceCaller(ctx context.Context, id *DeviceIdentity) Caller {
	c, _ := CallerFrom(ctx)
	c.Actor = "device " + id.DeviceID + " key " + id.KeyID
	return c
}

// AuditDeviceRefused records a device call refused before or by
// authentication (no or unknown key, revoked key, bad session, rate limit):
// action is the device action the call would have been.
func (v *Vault) AuditDeviceRefused(ctx context.Context, action, tenantName, object, reason string) error {
	if err := v.mustUnlocked(); err != nil {
		return err
	}
	return v.update(context.WithoutCancel(ctx), func(o *op) error {
		o.audit(auditRow{Action: action, Tenant: tenantName, Object: object, Success: false, Detail: reason})
		return nil
	})
}

// DeviceChallengeTTL is how long a challenge issued over the network is
// valid.
const DeviceChallengeTTL = 2 * time.Minute

// ValidDeviceID reports whether s is a device ID: "dev_" and 16 hex digits.
func ValidDeviceID(s string) bool { return deviceIDRE().MatchString(s) }
