package vault

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/seal"
)

// Domain labels; docs/vault.md, "Key hierarchy" and "Associated data".
const (
	rootSaltPrefix  = "keysmith/v1/vault/"      // PBKDF2 salt: prefix + env
	kekInfo         = "keysmith/v1/vault/kek"   // HKDF info of the KEK
	labelDEK        = "keysmith/v1/vault/dek"   // AD of a wrapped DEK
	labelValue      = "keysmith/v1/vault/value" // AD of a sealed value
	labelAuditKey   = "keysmith/v1/vault/audit-key"
	labelAuditRow   = "keysmith/v1/vault/audit"
	labelAuditNoMAC = "keysmith/v1/vault/audit-unkeyed"
)

// keys are what Unlock derives and unwraps. They live in memory only.
type keys struct {
	kek   *seal.AEAD
	audit []byte                       // HMAC key of the audit chain
	deks  map[int64]map[int]*seal.AEAD // tenant ID -> DEK version -> AEAD
	rand  io.Reader
}

func (k *keys) wipe() {
	if k == nil {
		return
	}
	clear(k.audit)
	k.deks = nil
}

// RootKey is the only slow step: PBKDF2 of the master key with the salt
// "keysmith/v1/vault/<env>".
func rootKey(mk masterkey.Key, env string) []byte {
	return mk.Stretch(rootSaltPrefix + env)
}

// kekFromRoot derives the key-encryption key: HKDF-SHA256(root, no salt,
// info "keysmith/v1/vault/kek"), 32 bytes.
func kekFromRoot(root []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, root, nil, kekInfo, seal.KeySize)
}

// deriveKeys turns a master key into the vault's KEK. rand is the nonce
// source of every seal made with the result.
func deriveKeys(mk masterkey.Key, env string, vaultID []byte, rand io.Reader) (*keys, error) {
	root := rootKey(mk, env)
	defer clear(root)
	kek, err := kekFromRoot(root)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	a, err := seal.NewWithRand(kek, rand)
	if err != nil {
		return nil, err
	}
	return &keys{kek: a, deks: map[int64]map[int]*seal.AEAD{}, rand: rand}, nil
}

func be64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// dekAD binds a wrapped DEK to its vault, tenant and DEK version.
func dekAD(vaultID []byte, tenantID int64, version int) []byte {
	return seal.AD(labelDEK, vaultID, be64(tenantID), be64(int64(version)))
}

// valueAD binds a sealed value to its tenant, name, version and DEK version.
func valueAD(tenantID int64, name string, version, dekVersion int) []byte {
	return seal.AD(labelValue, be64(tenantID), []byte(name), be64(int64(version)), be64(int64(dekVersion)))
}

// auditKeyAD binds the wrapped audit key to its vault.
func auditKeyAD(vaultID []byte) []byte {
	return seal.AD(labelAuditKey, vaultID)
}

// wrapDEK seals a DEK under the KEK.
func wrapDEK(kek *seal.AEAD, vaultID []byte, tenantID int64, version int, dek []byte) ([]byte, error) {
	return kek.Seal(nil, dek, dekAD(vaultID, tenantID, version))
}

// unwrapDEK opens a wrapped DEK and returns an AEAD for it.
func unwrapDEK(kek *seal.AEAD, vaultID []byte, tenantID int64, version int, wrapped []byte, rand io.Reader) (*seal.AEAD, error) {
	dek, err := kek.Open(nil, wrapped, dekAD(vaultID, tenantID, version))
	if err != nil {
		return nil, fmt.Errorf("%w: data key %d of tenant %d does not unwrap", ErrTampered, version, tenantID)
	}
	defer clear(dek)
	return seal.NewWithRand(dek, rand)
}

// sealValue seals a secret value under a DEK.
func sealValue(dek *seal.AEAD, tenantID int64, name string, version, dekVersion int, pt []byte) ([]byte, error) {
	return dek.Seal(nil, pt, valueAD(tenantID, name, version, dekVersion))
}

// openValue opens a sealed secret value.
func openValue(dek *seal.AEAD, tenantID int64, name string, version, dekVersion int, sealed []byte) ([]byte, error) {
	pt, err := dek.Open(nil, sealed, valueAD(tenantID, name, version, dekVersion))
	if err != nil {
		return nil, fmt.Errorf("%w: %s version %d does not open", ErrTampered, name, version)
	}
	return pt, nil
}
