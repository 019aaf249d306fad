// Package keyring is all of the vault's cryptography: the key hierarchy
// (master key → root → KEK → DEKs and the audit key → row key), every
// associated-data layout, the row MACs, the device-report digest and the
// service-token hash. It implements docs/vault.md, "Key hierarchy",
// "Associated data" and "Row authentication", byte by byte. It holds no
// SQL and decides nothing: the core (pkg/vault) calls it, the stores never
// do.
package keyring

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/vaulterr"
)

// Domain labels; docs/vault.md, "Key hierarchy" and "Associated data".
const (
	rootSaltPrefix    = "keysmith/v1/vault/"      // PBKDF2 salt: prefix + env
	kekInfo           = "keysmith/v1/vault/kek"   // HKDF info of the KEK
	labelDEK          = "keysmith/v1/vault/dek"   // AD of a wrapped DEK
	labelValue        = "keysmith/v1/vault/value" // AD of a sealed value
	labelAuditKey     = "keysmith/v1/vault/audit-key"
	labelRowKey       = "keysmith/v1/vault/row-key" // HKDF info of the row MAC key
	labelRowPrefix    = "keysmith/v1/vault/row/"    // row MAC label: prefix + table
	labelDeviceSecret = "keysmith/v1/vault/device-secret"
	labelReport       = "keysmith/v1/vault/device-report"
	labelAMTKey       = "keysmith/v1/vault/amt-key"
)

// Row MAC levels, recorded in the associated data of the wrapped audit key
// (AuditKeyAD): which tables' rows all carry a MAC, so that a row without
// one is tampering rather than a row from before the upgrade.
const (
	LevelNone    = 0 // before schema 5: no row MACs
	LevelRows    = 1 // device_keys, service_tokens, grants, access_requests (schema 5)
	LevelDevices = 2 // and devices (schema 6)
	LevelLatest  = LevelDevices
)

var levelFields = []string{"row-macs", "device-macs"}

// Be64 is the 8-byte big-endian form of integers in associated data.
func Be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// RootKey is the only slow step: PBKDF2 of the master key with the salt
// "keysmith/v1/vault/<env>".
func RootKey(mk masterkey.Key, env string) []byte { return mk.Stretch(rootSaltPrefix + env) }

// KEKFromRoot derives the key-encryption key: HKDF-SHA256(root, no salt,
// info "keysmith/v1/vault/kek"), 32 bytes.
func KEKFromRoot(root []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, root, nil, kekInfo, seal.KeySize)
}

// Keys are what Unlock derives and unwraps. They are immutable once the
// audit key is set, and safe for concurrent use.
type Keys struct {
	vaultID []byte
	kek     *seal.AEAD
	audit   []byte // HMAC key of the audit chain
	row     []byte // HMAC key of the row MACs, from audit
	report  []byte // HMAC key of report digests, from audit
	rand    io.Reader
}

// Stretch is a RootKey derivation started ahead of time, on a goroutine of
// its own: a command that knows its key before it has read the vault's
// meta (which names the environment and key the vault needs) stretches the
// key while it connects. One goroutine uses it: a derivation, then Wipe.
type Stretch struct {
	id   masterkey.ID
	env  string
	done chan struct{}
	root []byte
	once sync.Once
}

// Prestretch starts RootKey(mk, env) and returns at once.
func Prestretch(mk masterkey.Key, env string) *Stretch {
	s := &Stretch{id: mk.ID(), env: env, done: make(chan struct{})}
	go func() {
		s.root = RootKey(mk, env)
		close(s.done)
	}()
	return s
}

// take returns a copy of the root key when s was started for mk and env,
// waiting for it; nil otherwise.
func (s *Stretch) take(mk masterkey.Key, env string) []byte {
	if s == nil || s.id != mk.ID() || s.env != env {
		return nil
	}
	<-s.done
	return slices.Clone(s.root)
}

// Wipe waits for the derivation and clears the root key it made. Wiping
// twice, or a nil Stretch, is harmless.
func (s *Stretch) Wipe() {
	if s == nil {
		return
	}
	s.once.Do(func() {
		<-s.done
		clear(s.root)
		s.root = nil
	})
}

// Derive turns a master key into the vault's KEK. rand is the nonce source
// of every seal made with the result.
func Derive(mk masterkey.Key, env string, vaultID []byte, rand io.Reader) (*Keys, error) {
	return DeriveStretched(nil, mk, env, vaultID, rand)
}

