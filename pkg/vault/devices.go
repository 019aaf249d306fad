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
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
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
)

// deviceActions are the audit actions of the device records (docs/device.md).
var deviceActions = []string{
	"device-provision", "device-enroll", "device-role", "device-revoke", "device-rm",
	"device-challenge", "device-verify", "device-secret-set", "device-secret-get", "device-report",
}

// Domain labels of device data; docs/device.md, "What the vault stores".
const (
	labelDeviceSecret = "keysmith/v1/vault/device-secret"
	labelReport       = "keysmith/v1/vault/device-report"
)

// Device sentinel errors, tested with errors.Is.
var (
	ErrNoDevice          = errors.New("device not found")
	ErrNoDeviceKey       = errors.New("device key not found")
	ErrDeviceExists      = errors.New("device already exists")
	ErrKeyExists         = errors.New("device key already stored")
	ErrKeyRevoked        = errors.New("device key is revoked")
	ErrNoChallenge       = errors.New("challenge was not issued for this device")
	ErrChallengeExpired  = errors.New("challenge has expired")
	ErrChallengeReplayed = errors.New("challenge was already used")
	ErrReportConflict    = errors.New("request_id was already applied with a different report")
	ErrInvalidReport     = errors.New("invalid provisioning report")
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

const deviceCols = "d.id, d.device_id, d.name, coalesce(d.device_uuid, ''), d.role, d.created_at, d.created_by, " +
	"(SELECT count(*) FROM device_keys k WHERE k.device_ref = d.id AND k.status = 'active')"

func scanDevice(sc interface{ Scan(...any) error }, tenant string) (*DeviceInfo, error) {
	d := &DeviceInfo{Tenant: tenant}
	err := sc.Scan(&d.ref, &d.ID, &d.Name, &d.UUID, &d.Role, &d.CreatedAt, &d.CreatedBy, &d.ActiveKeys)
	return d, err
}

// deviceTx runs fn in one write transaction with the tenant and the device
// that ref names (a device ID, name or hardware UUID).
func (v *Vault) deviceTx(tenantName, ref string, fn func(tx *sql.Tx, t *tenant, d *DeviceInfo) error) error {
	return v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		d, err := v.findDevice(tx, t, ref)
		if err != nil {
			return err
		}
		return fn(tx, t, d)
	})
}

// findDevice resolves ref within the tenant: a device ID, else a hardware
// UUID (when ref parses as one), else a name. Names never look like IDs or
// UUIDs (ValidDeviceName); the UUID goes before the name so that a device
// named so by an older keysmith cannot shadow another's UUID.
func (v *Vault) findDevice(q querier, t *tenant, ref string) (*DeviceInfo, error) {
	for _, col := range []string{"device_id", "device_uuid", "name"} {
		arg := ref
		if col == "device_uuid" {
			u, err := NormalizeUUID(ref)
			if err != nil {
				continue
			}
			arg = u
		}
		d, err := scanDevice(q.QueryRow("SELECT "+deviceCols+" FROM devices d WHERE d.tenant_id = ? AND d."+col+" = ?", t.id, arg), t.name)
		if err == nil {
			return d, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: %q in tenant %s", ErrNoDevice, ref, t.name)
}

// CheckDeviceKeys runs every check AddDeviceKeys makes (devices exist,
// names and UUIDs are free) without writing anything, and returns what it
// would store, without key IDs and fingerprints. Callers use it to fail
// before expensive work and to learn an existing device's name.
func (v *Vault) CheckDeviceKeys(tenantName string, reqs []KeyRequest) ([]KeyResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []KeyResult
	errCheck := errors.New("check only")
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		if out, err = v.addDeviceKeys(tx, t, reqs, false); err != nil {
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
func (v *Vault) AddDeviceKeys(tenantName string, reqs []KeyRequest) ([]KeyResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out []KeyResult
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		out, err = v.addDeviceKeys(tx, t, reqs, true)
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
					object = v.deviceObject(tenantName, reqs[0].Device)
				}
			}
		}
		v.auditDeviceFailure(action, tenantName, object, err)
		return nil, err
	}
	return out, nil
}

