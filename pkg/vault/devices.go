package vault

// Devices: docs/device.md, "What the vault stores". The vault keeps a
// device's public keys (never a private key), its challenges, its secrets
// (sealed under the tenant DEK) and the provisioning reports applied to it.
// Every change and every secret read is audited in the transaction that
// makes it.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/strictjson"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// deviceActions are the audit actions of the device records (docs/device.md).
var deviceActions = []string{
	"device-provision", "device-enroll", "device-role", "device-revoke", "device-rm",
	"device-challenge", "device-verify", "device-secret-set", "device-secret-get", "device-report",
}

// Device sentinel errors, tested with errors.Is.
var (
	ErrNoDevice          = vaulterr.ErrNoDevice
	ErrNoDeviceKey       = vaulterr.ErrNoDeviceKey
	ErrDeviceExists      = vaulterr.ErrDeviceExists
	ErrKeyExists         = vaulterr.ErrKeyExists
	ErrKeyRevoked        = vaulterr.ErrKeyRevoked
	ErrNoChallenge       = vaulterr.ErrNoChallenge
	ErrChallengeExpired  = vaulterr.ErrChallengeExpired
	ErrChallengeReplayed = vaulterr.ErrChallengeReplayed
	ErrReportConflict    = vaulterr.ErrReportConflict
	ErrInvalidReport     = vaulterr.ErrInvalidReport
)

// ErrKeyOtherRole is a key that is active but not at its device's current
// role (left by a role change before keysmith revoked those): it proves
// nothing, like a revoked key, and errors.Is(err, ErrKeyRevoked) holds for
// it too; its message does not call it revoked.
var ErrKeyOtherRole error = otherRoleError{}

type otherRoleError struct{}

func (otherRoleError) Error() string { return "device key is not at the device's current role" }
func (otherRoleError) Unwrap() error { return ErrKeyRevoked }

// DeviceExistsError is a new device whose name or hardware UUID an existing
// device of the tenant already has; it names that device. errors.Is(err,
// ErrDeviceExists) holds.
type DeviceExistsError struct {
	Tenant   string
	DeviceID string // the existing device
	Name     string
	UUID     string
	ByUUID   bool // the UUID is taken (by a device of another name)
}

func (e *DeviceExistsError) Error() string {
	if e.ByUUID {
		return fmt.Sprintf("%v: UUID %s belongs to device %s (%s) in tenant %s", ErrDeviceExists, e.UUID, e.Name, e.DeviceID, e.Tenant)
	}
	return fmt.Sprintf("%v: device %s (%s) is in tenant %s", ErrDeviceExists, e.Name, e.DeviceID, e.Tenant)
}

func (e *DeviceExistsError) Unwrap() error { return ErrDeviceExists }

// Key origins and statuses, as stored.
const (
	KeyProvisioned = "provisioned" // minted by keysmith, private key handed out once
	KeyEnrolled    = "enrolled"    // generated on the device, public key enrolled
	KeyActive      = "active"
	KeyRevoked     = "revoked"
)