// DeriveStretched is Derive with the root key from pre when pre was
// started for mk and env (a mismatch or a nil pre derives it here). pre is
// left as it was: its owner wipes it.
func DeriveStretched(pre *Stretch, mk masterkey.Key, env string, vaultID []byte, rand io.Reader) (*Keys, error) {
	root := pre.take(mk, env)
	if root == nil {
		root = RootKey(mk, env)
	}
	defer clear(root)
	kek, err := KEKFromRoot(root)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	a, err := seal.NewWithRand(kek, rand)
	if err != nil {
		return nil, err
	}
	return &Keys{vaultID: slices.Clone(vaultID), kek: a, rand: rand}, nil
}

// WithAudit returns a copy of k with the unwrapped audit key installed and
// the keys derived from it: the row MAC key HKDF-SHA256(audit key, no salt,
// info "keysmith/v1/vault/row-key") and the report digest key (info
// "keysmith/v1/vault/device-report"), 32 bytes each.
func (k *Keys) WithAudit(audit []byte) (*Keys, error) {
	row, err := hkdf.Key(sha256.New, audit, nil, labelRowKey, 32)
	if err != nil {
		return nil, err
	}
	rep, err := hkdf.Key(sha256.New, audit, nil, labelReport, 32)
	if err != nil {
		return nil, err
	}
	n := *k
	n.audit, n.row, n.report = slices.Clone(audit), row, rep
	return &n, nil
}

// WithKEKOf returns k's audit-derived keys under other's KEK: the keys
// after rotate-master, which only re-wraps the audit key.
func (k *Keys) WithKEKOf(other *Keys) *Keys {
	n := *k
	n.kek = other.kek
	return &n
}

// AuditKey is the HMAC key of the audit chain.
func (k *Keys) AuditKey() []byte { return k.audit }

// Wipe clears the key material k holds.
func (k *Keys) Wipe() {
	if k == nil {
		return
	}
	clear(k.audit)
	clear(k.row)
	clear(k.report)
}

// DEKAD binds a wrapped DEK to its vault, tenant and DEK version.
func DEKAD(vaultID []byte, tenantID int64, version int) []byte {
	return seal.AD(labelDEK, vaultID, Be64(tenantID), Be64(int64(version)))
}

// ValueAD binds a sealed value to its tenant, name, version and DEK
// version.
func ValueAD(tenantID int64, name string, version, dekVersion int) []byte {
	return seal.AD(labelValue, Be64(tenantID), []byte(name), Be64(int64(version)), Be64(int64(dekVersion)))
}

// DeviceSecretAD binds a sealed device secret to its tenant, device (ID
// and hardware UUID), name, version and DEK version.
func DeviceSecretAD(tenantID int64, deviceID, uuid, name string, version, dekVersion int) []byte {
	return seal.AD(labelDeviceSecret, Be64(tenantID), []byte(deviceID), []byte(uuid), []byte(name), Be64(int64(version)), Be64(int64(dekVersion)))
}

// AuditKeyAD binds the wrapped audit key to its vault and to the row MAC
// level: level 0 is AD(label, vault_id); level 1 adds the field
// "row-macs"; level 2 also "device-macs".
func AuditKeyAD(vaultID []byte, level int) []byte {
	fields := [][]byte{vaultID}
	for _, f := range levelFields[:level] {
		fields = append(fields, []byte(f))
	}
	return seal.AD(labelAuditKey, fields...)
}

// NewKey returns 32 random bytes from k's randomness: a DEK or an audit
// key.
func (k *Keys) NewKey() ([]byte, error) {
	b := make([]byte, seal.KeySize)
	_, err := io.ReadFull(k.rand, b)
	return b, err
}

// WrapAuditKey seals the audit key under the KEK at a row MAC level.
func (k *Keys) WrapAuditKey(audit []byte, level int) ([]byte, error) {
	return k.kek.Seal(nil, audit, AuditKeyAD(k.vaultID, level))
}

// OpenAuditKey unwraps the audit key and returns its row MAC level,
// trying the newest level first. A key that opens at no level is
// ErrTampered.
func (k *Keys) OpenAuditKey(wrapped []byte) ([]byte, int, error) {
	for level := LevelLatest; level >= LevelNone; level-- {
		if ak, err := k.kek.Open(nil, wrapped, AuditKeyAD(k.vaultID, level)); err == nil {
			return ak, level, nil
		}
	}
	return nil, 0, fmt.Errorf("%w: the audit key does not unwrap", vaulterr.ErrTampered)
}

// WrapDEK seals a DEK under the KEK.
func (k *Keys) WrapDEK(tenantID int64, version int, dek []byte) ([]byte, error) {
	return k.kek.Seal(nil, dek, DEKAD(k.vaultID, tenantID, version))
}

// UnwrapDEKBytes opens a wrapped DEK. The caller clears the result.
func (k *Keys) UnwrapDEKBytes(tenantID int64, version int, wrapped []byte) ([]byte, error) {
	dek, err := k.kek.Open(nil, wrapped, DEKAD(k.vaultID, tenantID, version))
	if err != nil {
		return nil, fmt.Errorf("%w: data key version %d does not unwrap", vaulterr.ErrTampered, version)
	}
	return dek, nil
}