func (v *Vault) addDeviceKeys(tx *sql.Tx, t *tenant, reqs []KeyRequest, store bool) ([]KeyResult, error) {
	a := v.auditor(tx)
	defer a.close()
	now := v.timestamp()
	out := make([]KeyResult, 0, len(reqs))
	for _, r := range reqs {
		if !ValidRole(r.Role) {
			return nil, fmt.Errorf("%w: role %q", ErrInvalidName, r.Role)
		}
		if r.Origin != KeyProvisioned && r.Origin != KeyEnrolled {
			return nil, fmt.Errorf("key origin %q is not %s or %s", r.Origin, KeyProvisioned, KeyEnrolled)
		}
		res := KeyResult{Role: r.Role}
		var ref int64
		if r.Device != "" {
			d, err := v.findDevice(tx, t, r.Device)
			if err != nil {
				return nil, err
			}
			ref, res.DeviceID, res.Name, res.UUID = d.ref, d.ID, d.Name, d.UUID
			if d.Role != r.Role {
				res.PrevRole = d.Role
				if _, err := tx.Exec("UPDATE devices SET role = ? WHERE id = ?", r.Role, ref); err != nil {
					return nil, err
				}
				// A device holds keys at its current role only: the keys of
				// the old role stop proving anything in this transaction.
				if res.RevokedKeys, err = v.revokeKeysNotAtRole(tx, ref, r.Role, now); err != nil {
					return nil, err
				}
			}
		} else {
			if !ValidDeviceName(r.Name) {
				return nil, fmt.Errorf("%w: device %q (letters, digits and _.-, at most 63 bytes, not starting with %s or %s, not a UUID)", ErrInvalidName, r.Name, DeviceIDPrefix, KeyIDPrefix)
			}
			var uuid any
			if r.UUID != "" {
				u, err := NormalizeUUID(r.UUID)
				if err != nil {
					return nil, err
				}
				uuid, res.UUID = u, u
			}
			var have DeviceExistsError
			err := tx.QueryRow("SELECT device_id, name, coalesce(device_uuid, '') FROM devices WHERE tenant_id = ? AND (name = ? OR device_uuid = ?) ORDER BY name = ? DESC LIMIT 1",
				t.id, r.Name, uuid, r.Name).Scan(&have.DeviceID, &have.Name, &have.UUID)
			if err == nil {
				have.Tenant, have.ByUUID = t.name, have.Name != r.Name
				return nil, &have
			} else if !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			id := r.DeviceID
			if id == "" {
				var err error
				if id, err = NewDeviceID(v.opts.Rand); err != nil {
					return nil, err
				}
			} else if !deviceIDRE().MatchString(id) {
				return nil, fmt.Errorf("%w: device ID %q", ErrInvalidName, id)
			}
			res.DeviceID, res.Name, res.NewDevice = id, r.Name, true
			x, err := tx.Exec("INSERT INTO devices (tenant_id, device_id, name, device_uuid, role, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
				t.id, id, r.Name, uuid, r.Role, now, v.opts.Actor)
			if err != nil {
				return nil, err
			}
			if ref, err = x.LastInsertId(); err != nil {
				return nil, err
			}
		}
		if r.SPKI != nil {
			if err := checkSPKI(r.SPKI); err != nil {
				return nil, err
			}
			res.Fingerprint = devicecred.Fingerprint(r.SPKI)
			var holder string
			err := tx.QueryRow("SELECT k.key_id FROM device_keys k WHERE k.tenant_id = ? AND k.fingerprint = ?", t.id, res.Fingerprint).Scan(&holder)
			if err == nil {
				return nil, fmt.Errorf("%w: fingerprint %s is key %s in tenant %s", ErrKeyExists, res.Fingerprint, holder, t.name)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			if res.KeyID = r.KeyID; res.KeyID == "" {
				if res.KeyID, err = NewKeyID(v.opts.Rand); err != nil {
					return nil, err
				}
			} else if !keyIDRE().MatchString(res.KeyID) {
				return nil, fmt.Errorf("%w: key ID %q", ErrInvalidName, res.KeyID)
			}
			x, err := tx.Exec(`INSERT INTO device_keys (tenant_id, device_ref, key_id, spki, fingerprint, role, origin, status, created_at, created_by)
				VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)`, t.id, ref, res.KeyID, r.SPKI, res.Fingerprint, r.Role, r.Origin, now, v.opts.Actor)
			if err != nil {
				return nil, err
			}
			keyRow, err := x.LastInsertId()
			if err != nil {
				return nil, err
			}
			if err := v.sealRow(tx, macDeviceKeys, keyRow); err != nil {
				return nil, err
			}
		} else if store {
			return nil, errors.New("device key request without a public key")
		}
		if store {
			action := "device-provision"
			if r.Origin == KeyEnrolled {
				action = "device-enroll"
			}
			detail := fmt.Sprintf("device %s, key %s, role %s, fingerprint %s", res.DeviceID, res.KeyID, r.Role, res.Fingerprint)
			if err := a.append(auditRow{Action: action, Tenant: t.name, Object: res.Name, Success: true, Detail: detail}); err != nil {
				return nil, err
			}
			if res.PrevRole != "" {
				revoked := "none"
				if len(res.RevokedKeys) > 0 {
					revoked = strings.Join(res.RevokedKeys, " ")
				}
				if err := a.append(auditRow{Action: "device-role", Tenant: t.name, Object: res.Name, Success: true,
					Detail: fmt.Sprintf("device %s, role %s -> %s, revoked keys: %s", res.DeviceID, res.PrevRole, r.Role, revoked)}); err != nil {
					return nil, err
				}
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
func (v *Vault) revokeKeysNotAtRole(tx *sql.Tx, deviceRef int64, role, now string) ([]string, error) {
	rows, err := tx.Query("SELECT key_id FROM device_keys WHERE device_ref = ? AND status = 'active' AND role <> ? ORDER BY id", deviceRef, role)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if _, err := tx.Exec("UPDATE device_keys SET status = 'revoked', revoked_at = ? WHERE device_ref = ? AND status = 'active' AND role <> ?", now, deviceRef, role); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, err := v.sealRows(tx, macDeviceKeys, "device_keys.key_id = ?", id); err != nil {
			return nil, err
		}
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
func (v *Vault) Devices(tenantName, role string) ([]DeviceInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, err
	}
	q := "SELECT " + deviceCols + " FROM devices d WHERE d.tenant_id = ?"
	args := []any{t.id}
	if role != "" {
		q += " AND d.role = ?"
		args = append(args, role)
	}
	rows, err := v.db.Query(q+" ORDER BY d.name", args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []DeviceInfo{}
	for rows.Next() {
		d, err := scanDevice(rows, t.name)
		if err != nil {
			return nil, dbErr(err)
		}
		out = append(out, *d)
	}
	return out, dbErr(rows.Err())
}

// Device returns one device (by ID, name or UUID) with all its keys, oldest
// first.
func (v *Vault) Device(tenantName, ref string) (*DeviceInfo, error) {
	_, d, err := v.deviceRead(tenantName, ref)
	if err != nil {
		return nil, err
	}
	d.Keys, err = v.deviceKeys(v.db, d, "")
	return d, err
}

func (v *Vault) deviceKeys(q querier, d *DeviceInfo, status string) ([]DeviceKey, error) {
	query := `SELECT key_id, fingerprint, role, status, origin, created_at, coalesce(revoked_at, ''), spki FROM device_keys WHERE device_ref = ?`
	args := []any{d.ref}
	if status != "" {
		query += " AND status = ?"
		args = append(args, status)
	}
	rows, err := q.Query(query+" ORDER BY id", args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []DeviceKey{}
	for rows.Next() {
		k := DeviceKey{DeviceID: d.ID, Device: d.Name}
		if err := rows.Scan(&k.KeyID, &k.Fingerprint, &k.Role, &k.Status, &k.Origin, &k.CreatedAt, &k.RevokedAt, &k.SPKI); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, k)
	}
	return out, dbErr(rows.Err())
}

// RevokeDeviceKey revokes a key, found by key ID or fingerprint. Revoking a
// revoked key is not an error; it returns the key as it is.
func (v *Vault) RevokeDeviceKey(tenantName, ref string) (*DeviceKey, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceKey
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		k := &DeviceKey{}
		var keyRow int64
		err = tx.QueryRow(`SELECT k.id, k.key_id, k.fingerprint, k.role, k.status, k.origin, k.created_at, coalesce(k.revoked_at, ''), d.device_id, d.name
			FROM device_keys k JOIN devices d ON d.id = k.device_ref WHERE k.tenant_id = ? AND (k.key_id = ? OR k.fingerprint = ?)`, t.id, ref, strings.ToLower(ref)).
			Scan(&keyRow, &k.KeyID, &k.Fingerprint, &k.Role, &k.Status, &k.Origin, &k.CreatedAt, &k.RevokedAt, &k.DeviceID, &k.Device)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q in tenant %s (give a key ID or a full fingerprint)", ErrNoDeviceKey, ref, t.name)
		} else if err != nil {
			return err
		}
		out = k
		if k.Status == KeyRevoked {
			return nil
		}
		k.Status, k.RevokedAt = KeyRevoked, v.timestamp()
		if _, err := tx.Exec("UPDATE device_keys SET status = 'revoked', revoked_at = ? WHERE id = ?", k.RevokedAt, keyRow); err != nil {
			return err
		}
		// Not verified first: revoking only takes a key out of use.
		if err := v.sealRow(tx, macDeviceKeys, keyRow); err != nil {
			return err
		}
		return v.appendAudit(tx, auditRow{Action: "device-revoke", Tenant: t.name, Object: k.Device, Success: true,
			Detail: fmt.Sprintf("device %s, key %s, fingerprint %s", k.DeviceID, k.KeyID, k.Fingerprint)})
	})
	if err != nil {
		v.auditDeviceFailure("device-revoke", tenantName, ref, err)
		return nil, err
	}
	return out, nil
}

// RemoveDevice deletes a device with its keys, challenges and secrets
// (zeroed on disk: secure_delete). Applied reports keep their request IDs.
func (v *Vault) RemoveDevice(tenantName, ref string) (*DeviceInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceInfo
	err := v.deviceTx(tenantName, ref, func(tx *sql.Tx, t *tenant, d *DeviceInfo) error {
		var keys, secrets int
		if err := tx.QueryRow("SELECT (SELECT count(*) FROM device_keys WHERE device_ref = ?), (SELECT count(*) FROM device_secrets WHERE device_ref = ?)", d.ref, d.ref).Scan(&keys, &secrets); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM devices WHERE id = ?", d.ref); err != nil {
			return err
		}
		out = d
		return v.appendAudit(tx, auditRow{Action: "device-rm", Tenant: t.name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, %d keys, %d secret versions", d.ID, keys, secrets)})
	})
	if err != nil {
		v.auditDeviceFailure("device-rm", tenantName, v.deviceObject(tenantName, ref), err)
		return nil, err
	}
	v.checkpoint()
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
func (v *Vault) IssueChallenge(tenantName, ref string, ttl time.Duration) (*Challenge, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, errors.New("challenge lifetime must be positive")
	}
	var out *Challenge
	err := v.deviceTx(tenantName, ref, func(tx *sql.Tx, t *tenant, d *DeviceInfo) error {
		nonce := make([]byte, devicecred.ChallengeSize)
		if _, err := io.ReadFull(v.opts.Rand, nonce); err != nil {
			return err
		}
		now := v.opts.Now()
		c := &Challenge{DeviceID: d.ID, Device: d.Name, Nonce: nonce, ExpiresAt: formatTime(now.Add(ttl))}
		if _, err := tx.Exec("INSERT INTO device_challenges (nonce, tenant_id, device_ref, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
			nonce, t.id, d.ref, formatTime(now), c.ExpiresAt); err != nil {
			return err
		}
		out = c
		return v.appendAudit(tx, auditRow{Action: "device-challenge", Tenant: t.name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, expires %s", d.ID, c.ExpiresAt)})
	})
	if err != nil {
		v.auditDeviceFailure("device-challenge", tenantName, v.deviceObject(tenantName, ref), err)
		return nil, err
	}
	return out, nil
}

// VerifyChallenge checks sig over the challenge message of nonce and the
// device's ID against the device's active keys at its current role. It
// succeeds once per nonce: the nonce is consumed in the same transaction.
// It fails with ErrNoChallenge, ErrChallengeExpired, ErrChallengeReplayed,
// ErrKeyRevoked (the signature is by a revoked key of the device),
// ErrKeyOtherRole (by an active key at another role) or
// devicecred.ErrBadSignature.
func (v *Vault) VerifyChallenge(tenantName, ref string, nonce, sig []byte) (*DeviceKey, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceKey
	err := v.deviceTx(tenantName, ref, func(tx *sql.Tx, t *tenant, d *DeviceInfo) error {
		var expires, consumed string
		err := tx.QueryRow("SELECT expires_at, coalesce(consumed_at, '') FROM device_challenges WHERE nonce = ? AND device_ref = ?", nonce, d.ref).Scan(&expires, &consumed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: device %s (%s)", ErrNoChallenge, d.Name, d.ID)
		} else if err != nil {
			return err
		}
		if consumed != "" {
			return fmt.Errorf("%w: verified at %s; a challenge answers once", ErrChallengeReplayed, consumed)
		}
		now := v.timestamp()
		if now >= expires {
			return fmt.Errorf("%w: it expired at %s", ErrChallengeExpired, expires)
		}
		// Every key of the device must authenticate before any decides.
		if err := v.checkRows(tx, macDeviceKeys, "device_keys.device_ref = ?", d.ref); err != nil {
			return err
		}
		keys, err := v.deviceKeys(tx, d, "")
		if err != nil {
			return err
		}
		var revoked, otherRole *DeviceKey
		for i := range keys {
			k := &keys[i]
			pub, err := x509.ParsePKIXPublicKey(k.SPKI)
			if err != nil {
				return fmt.Errorf("%w: stored key %s does not parse", ErrTampered, k.KeyID)
			}
			ec, ok := pub.(*ecdsa.PublicKey)
			if !ok || devicecred.VerifyChallenge(ec, d.ID, nonce, sig) != nil {
				continue
			}
			switch {
			case k.Status != KeyActive:
				revoked = k
			case k.Role != d.Role:
				otherRole = k
			default:
				out = k
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
		res, err := tx.Exec("UPDATE device_challenges SET consumed_at = ?, consumed_by = ? WHERE nonce = ? AND consumed_at IS NULL", now, out.KeyID, nonce)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ErrChallengeReplayed
		}
		return v.appendAudit(tx, auditRow{Action: "device-verify", Tenant: t.name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, key %s, fingerprint %s", d.ID, out.KeyID, out.Fingerprint)})
	})
	if err != nil {
		v.auditDeviceFailure("device-verify", tenantName, v.deviceObject(tenantName, ref), err)
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

// deviceSecretAD binds a sealed device secret to its tenant, device (ID and
// hardware UUID), name, version and DEK version.
func deviceSecretAD(tenantID int64, deviceID, uuid, name string, version, dekVersion int) []byte {
	return seal.AD(labelDeviceSecret, be64(tenantID), []byte(deviceID), []byte(uuid), []byte(name), be64(int64(version)), be64(int64(dekVersion)))
}

// DeviceSecretItem is a device secret to store.
type DeviceSecretItem struct {
	Name   string
	Value  []byte
	Source string
}

func (v *Vault) putDeviceSecrets(tx *sql.Tx, a *auditor, t *tenant, d *DeviceInfo, items []DeviceSecretItem, why string) ([]int, error) {
	dek, err := v.dek(tx, t.id, t.dekVersion)
	if err != nil {
		return nil, err
	}
	now := v.timestamp()
	vers := make([]int, len(items))
	for i, it := range items {
		if !ValidName(it.Name) {
			return nil, fmt.Errorf("%w: secret %q (letters, digits and _.:/@+-, at most 255 bytes)", ErrInvalidName, it.Name)
		}
		if err := devicecred.CheckDeviceSecret(it.Name, it.Value); err != nil {
			return nil, err
		}
		var ver int
		if err := tx.QueryRow("SELECT coalesce(max(version), 0) + 1 FROM device_secrets WHERE device_ref = ? AND name = ?", d.ref, it.Name).Scan(&ver); err != nil {
			return nil, err
		}
		sealed, err := dek.Seal(nil, it.Value, deviceSecretAD(t.id, d.ID, d.UUID, it.Name, ver, t.dekVersion))
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`INSERT INTO device_secrets (tenant_id, device_ref, name, version, dek_version, sealed, source, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.id, d.ref, it.Name, ver, t.dekVersion, sealed, it.Source, now, v.opts.Actor); err != nil {
			return nil, err
		}
		detail := fmt.Sprintf("device %s, secret %s version %d", d.ID, it.Name, ver)
		if why != "" {
			detail += ", " + why
		}
		if err := a.append(auditRow{Action: "device-secret-set", Tenant: t.name, Object: d.Name, Success: true, Detail: detail}); err != nil {
			return nil, err
		}
		vers[i] = ver
	}
	return vers, nil
}

// SetDeviceSecret stores value as a new version of the device's secret
// name and returns the version.
func (v *Vault) SetDeviceSecret(tenantName, ref, name string, value []byte, source string) (int, error) {
	if err := v.mustUnlocked(); err != nil {
		return 0, err
	}
	var ver int
	err := v.deviceTx(tenantName, ref, func(tx *sql.Tx, t *tenant, d *DeviceInfo) error {
		a := v.auditor(tx)
		defer a.close()
		vers, err := v.putDeviceSecrets(tx, a, t, d, []DeviceSecretItem{{Name: name, Value: value, Source: source}}, source)
		if err != nil {
			return err
		}
		ver = vers[0]
		return nil
	})
	if err != nil {
		v.auditDeviceFailure("device-secret-set", tenantName, v.deviceObject(tenantName, ref), err)
		return 0, err
	}
	return ver, nil
}

const deviceSecretCols = "s.name, s.version, s.source, s.created_at, s.created_by"

// GetDeviceSecret returns the latest version of the device's secret name.
// The read is audited.
func (v *Vault) GetDeviceSecret(tenantName, ref, name string) (*DeviceSecret, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *DeviceSecret
	err := v.deviceTx(tenantName, ref, func(tx *sql.Tx, t *tenant, d *DeviceInfo) error {
		s := &DeviceSecret{DeviceSecretInfo: DeviceSecretInfo{Tenant: t.name, DeviceID: d.ID, Device: d.Name}}
		var dekVer int
		var sealed []byte
		err := tx.QueryRow("SELECT "+deviceSecretCols+", s.dek_version, s.sealed FROM device_secrets s WHERE s.device_ref = ? AND s.name = ? ORDER BY s.version DESC LIMIT 1", d.ref, name).
			Scan(&s.Name, &s.Version, &s.Source, &s.CreatedAt, &s.CreatedBy, &dekVer, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %q of device %s in tenant %s", ErrNotFound, name, d.Name, t.name)
		} else if err != nil {
			return err
		}
		dek, err := v.dek(tx, t.id, dekVer)
		if err != nil {
			return err
		}
		s.Value, err = dek.Open(nil, sealed, deviceSecretAD(t.id, d.ID, d.UUID, s.Name, s.Version, dekVer))
		if err != nil {
			return fmt.Errorf("%w: secret %s version %d of device %s does not open", ErrTampered, s.Name, s.Version, d.Name)
		}
		out = s
		return v.appendAudit(tx, auditRow{Action: "device-secret-get", Tenant: t.name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, secret %s version %d", d.ID, s.Name, s.Version)})
	})
	if err != nil {
		v.auditDeviceFailure("device-secret-get", tenantName, v.deviceObject(tenantName, ref), err)
		return nil, err
	}
	return out, nil
}

// DeviceSecrets lists the latest version of each of the device's secrets,
// by name. It reads no values.
func (v *Vault) DeviceSecrets(tenantName, ref string) ([]DeviceSecretInfo, error) {
	t, d, err := v.deviceRead(tenantName, ref)
	if err != nil {
		return nil, err
	}
	rows, err := v.db.Query(`SELECT `+deviceSecretCols+` FROM device_secrets s
		WHERE s.device_ref = ? AND s.version = (SELECT max(version) FROM device_secrets x WHERE x.device_ref = s.device_ref AND x.name = s.name)
		ORDER BY s.name`, d.ref)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := []DeviceSecretInfo{}
	for rows.Next() {
		s := DeviceSecretInfo{Tenant: t.name, DeviceID: d.ID, Device: d.Name}
		if err := rows.Scan(&s.Name, &s.Version, &s.Source, &s.CreatedAt, &s.CreatedBy); err != nil {
			return nil, dbErr(err)
		}
		out = append(out, s)
	}
	return out, dbErr(rows.Err())
}

// resealDeviceSecrets re-seals every device secret of the tenant under the
// new DEK, within RotateDEK's transaction.
func (v *Vault) resealDeviceSecrets(tx *sql.Tx, t *tenant, newVer int, newDEK *seal.AEAD) (int, error) {
	rows, err := tx.Query(`SELECT s.id, s.name, s.version, s.dek_version, s.sealed, d.device_id, coalesce(d.device_uuid, '')
		FROM device_secrets s JOIN devices d ON d.id = s.device_ref WHERE s.tenant_id = ? ORDER BY s.id`, t.id)
	if err != nil {
		return 0, err
	}
	type row struct {
		id                  int64
		name, devID, uuid   string
		version, dekVersion int
		sealed              []byte
	}
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.version, &r.dekVersion, &r.sealed, &r.devID, &r.uuid); err != nil {
			rows.Close()
			return 0, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, r := range rs {
		old, err := v.dek(tx, t.id, r.dekVersion)
		if err != nil {
			return 0, err
		}
		pt, err := old.Open(nil, r.sealed, deviceSecretAD(t.id, r.devID, r.uuid, r.name, r.version, r.dekVersion))
		if err != nil {
			return 0, fmt.Errorf("%w: device secret %s version %d does not open", ErrTampered, r.name, r.version)
		}
		sealed, err := newDEK.Seal(nil, pt, deviceSecretAD(t.id, r.devID, r.uuid, r.name, r.version, newVer))
		clear(pt)
		if err != nil {
			return 0, err
		}
		if _, err := tx.Exec("UPDATE device_secrets SET sealed = ?, dek_version = ? WHERE id = ?", sealed, newVer, r.id); err != nil {
			return 0, err
		}
	}
	return len(rs), nil
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

// reportDigest is HMAC-SHA256(HKDF-SHA256(audit key, info
// "keysmith/v1/vault/device-report"), AD("keysmith/v1/vault/device-report",
// be64(tenant_id), request_id, device_uuid, then name and value of each
// secret sorted by name)): the same report, whatever its JSON spelling and
// order, has the same digest; without the vault's key nobody can test a
// guess of a value against it.
func (v *Vault) reportDigest(tenantID int64, rep *Report) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, v.unlocked.audit, nil, labelReport, 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	secrets := slices.Clone(rep.Secrets)
	slices.SortFunc(secrets, func(a, b ReportSecret) int { return strings.Compare(a.Name, b.Name) })
	fields := [][]byte{be64(tenantID), []byte(rep.RequestID), []byte(rep.DeviceUUID)}
	for _, s := range secrets {
		fields = append(fields, []byte(s.Name), []byte(s.Value))
	}
	m := hmac.New(sha256.New, key)
	m.Write(seal.AD(labelReport, fields...))
	return m.Sum(nil), nil
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
// names, as new versions, and records the request ID, in one transaction.
// The same report again changes nothing and returns AlreadyApplied; another
// report with an applied request ID fails with ErrReportConflict.
func (v *Vault) ApplyReport(tenantName string, rep *Report) (*ReportResult, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, err
	}
	var out *ReportResult
	err := v.write(context.Background(), func(tx *sql.Tx) error {
		t, err := v.tenant(tx, tenantName)
		if err != nil {
			return err
		}
		digest, err := v.reportDigest(t.id, rep)
		if err != nil {
			return err
		}
		res := &ReportResult{RequestID: rep.RequestID, DeviceUUID: rep.DeviceUUID}
		for _, s := range rep.Secrets {
			res.Secrets = append(res.Secrets, s.Name)
		}
		var stored []byte
		var appliedAt string
		err = tx.QueryRow("SELECT digest, applied_at FROM device_reports WHERE tenant_id = ? AND request_id = ?", t.id, rep.RequestID).Scan(&stored, &appliedAt)
		switch {
		case err == nil && hmac.Equal(stored, digest):
			res.AlreadyApplied, res.AppliedAt = true, appliedAt
			if d, err := v.findDevice(tx, t, rep.DeviceUUID); err == nil {
				res.DeviceID, res.Device = d.ID, d.Name
			}
			out = res
			return nil
		case err == nil:
			return fmt.Errorf("%w: request_id %q was applied at %s", ErrReportConflict, rep.RequestID, appliedAt)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var d *DeviceInfo
		d, err = scanDevice(tx.QueryRow("SELECT "+deviceCols+" FROM devices d WHERE d.tenant_id = ? AND d.device_uuid = ?", t.id, rep.DeviceUUID), t.name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no device with UUID %s in tenant %s", ErrNoDevice, rep.DeviceUUID, t.name)
		} else if err != nil {
			return err
		}
		res.DeviceID, res.Device, res.AppliedAt = d.ID, d.Name, v.timestamp()
		a := v.auditor(tx)
		defer a.close()
		items := make([]DeviceSecretItem, len(rep.Secrets))
		for i, s := range rep.Secrets {
			items[i] = DeviceSecretItem{Name: s.Name, Value: []byte(s.Value), Source: "report:" + rep.RequestID}
		}
		if _, err := v.putDeviceSecrets(tx, a, t, d, items, "report "+rep.RequestID); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO device_reports (tenant_id, request_id, device_ref, device_uuid, digest, secrets, applied_at, applied_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.id, rep.RequestID, d.ref, rep.DeviceUUID, digest, len(items), res.AppliedAt, v.opts.Actor); err != nil {
			return err
		}
		out = res
		return a.append(auditRow{Action: "device-report", Tenant: t.name, Object: d.Name, Success: true,
			Detail: fmt.Sprintf("device %s, request %s, %d secrets", d.ID, rep.RequestID, len(items))})
	})
	if err != nil {
		v.auditDeviceFailure("device-report", tenantName, rep.RequestID, err)
		return nil, err
	}
	if out.AlreadyApplied {
		_ = v.write(context.Background(), func(tx *sql.Tx) error {
			return v.appendAudit(tx, auditRow{Action: "device-report", Tenant: tenantName, Object: out.Device, Success: true,
				Detail: fmt.Sprintf("request %s already applied at %s, nothing changed", rep.RequestID, out.AppliedAt)})
		})
	}
	return out, nil
}

// deviceObject names, for the audit row of a failed operation, the device
// ref (an ID, name or UUID as the user typed it) resolves to: its name, so
// that every row about a device names it alike. A ref that resolves to no
// device is returned as given.
func (v *Vault) deviceObject(tenantName, ref string) string {
	if _, d, err := v.lookupDevice(tenantName, ref); err == nil {
		return d.Name
	}
	return ref
}

// deviceRead finds the tenant and the device ref names, outside a write
// transaction, for commands that only read; the vault must be unlocked.
func (v *Vault) deviceRead(tenantName, ref string) (*tenant, *DeviceInfo, error) {
	if err := v.mustUnlocked(); err != nil {
		return nil, nil, err
	}
	return v.lookupDevice(tenantName, ref)
}

func (v *Vault) lookupDevice(tenantName, ref string) (*tenant, *DeviceInfo, error) {
	t, err := v.tenant(v.db, tenantName)
	if err != nil {
		return nil, nil, err
	}
	d, err := v.findDevice(v.db, t, ref)
	if err != nil {
		return nil, nil, err
	}
	return t, d, nil
}

// auditDeviceFailure records a failed device operation with the reason a
// script or an auditor cares about. Best effort, like auditFailure.
func (v *Vault) auditDeviceFailure(action, tenantName, object string, cause error) {
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
			if v.unlocked == nil {
				return
			}
			_ = v.write(context.Background(), func(tx *sql.Tx) error {
				return v.appendAudit(tx, auditRow{Action: action, Tenant: tenantName, Object: object, Success: false, Detail: r.detail})
			})
			return
		}
	}
	v.auditFailure(action, tenantName, object, cause)
}