var (
	deviceNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`) })
	roleRE       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`) })
	uuidRE       = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	})
	requestIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`) })
)

// DeviceIDPrefix starts every device ID; KeyIDPrefix every key ID. Device
// names may not start with either.
const (
	DeviceIDPrefix = "dev_"
	KeyIDPrefix    = "key_"
)

// ValidDeviceName reports whether s can name a device: letters, digits and
// _ . -, not starting with punctuation, at most 63 bytes, not starting with
// "dev_" or "key_" in any case, and not a hardware UUID in any form
// NormalizeUUID accepts. Commands find a device by ID, UUID or name, so a
// name must not look like the other two. Names end up in file names, so no
// "/".
func ValidDeviceName(s string) bool {
	if !deviceNameRE().MatchString(s) {
		return false
	}
	lower := strings.ToLower(s)
	if strings.HasPrefix(lower, DeviceIDPrefix) || strings.HasPrefix(lower, KeyIDPrefix) {
		return false
	}
	_, err := NormalizeUUID(s)
	return err != nil
}

// ValidRole reports whether s has the shape of a role name. Which roles are
// allowed is the caller's configuration.
func ValidRole(s string) bool { return roleRE().MatchString(s) }

// NormalizeUUID returns a hardware UUID in lowercase 8-4-4-4-12 form; 32 hex
// digits without hyphens and braces are accepted too.
func NormalizeUUID(s string) (string, error) {
	u := strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}"))
	if len(u) == 32 && !strings.Contains(u, "-") {
		u = u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
	}
	if !uuidRE().MatchString(u) {
		return "", fmt.Errorf("%w: device UUID %q (want 8-4-4-4-12 hex digits)", ErrInvalidName, s)
	}
	return u, nil
}

// DeviceInfo describes a device. Keys is filled by Device only.
type DeviceInfo struct {
	Tenant     string      `json:"tenant"`
	ID         string      `json:"device_id"`
	Name       string      `json:"name"`
	UUID       string      `json:"uuid,omitempty"`
	Role       string      `json:"role"`
	ActiveKeys int         `json:"active_keys"`
	CreatedAt  string      `json:"created_at"`
	CreatedBy  string      `json:"created_by"`
	Keys       []DeviceKey `json:"keys,omitempty"`

	ref int64
}

// DeviceKey is one public key of a device.
type DeviceKey struct {
	KeyID       string `json:"key_id"`
	DeviceID    string `json:"device_id"`
	Device      string `json:"device"`
	Fingerprint string `json:"fingerprint"`
	Role        string `json:"role"`
	Status      string `json:"status"`
	Origin      string `json:"origin"`
	CreatedAt   string `json:"created_at"`
	RevokedAt   string `json:"revoked_at,omitempty"`
	SPKI        []byte `json:"-"`
}

// KeyRequest asks for one key: on an existing device (Device set: its ID,
// name or UUID) or on a new one (Name, optional UUID).
type KeyRequest struct {
	Device string
	Name   string
	UUID   string
	Role   string
	SPKI   []byte // DER SubjectPublicKeyInfo, P-256; nil only for CheckDeviceKeys
	Origin string // KeyProvisioned or KeyEnrolled

	// DeviceID (new devices only) and KeyID, when set, are used instead of
	// fresh random IDs: made with NewDeviceID and NewKeyID, they let a
	// caller write files that name them before the transaction.
	DeviceID string
	KeyID    string
}

// KeyResult is what AddDeviceKeys stored for one KeyRequest.
type KeyResult struct {
	DeviceID    string `json:"device_id"`
	Name        string `json:"device"`
	UUID        string `json:"uuid,omitempty"`
	KeyID       string `json:"key_id"`
	Role        string `json:"role"`
	Fingerprint string `json:"fingerprint"`
	PrevRole    string `json:"previous_role,omitempty"` // set when an existing device changed role
	// RevokedKeys are the key IDs a role change revoked: the device's
	// active keys at other roles.
	RevokedKeys []string `json:"revoked_keys,omitempty"`
	NewDevice   bool     `json:"new_device"`
}

var (
	deviceIDRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + DeviceIDPrefix + `[0-9a-f]{16}$`) })
	keyIDRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + KeyIDPrefix + `[0-9a-f]{16}$`) })
)

func randomID(r io.Reader, prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b), nil
}

// NewDeviceID returns a fresh device ID: "dev_" and 16 hex digits from r.
func NewDeviceID(r io.Reader) (string, error) { return randomID(r, DeviceIDPrefix) }

// NewKeyID returns a fresh key ID: "key_" and 16 hex digits from r.
func NewKeyID(r io.Reader) (string, error) { return randomID(r, KeyIDPrefix) }

func deviceInfo(tenant string, d store.Device) *DeviceInfo {
	return &DeviceInfo{Tenant: tenant, ID: d.ID, Name: d.Name, UUID: d.UUID, Role: d.Role, ActiveKeys: d.ActiveKeys,
		CreatedAt: d.CreatedAt, CreatedBy: d.CreatedBy, ref: d.Ref}
}

// findDevice resolves ref within the tenant: a device ID, else a hardware
// UUID (when ref parses as one), else a name. Names never look like IDs or
// UUIDs (ValidDeviceName); the UUID goes before the name so that a device
// named so by an older keysmith cannot shadow another's UUID. With check,
// the device row's MAC must verify and the chain must not record its
// removal (a decision reads it).
func (o *op) findDevice(t store.Tenant, ref string, check bool) (store.Device, error) {
	for _, field := range []string{store.ByDeviceID, store.ByUUID, store.ByName} {
		arg := ref
		if field == store.ByUUID {
			u, err := NormalizeUUID(ref)
			if err != nil {
				continue
			}
			arg = u
		}
		d, err := o.tx.DeviceBy(o.ctx, t.ID, field, arg)
		if err == nil {
			if check {
				if err := o.check(keyring.DeviceRow(d)); err != nil {
					return d, err
				}
				if err := o.checkDeviceNotRemoved(t, d); err != nil {
					return d, err
				}
			}
			return d, nil
		} else if !errors.Is(err, store.ErrNoRow) {
			return d, err
		}
	}
	return store.Device{}, fmt.Errorf("%w: %q in tenant %s", ErrNoDevice, ref, t.Name)
}

// deviceTx runs fn in one write transaction with the tenant and the device
// that ref names (a device ID, name or hardware UUID), its MAC checked.
func (v *Vault) deviceTx(ctx context.Context, tenantName, ref string, fn func(o *op, t store.Tenant, d store.Device) error) error {
	return v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		d, err := o.findDevice(t, ref, true)
		if err != nil {
			return err
		}
		return fn(o, t, d)
	})
}

// CheckDeviceKeys runs every check AddDeviceKeys makes (devices exist,
// names and UUIDs are free) without writing anything, and returns what it
// would store, without key IDs and fingerprints. Callers use it to fail
// before expensive work and to learn an existing device's name.
func (v *Vault) CheckDeviceKeys(ctx context.Context, tenantName string, reqs []KeyRequest) ([]KeyResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []KeyResult
	errCheck := errors.New("check only")
	err := v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		if out, err = o.addDeviceKeys(t, reqs, false); err != nil {
			return err
		}
		return errCheck // roll back
	})
	if errors.Is(err, errCheck) {
		return out, nil
	}
	return nil, err
}

// AddDeviceKeys stores every requested key, creating devices as needed, in
// one transaction: all or none. A key on an existing device at another role
// changes the device's role and revokes its active keys at other roles,
// recorded as a "device-role" audit row.
func (v *Vault) AddDeviceKeys(ctx context.Context, tenantName string, reqs []KeyRequest) ([]KeyResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []KeyResult
	err := v.update(ctx, func(o *op) error {
		t, err := o.lockedTenant(tenantName)
		if err != nil {
			return err
		}
		out, err = o.addDeviceKeys(t, reqs, true)
		return err
	})
	if err != nil {
		action := "device-provision"
		object := fmt.Sprintf("%d devices", len(reqs))
		if len(reqs) > 0 {
			if reqs[0].Origin == KeyEnrolled {
				action = "device-enroll"
			}
			if len(reqs) == 1 {
				object = reqs[0].Name
				if reqs[0].Device != "" {
					object = v.deviceObject(ctx, tenantName, reqs[0].Device)
				}
			}
		}
		v.auditDeviceFailure(ctx, action, tenantName, object, err)
		return nil, err
	}
	return out, nil
}

func (o *op) addDeviceKeys(t store.Tenant, reqs []KeyRequest, save bool) ([]KeyResult, error) {
	ctx, tx := o.ctx, o.tx
	now := o.ts()
	out := make([]KeyResult, 0, len(reqs))
	for _, r := range reqs {
		if !ValidRole(r.Role) {
			return nil, fmt.Errorf("%w: role %q", ErrInvalidName, r.Role)
		}
		if r.Origin != KeyProvisioned && r.Origin != KeyEnrolled {
			return nil, fmt.Errorf("key origin %q is not %s or %s", r.Origin, KeyProvisioned, KeyEnrolled)
		}
		res := KeyResult{Role: r.Role}
		var dev store.Device
		if r.Device != "" {
			d, err := o.findDevice(t, r.Device, true)
			if err != nil {
				return nil, err
			}
			dev = d
			res.DeviceID, res.Name, res.UUID = d.ID, d.Name, d.UUID
			if d.Role != r.Role {
				res.PrevRole = d.Role
				dev.Role = r.Role
				if err := tx.UpdateDevice(ctx, d.Ref, r.Role, o.keys.MAC(keyring.DeviceRow(dev))); err != nil {
					return nil, err
				}
				// A device holds keys at its current role only: the keys of
				// the old role stop proving anything in this transaction.
				if res.RevokedKeys, err = o.revokeKeysNotAtRole(d.Ref, r.Role, now); err != nil {
					return nil, err
				}
			}
		} else {
			if !ValidDeviceName(r.Name) {
				return nil, fmt.Errorf("%w: device %q (letters, digits and _.-, at most 63 bytes, not starting with %s or %s, not a UUID)", ErrInvalidName, r.Name, DeviceIDPrefix, KeyIDPrefix)
			}
			if r.UUID != "" {
				u, err := NormalizeUUID(r.UUID)
				if err != nil {
					return nil, err
				}
				res.UUID = u
			}
			if have, err := tx.DeviceBy(ctx, t.ID, store.ByName, r.Name); err == nil {
				return nil, &DeviceExistsError{Tenant: t.Name, DeviceID: have.ID, Name: have.Name, UUID: have.UUID}
			} else if !errors.Is(err, store.ErrNoRow) {
				return nil, err
			}
			if res.UUID != "" {
				if have, err := tx.DeviceBy(ctx, t.ID, store.ByUUID, res.UUID); err == nil {
					return nil, &DeviceExistsError{Tenant: t.Name, DeviceID: have.ID, Name: have.Name, UUID: have.UUID, ByUUID: true}
				} else if !errors.Is(err, store.ErrNoRow) {
					return nil, err
				}
			}
			id := r.DeviceID
			if id == "" {
				var err error
				if id, err = NewDeviceID(o.v.opts.Rand); err != nil {
					return nil, err
				}
			} else if !deviceIDRE().MatchString(id) {
				return nil, fmt.Errorf("%w: device ID %q", ErrInvalidName, id)
			}
			res.DeviceID, res.Name, res.NewDevice = id, r.Name, true
			dev = store.Device{TenantID: t.ID, ID: id, Name: r.Name, UUID: res.UUID, Role: r.Role, CreatedAt: now, CreatedBy: o.caller.Actor}
			ref, err := tx.InsertDevice(ctx, dev)
			if errors.Is(err, store.ErrConflict) {
				return nil, fmt.Errorf("%w: device ID %s is taken", ErrDeviceExists, id)
			} else if err != nil {
				return nil, err
			}
			dev.Ref = ref
			if err := tx.UpdateDevice(ctx, ref, dev.Role, o.keys.MAC(keyring.DeviceRow(dev))); err != nil {
				return nil, err
			}
		}
		if r.SPKI != nil {
			if err := checkSPKI(r.SPKI); err != nil {
				return nil, err
			}
			res.Fingerprint = devicecred.Fingerprint(r.SPKI)
			if holder, err := tx.DeviceKeyFind(ctx, t.ID, "", res.Fingerprint); err == nil {
				return nil, fmt.Errorf("%w: fingerprint %s is key %s in tenant %s", ErrKeyExists, res.Fingerprint, holder.KeyID, t.Name)
			} else if !errors.Is(err, store.ErrNoRow) {
				return nil, err
			}
			if res.KeyID = r.KeyID; res.KeyID == "" {
				var err error
				if res.KeyID, err = NewKeyID(o.v.opts.Rand); err != nil {
					return nil, err
				}
			} else if !keyIDRE().MatchString(res.KeyID) {
				return nil, fmt.Errorf("%w: key ID %q", ErrInvalidName, res.KeyID)
			}
			k := store.DeviceKey{TenantID: t.ID, DeviceRef: dev.Ref, DeviceID: dev.ID, KeyID: res.KeyID, SPKI: r.SPKI, Fingerprint: res.Fingerprint,
				Role: r.Role, Origin: r.Origin, Status: KeyActive, CreatedAt: now, CreatedBy: o.caller.Actor}
			id, err := tx.InsertDeviceKey(ctx, k)
			if errors.Is(err, store.ErrConflict) {
				return nil, fmt.Errorf("%w: key ID %s or fingerprint %s is taken", ErrKeyExists, res.KeyID, res.Fingerprint)
			} else if err != nil {
				return nil, err
			}
			k.ID = id
			if err := tx.UpdateDeviceKey(ctx, id, k.Status, k.RevokedAt, o.keys.MAC(keyring.DeviceKeyRow(k))); err != nil {
				return nil, err
			}
		} else if save {
			return nil, errors.New("device key request without a public key")
		}
		if save {
			action := "device-provision"
			if r.Origin == KeyEnrolled {
				action = "device-enroll"
			}
			detail := fmt.Sprintf("device %s, key %s, role %s, fingerprint %s", res.DeviceID, res.KeyID, r.Role, res.Fingerprint)
			o.audit(auditRow{Action: action, Tenant: t.Name, Object: res.Name, Success: true, Detail: detail})
			if res.PrevRole != "" {
				revoked := "none"
				if len(res.RevokedKeys) > 0 {
					revoked = strings.Join(res.RevokedKeys, " ")
				}
				o.audit(auditRow{Action: "device-role", Tenant: t.Name, Object: res.Name, Success: true,
					Detail: fmt.Sprintf("device %s, role %s -> %s, revoked keys: %s", res.DeviceID, res.PrevRole, r.Role, revoked)})
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// revokeKeysNotAtRole revokes the device's active keys at any role but
// role and returns their key IDs, oldest first. Revoking never fails on a
// row MAC: it only takes a key out of use, and the revoked row is sealed
// anew.
func (o *op) revokeKeysNotAtRole(deviceRef int64, role, now string) ([]string, error) {
	keys, err := o.tx.DeviceKeys(o.ctx, deviceRef)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		if k.Status != KeyActive || k.Role == role {
			continue
		}
		k.Status, k.RevokedAt = KeyRevoked, now
		if err := o.tx.UpdateDeviceKey(o.ctx, k.ID, k.Status, k.RevokedAt, o.keys.MAC(keyring.DeviceKeyRow(k))); err != nil {
			return nil, err
		}
		ids = append(ids, k.KeyID)
	}
	return ids, nil
}

// checkSPKI accepts only the canonical DER SPKI of a P-256 key.
func checkSPKI(spki []byte) error {
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return fmt.Errorf("%w: %v", devicecred.ErrUnsupportedKey, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: public key is %T, want ECDSA P-256", devicecred.ErrUnsupportedKey, pub)
	}
	canon, err := devicecred.SPKI(ec)
	if err != nil {
		return err
	}
	if !slices.Equal(canon, spki) {
		return fmt.Errorf("%w: public key is not in canonical SPKI form", devicecred.ErrUnsupportedKey)
	}
	return nil
}

// Devices lists the tenant's devices, by name, optionally only those at
// role.
func (v *Vault) Devices(ctx context.Context, tenantName, role string) ([]DeviceInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	out := []DeviceInfo{}
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		ds, err := o.tx.Devices(o.ctx, t.ID, role)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, d := range ds {
			out = append(out, *deviceInfo(t.Name, d))
		}
		return nil
	})
	return out, err
}

// Device returns one device (by ID, name or UUID) with all its keys, oldest
// first.
func (v *Vault) Device(ctx context.Context, tenantName, ref string) (*DeviceInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceInfo
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		d, err := o.findDevice(t, ref, false)
		if err != nil {
			return err
		}
		out = deviceInfo(t.Name, d)
		keys, err := o.tx.DeviceKeys(o.ctx, d.Ref)
		if err != nil {
			return err
		}
		out.Keys = []DeviceKey{}
		for _, k := range keys {
			out.Keys = append(out.Keys, deviceKey(d, k))
		}
		return nil
	})
	return out, err
}

func deviceKey(d store.Device, k store.DeviceKey) DeviceKey {
	return DeviceKey{KeyID: k.KeyID, DeviceID: d.ID, Device: d.Name, Fingerprint: k.Fingerprint, Role: k.Role, Status: k.Status,
		Origin: k.Origin, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, SPKI: k.SPKI}
}

// RevokeDeviceKey revokes a key, found by key ID or fingerprint. Revoking a
// revoked key is not an error; it returns the key as it is.
func (v *Vault) RevokeDeviceKey(ctx context.Context, tenantName, ref string) (*DeviceKey, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceKey
	err := v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		k, err := o.tx.DeviceKeyFind(o.ctx, t.ID, ref, strings.ToLower(ref))
		if errors.Is(err, store.ErrNoRow) {
			return fmt.Errorf("%w: %q in tenant %s (give a key ID or a full fingerprint)", ErrNoDeviceKey, ref, t.Name)
		} else if err != nil {
			return err
		}
		d, err := o.tx.DeviceByRef(o.ctx, k.DeviceRef)
		if err != nil {
			return err
		}
		dk := deviceKey(d, k)
		out = &dk
		if k.Status == KeyRevoked {
			return nil
		}
		k.Status, k.RevokedAt = KeyRevoked, o.ts()
		out.Status, out.RevokedAt = k.Status, k.RevokedAt
		// Not verified first: revoking only takes a key out of use.
		if err := o.tx.UpdateDeviceKey(o.ctx, k.ID, k.Status, k.RevokedAt, o.keys.MAC(keyring.DeviceKeyRow(k))); err != nil {
			return err
		}
		o.audit(auditRow{Action: "device-revoke", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, key %s, fingerprint %s", d.ID, k.KeyID, k.Fingerprint)})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-revoke", tenantName, ref, err)
		return nil, err
	}
	return out, nil
}

// RemoveDevice deletes a device with its keys, challenges and secrets
// (overwritten where the store can). Applied reports keep their request
// IDs.
func (v *Vault) RemoveDevice(ctx context.Context, tenantName, ref string) (*DeviceInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceInfo
	err := v.update(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		// Removing needs no MAC: like a revocation it only takes away.
		d, err := o.findDevice(t, ref, false)
		if err != nil {
			return err
		}
		keys, secrets, err := o.tx.DeviceRowCounts(o.ctx, d.Ref)
		if err != nil {
			return err
		}
		if err := o.tx.DeleteDevice(o.ctx, d.Ref); err != nil {
			return err
		}
		out = deviceInfo(t.Name, d)
		o.audit(auditRow{Action: "device-rm", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, %d keys, %d secret versions", d.ID, keys, secrets)})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-rm", tenantName, v.deviceObject(ctx, tenantName, ref), err)
		return nil, err
	}
	v.checkpoint(ctx)
	return out, nil
}

// Challenge is an issued challenge.
type Challenge struct {
	DeviceID  string `json:"device_id"`
	Device    string `json:"device"`
	Nonce     []byte `json:"-"`
	ExpiresAt string `json:"expires_at"`
}

// IssueChallenge stores a fresh 32-byte nonce for the device, valid for
// ttl.
func (v *Vault) IssueChallenge(ctx context.Context, tenantName, ref string, ttl time.Duration) (*Challenge, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errors.New("challenge lifetime must be positive")
	}
	var out *Challenge
	err := v.deviceTx(ctx, tenantName, ref, func(o *op, t store.Tenant, d store.Device) error {
		nonce := make([]byte, challengeRandomSize, devicecred.ChallengeSize)
		if _, err := io.ReadFull(v.opts.Rand, nonce); err != nil {
			return err
		}
		now := v.opts.Now()
		created, expires := formatTime(now), formatTime(now.Add(ttl))
		nonce = append(nonce, o.challengeTag(t.ID, d.ID, nonce, created, expires)...) // challengestate.go
		c := &Challenge{DeviceID: d.ID, Device: d.Name, Nonce: nonce, ExpiresAt: expires}
		if err := o.tx.InsertChallenge(o.ctx, store.Challenge{Nonce: nonce, TenantID: t.ID, DeviceRef: d.Ref, CreatedAt: created, ExpiresAt: expires}); err != nil {
			return err
		}
		out = c
		o.audit(auditRow{Action: "device-challenge", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, expires %s", d.ID, c.ExpiresAt)})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-challenge", tenantName, v.deviceObject(ctx, tenantName, ref), err)
		return nil, err
	}
	return out, nil
}

// VerifyChallenge checks sig over the challenge message of nonce and the
// device's ID against the device's active keys at its current role. It
// succeeds once per nonce: the nonce is consumed in the same transaction.
// It fails with ErrNoChallenge, ErrChallengeExpired, ErrChallengeReplayed,
// ErrKeyRevoked (the signature is by a revoked key of the device, or by a
// key the audit chain records as revoked), ErrKeyOtherRole (by an active
// key at another role) or devicecred.ErrBadSignature.
func (v *Vault) VerifyChallenge(ctx context.Context, tenantName, ref string, nonce, sig []byte) (*DeviceKey, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceKey
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
		// Every key of the device must authenticate before any decides.
		for _, k := range keys {
			if err := o.check(keyring.DeviceKeyRow(k)); err != nil {
				return err
			}
		}
		var revoked, otherRole *DeviceKey
		var found store.DeviceKey
		for _, k := range keys {
			pub, err := x509.ParsePKIXPublicKey(k.SPKI)
			if err != nil {
				return fmt.Errorf("%w: stored key %s does not parse", ErrTampered, k.KeyID)
			}
			ec, ok := pub.(*ecdsa.PublicKey)
			if !ok || devicecred.VerifyChallenge(ec, d.ID, nonce, sig) != nil {
				continue
			}
			dk := deviceKey(d, k)
			switch {
			case k.Status != KeyActive:
				revoked = &dk
			case k.Role != d.Role:
				otherRole = &dk
			default:
				out, found = &dk, k
			}
			if out != nil {
				break
			}
		}
		if out == nil {
			if revoked != nil {
				return fmt.Errorf("%w: the signature is by key %s of device %s, revoked at %s", ErrKeyRevoked, revoked.KeyID, d.Name, revoked.RevokedAt)
			}
			if otherRole != nil {
				return fmt.Errorf("%w: the signature is by key %s of device %s at role %s; the device is at role %s", ErrKeyOtherRole, otherRole.KeyID, d.Name, otherRole.Role, d.Role)
			}
			return fmt.Errorf("%w: no active key of device %s (%s) made it", devicecred.ErrBadSignature, d.Name, d.ID)
		}
		if err := o.checkKeyNotRevoked(t, d, found); err != nil {
			out = nil
			return err
		}
		ok, err := o.tx.ConsumeChallenge(o.ctx, nonce, now, out.KeyID)
		if err != nil {
			return err
		} else if !ok {
			return ErrChallengeReplayed
		}
		o.audit(auditRow{Action: "device-verify", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, key %s, fingerprint %s, challenge %s", d.ID, out.KeyID, out.Fingerprint, challengeID(nonce))})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-verify", tenantName, v.deviceObject(ctx, tenantName, ref), err)
		return nil, err
	}
	return out, nil
}

// DeviceSecretInfo is one version of a device secret without its value.
type DeviceSecretInfo struct {
	Tenant    string `json:"tenant"`
	DeviceID  string `json:"device_id"`
	Device    string `json:"device"`
	Name      string `json:"name"`
	Version   int    `json:"version"`
	Source    string `json:"source,omitempty"` // "generated:amt", "report:<request_id>", ...
	CreatedAt string `json:"updated_at"`
	CreatedBy string `json:"updated_by"`
}

// DeviceSecret is a device secret with its value.
type DeviceSecret struct {
	DeviceSecretInfo
	Value []byte `json:"-"`
}

// DeviceSecretItem is a device secret to store.
type DeviceSecretItem struct {
	Name   string
	Value  []byte
	Source string
}

func (o *op) putDeviceSecrets(t store.Tenant, d store.Device, items []DeviceSecretItem, why string) ([]int, error) {
	if err := o.tx.LockTenant(o.ctx, t.ID); err != nil {
		return nil, err
	}
	t, err := o.tx.TenantByID(o.ctx, t.ID)
	if err != nil {
		return nil, err
	}
	dek, err := o.sealingDEK(t) // dekstate.go
	if err != nil {
		return nil, err
	}
	now := o.ts()
	vers := make([]int, len(items))
	for i, it := range items {
		if err := checkName(it.Name); err != nil {
			return nil, err
		}
		if err := devicecred.CheckDeviceSecret(it.Name, it.Value); err != nil {
			return nil, err
		}
		cur, err := o.tx.MaxDeviceSecretVersion(o.ctx, d.Ref, it.Name)
		if err != nil {
			return nil, err
		}
		ver := cur + 1
		sealed, err := keyring.SealDeviceSecret(dek, t.ID, d.ID, d.UUID, it.Name, ver, t.DEKVersion, it.Value)
		if err != nil {
			return nil, err
		}
		if err := o.tx.InsertDeviceSecret(o.ctx, store.DeviceSecret{TenantID: t.ID, DeviceRef: d.Ref, Name: it.Name, Version: ver, DEKVersion: t.DEKVersion,
			Sealed: sealed, Source: it.Source, CreatedAt: now, CreatedBy: o.caller.Actor}); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("device %s, secret %s version %d", d.ID, it.Name, ver)
		if why != "" {
			detail += ", " + why
		}
		o.audit(auditRow{Action: "device-secret-set", Tenant: t.Name, Object: d.Name, Success: true, Detail: detail})
		vers[i] = ver
	}
	return vers, nil
}

// SetDeviceSecret stores value as a new version of the device's secret
// name and returns the version.
func (v *Vault) SetDeviceSecret(ctx context.Context, tenantName, ref, name string, value []byte, source string) (int, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	var ver int
	err := v.deviceTx(ctx, tenantName, ref, func(o *op, t store.Tenant, d store.Device) error {
		vers, err := o.putDeviceSecrets(t, d, []DeviceSecretItem{{Name: name, Value: value, Source: source}}, source)
		if err != nil {
			return err
		}
		ver = vers[0]
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-secret-set", tenantName, v.deviceObject(ctx, tenantName, ref), err)
		return 0, err
	}
	return ver, nil
}

// GetDeviceSecret returns the latest version of the device's secret name.
// The read is audited. A latest version older than what the audit chain
// recorded fails closed (ErrTampered).
func (v *Vault) GetDeviceSecret(ctx context.Context, tenantName, ref, name string) (*DeviceSecret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceSecret
	err := v.deviceTx(ctx, tenantName, ref, func(o *op, t store.Tenant, d store.Device) error {
		out = nil
		s, err := o.tx.DeviceSecret(o.ctx, d.Ref, name)
		if errors.Is(err, store.ErrNoRow) {
			s = store.DeviceSecret{}
		} else if err != nil {
			return err
		}
		if err := o.checkLatestDeviceSecret(t, d, name, s.Version); err != nil {
			return err
		}
		if s.Version == 0 {
			return fmt.Errorf("%w: %q of device %s in tenant %s", ErrNotFound, name, d.Name, t.Name)
		}
		dek, err := o.dek(t.ID, s.DEKVersion)
		if err != nil {
			return err
		}
		pt, err := keyring.OpenDeviceSecret(dek, t.ID, d.ID, d.UUID, s.Name, s.Version, s.DEKVersion, s.Sealed, d.Name)
		if err != nil {
			return err
		}
		out = &DeviceSecret{DeviceSecretInfo: deviceSecretInfo(t.Name, d, s), Value: pt}
		o.audit(auditRow{Action: "device-secret-get", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, secret %s version %d", d.ID, s.Name, s.Version)})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-secret-get", tenantName, v.deviceObject(ctx, tenantName, ref), err)
		return nil, err
	}
	return out, nil
}

func deviceSecretInfo(tenant string, d store.Device, s store.DeviceSecret) DeviceSecretInfo {
	return DeviceSecretInfo{Tenant: tenant, DeviceID: d.ID, Device: d.Name, Name: s.Name, Version: s.Version, Source: s.Source,
		CreatedAt: s.CreatedAt, CreatedBy: s.CreatedBy}
}

// DeviceSecrets lists the latest version of each of the device's secrets,
// by name. It reads no values.
func (v *Vault) DeviceSecrets(ctx context.Context, tenantName, ref string) ([]DeviceSecretInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	out := []DeviceSecretInfo{}
	err := v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		d, err := o.findDevice(t, ref, false)
		if err != nil {
			return err
		}
		ss, err := o.tx.LatestDeviceSecrets(o.ctx, d.Ref)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, s := range ss {
			out = append(out, deviceSecretInfo(t.Name, d, s))
		}
		return nil
	})
	return out, err
}

// resealDeviceSecrets re-seals every device secret of the tenant under the
// new DEK, within RotateDEK's transaction.
func (o *op) resealDeviceSecrets(t store.Tenant, newVer int, newDEK *seal.AEAD) (int, error) {
	rows, err := o.tx.DeviceSecretsOf(o.ctx, t.ID)
	if err != nil {
		return 0, err
	}
	devs := map[int64]store.Device{}
	for _, r := range rows {
		d, ok := devs[r.DeviceRef]
		if !ok {
			if d, err = o.tx.DeviceByRef(o.ctx, r.DeviceRef); err != nil {
				return 0, err
			}
			devs[r.DeviceRef] = d
		}
		old, err := o.dek(t.ID, r.DEKVersion)
		if err != nil {
			return 0, err
		}
		pt, err := keyring.OpenDeviceSecret(old, t.ID, d.ID, d.UUID, r.Name, r.Version, r.DEKVersion, r.Sealed, d.Name)
		if err != nil {
			return 0, err
		}
		sealed, err := keyring.SealDeviceSecret(newDEK, t.ID, d.ID, d.UUID, r.Name, r.Version, newVer, pt)
		clear(pt)
		if err != nil {
			return 0, err
		}
		if err := o.tx.UpdateDeviceSecretSeal(o.ctx, r.ID, newVer, sealed); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// ReportFormat is the optional "format" field of a provisioning report.
const ReportFormat = "keysmith-device-report/v1"

// Report is a provisioning report (docs/device.md, "Provisioning report").
type Report struct {
	Format     string         `json:"format,omitempty"`
	RequestID  string         `json:"request_id"`
	DeviceUUID string         `json:"device_uuid"`
	Secrets    []ReportSecret `json:"secrets"`
}

// ReportSecret is one secret of a report.
type ReportSecret struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// MaxReportSize bounds a report file.
const MaxReportSize = 1 << 20

// ParseReport reads and validates a report: known fields only, spelled
// exactly, no key twice in an object (ignoring case, as the decoder does), a valid
// request_id and UUID, at least one secret, valid and distinct names,
// non-empty values.
func ParseReport(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReportSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxReportSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidReport, MaxReportSize)
	}
	// encoding/json keeps the last of two equal keys and matches keys to
	// fields ignoring case: {"secrets": [...], "Secrets": [...]} would drop
	// the first list without a word.
	if err := strictjson.CheckKeys(data, true); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReport, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rep Report
	if err := dec.Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReport, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrInvalidReport)
	}
	// ... and takes "Secrets" or "Request_ID" for the documented fields.
	if err := strictjson.CheckFieldCase(data, &rep); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReport, err)
	}
	if rep.Format != "" && rep.Format != ReportFormat {
		return nil, fmt.Errorf("%w: format %q, this keysmith reads %q", ErrInvalidReport, rep.Format, ReportFormat)
	}
	if !requestIDRE().MatchString(rep.RequestID) {
		return nil, fmt.Errorf("%w: request_id %q (want 1 to 128 of A-Z a-z 0-9 _ . : -)", ErrInvalidReport, rep.RequestID)
	}
	if rep.DeviceUUID == "" {
		return nil, fmt.Errorf("%w: device_uuid is missing", ErrInvalidReport)
	}
	if rep.DeviceUUID, err = NormalizeUUID(rep.DeviceUUID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReport, err)
	}
	if len(rep.Secrets) == 0 {
		return nil, fmt.Errorf("%w: no secrets", ErrInvalidReport)
	}
	seen := map[string]bool{}
	for _, s := range rep.Secrets {
		if !ValidName(s.Name) {
			return nil, fmt.Errorf("%w: secret name %q (letters, digits and _.:/@+-, at most 255 bytes)", ErrInvalidReport, s.Name)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: secret %s appears twice", ErrInvalidReport, s.Name)
		}
		seen[s.Name] = true
		if s.Value == "" {
			return nil, fmt.Errorf("%w: secret %s has an empty value", ErrInvalidReport, s.Name)
		}
		if err := devicecred.CheckDeviceSecret(s.Name, []byte(s.Value)); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidReport, err)
		}
	}
	return &rep, nil
}

func reportSecrets(rep *Report) []keyring.ReportSecret {
	out := make([]keyring.ReportSecret, len(rep.Secrets))
	for i, s := range rep.Secrets {
		out[i] = keyring.ReportSecret{Name: s.Name, Value: s.Value}
	}
	return out
}

// ReportResult is the outcome of ApplyReport.
type ReportResult struct {
	RequestID      string   `json:"request_id"`
	DeviceID       string   `json:"device_id"`
	Device         string   `json:"device"`
	DeviceUUID     string   `json:"device_uuid"`
	Secrets        []string `json:"secrets"`
	AlreadyApplied bool     `json:"already_applied"`
	AppliedAt      string   `json:"applied_at"`
}

// ApplyReport stores the report's secrets on the device whose UUID it
// names (the device row's MAC must verify: the UUID binding decides), as
// new versions, and records the request ID, in one transaction. The same
// report again changes nothing and returns AlreadyApplied; another report
// with an applied request ID fails with ErrReportConflict.
func (v *Vault) ApplyReport(ctx context.Context, tenantName string, rep *Report) (*ReportResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *ReportResult
	err := v.update(ctx, func(o *op) error {
		out = nil
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		digest := o.keys.ReportDigest(t.ID, rep.RequestID, rep.DeviceUUID, reportSecrets(rep))
		res := &ReportResult{RequestID: rep.RequestID, DeviceUUID: rep.DeviceUUID}
		for _, s := range rep.Secrets {
			res.Secrets = append(res.Secrets, s.Name)
		}
		stored, err := o.tx.Report(o.ctx, t.ID, rep.RequestID)
		switch {
		case err == nil && hmac.Equal(stored.Digest, digest):
			res.AlreadyApplied, res.AppliedAt = true, stored.AppliedAt
			if d, err := o.findDevice(t, rep.DeviceUUID, false); err == nil {
				res.DeviceID, res.Device = d.ID, d.Name
			}
			out = res
			o.audit(auditRow{Action: "device-report", Tenant: t.Name, Object: res.Device, Success: true,
				Detail: fmt.Sprintf("request %s already applied at %s, nothing changed", rep.RequestID, res.AppliedAt)})
			return nil
		case err == nil:
			return fmt.Errorf("%w: request_id %q was applied at %s", ErrReportConflict, rep.RequestID, stored.AppliedAt)
		case !errors.Is(err, store.ErrNoRow):
			return err
		}
		d, err := o.tx.DeviceBy(o.ctx, t.ID, store.ByUUID, rep.DeviceUUID)
		if errors.Is(err, store.ErrNoRow) {
			return fmt.Errorf("%w: no device with UUID %s in tenant %s", ErrNoDevice, rep.DeviceUUID, t.Name)
		} else if err != nil {
			return err
		}
		if err := o.check(keyring.DeviceRow(d)); err != nil {
			return err
		}
		if err := o.checkDeviceNotRemoved(t, d); err != nil {
			return err
		}
		if err := o.checkReportNotApplied(t, d, rep.RequestID); err != nil {
			return err
		}
		res.DeviceID, res.Device, res.AppliedAt = d.ID, d.Name, o.ts()
		items := make([]DeviceSecretItem, len(rep.Secrets))
		for i, s := range rep.Secrets {
			items[i] = DeviceSecretItem{Name: s.Name, Value: []byte(s.Value), Source: "report:" + rep.RequestID}
		}
		if _, err := o.putDeviceSecrets(t, d, items, "report "+rep.RequestID); err != nil {
			return err
		}
		if err := o.tx.InsertReport(o.ctx, store.Report{TenantID: t.ID, RequestID: rep.RequestID, DeviceRef: d.Ref, DeviceUUID: rep.DeviceUUID,
			Digest: digest, Secrets: len(items), AppliedAt: res.AppliedAt, AppliedBy: o.caller.Actor}); err != nil {
			return err
		}
		out = res
		o.audit(auditRow{Action: "device-report", Tenant: t.Name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, request %s, %d secrets", d.ID, rep.RequestID, len(items))})
		return nil
	})
	if err != nil {
		v.auditDeviceFailure(ctx, "device-report", tenantName, rep.RequestID, err)
		return nil, err
	}
	return out, nil
}

// deviceObject names, for the audit row of a failed operation, the device
// ref (an ID, name or UUID as the user typed it) resolves to: its name, so
// that every row about a device names it alike. A ref that resolves to no
// device is returned as given.
func (v *Vault) deviceObject(ctx context.Context, tenantName, ref string) string {
	name := ref
	_ = v.view(ctx, func(o *op) error {
		t, err := o.tenant(tenantName)
		if err != nil {
			return err
		}
		d, err := o.findDevice(t, ref, false)
		if err == nil {
			name = d.Name
		}
		return err
	})
	return name
}

// auditDeviceFailure records a failed device operation with the reason a
// script or an auditor cares about. Best effort, like auditFailure.
func (v *Vault) auditDeviceFailure(ctx context.Context, action, tenantName, object string, cause error) {
	reasons := []struct {
		err    error
		detail string
	}{
		{ErrChallengeReplayed, "replayed challenge"},
		{ErrChallengeExpired, "expired challenge"},
		{ErrNoChallenge, "unknown challenge"},
		{ErrKeyOtherRole, "key at another role"},
		{ErrKeyRevoked, "revoked key"},
		{devicecred.ErrBadSignature, "bad signature"},
		{ErrNoDevice, "no such device"},
		{ErrNoDeviceKey, "no such key"},
		{ErrDeviceExists, "device exists"},
		{ErrKeyExists, "key exists"},
		{ErrReportConflict, "request_id already applied with another report"},
	}
	for _, r := range reasons {
		if errors.Is(cause, r.err) {
			if !v.Unlocked() {
				return
			}
			v.auditEvent(ctx, auditRow{Action: action, Tenant: tenantName, Object: object, Success: false, Detail: r.detail})
			return
		}
	}
	v.auditFailure(ctx, action, tenantName, object, cause)
}