// UnwrapDEK opens a wrapped DEK and returns an AEAD for it.
func (k *Keys) UnwrapDEK(tenantID int64, version int, wrapped []byte) (*seal.AEAD, error) {
	dek, err := k.UnwrapDEKBytes(tenantID, version, wrapped)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	return seal.NewWithRand(dek, k.rand)
}

// NewAEAD returns an AEAD for a fresh DEK with k's randomness.
func (k *Keys) NewAEAD(dek []byte) (*seal.AEAD, error) { return seal.NewWithRand(dek, k.rand) }

// SealValue seals a secret value under a DEK.
func SealValue(dek *seal.AEAD, tenantID int64, name string, version, dekVersion int, pt []byte) ([]byte, error) {
	return dek.Seal(nil, pt, ValueAD(tenantID, name, version, dekVersion))
}

// OpenValue opens a sealed secret value; a wrong one is ErrTampered.
func OpenValue(dek *seal.AEAD, tenantID int64, name string, version, dekVersion int, sealed []byte) ([]byte, error) {
	pt, err := dek.Open(nil, sealed, ValueAD(tenantID, name, version, dekVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: %s version %d does not open", vaulterr.ErrTampered, name, version)
	}
	return pt, nil
}

// SealDeviceSecret seals a device secret under a DEK.
func SealDeviceSecret(dek *seal.AEAD, tenantID int64, deviceID, uuid, name string, version, dekVersion int, pt []byte) ([]byte, error) {
	return dek.Seal(nil, pt, DeviceSecretAD(tenantID, deviceID, uuid, name, version, dekVersion))
}

// OpenDeviceSecret opens a sealed device secret; a wrong one is
// ErrTampered naming the secret and the device.
func OpenDeviceSecret(dek *seal.AEAD, tenantID int64, deviceID, uuid, name string, version, dekVersion int, sealed []byte, device string) ([]byte, error) {
	pt, err := dek.Open(nil, sealed, DeviceSecretAD(tenantID, deviceID, uuid, name, version, dekVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: secret %s version %d of device %s does not open", vaulterr.ErrTampered, name, version, device)
	}
	return pt, nil
}

// TokenHash is what a vault stores of a service token: its SHA-256.
func TokenHash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// ReportSecret is one name and value of a provisioning report.
type ReportSecret struct{ Name, Value string }

// ReportDigest is HMAC-SHA256(HKDF-SHA256(audit key, info
// "keysmith/v1/vault/device-report"), AD("keysmith/v1/vault/device-report",
// be64(tenant_id), request_id, device_uuid, then name and value of each
// secret sorted by name)): the same report, whatever its JSON spelling and
// order, has the same digest; without the vault's key nobody can test a
// guess of a value against it.
func (k *Keys) ReportDigest(tenantID int64, requestID, uuid string, secrets []ReportSecret) []byte {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b ReportSecret) int { return strings.Compare(a.Name, b.Name) })
	fields := [][]byte{Be64(tenantID), []byte(requestID), []byte(uuid)}
	for _, s := range secrets {
		fields = append(fields, []byte(s.Name), []byte(s.Value))
	}
	m := hmac.New(sha256.New, k.report)
	m.Write(seal.AD(labelReport, fields...))
	return m.Sum(nil)
}

// AMTKeyAD binds a sealed AMT provisioning key to its tenant, certificate
// name, the SHA-256 of the stored chain (the DER certificates concatenated)
// and DEK version: a key cannot be moved to another name, tenant or chain.
func AMTKeyAD(tenantID int64, name string, chain []byte, dekVersion int) []byte {
	d := sha256.Sum256(chain)
	return seal.AD(labelAMTKey, Be64(tenantID), []byte(name), d[:], Be64(int64(dekVersion)))
}

// SealAMTKey seals a provisioning key (PKCS#8 DER) under a tenant DEK.
func SealAMTKey(dek *seal.AEAD, tenantID int64, name string, chain []byte, dekVersion int, pt []byte) ([]byte, error) {
	return dek.Seal(nil, pt, AMTKeyAD(tenantID, name, chain, dekVersion))
}

// OpenAMTKey opens a sealed provisioning key; a failure is ErrTampered
// naming the certificate.
func OpenAMTKey(dek *seal.AEAD, tenantID int64, name string, chain []byte, dekVersion int, sealed []byte) ([]byte, error) {
	pt, err := dek.Open(nil, sealed, AMTKeyAD(tenantID, name, chain, dekVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: the key of AMT certificate %q does not open", vaulterr.ErrTampered, name)
	}
	return pt, nil
}
