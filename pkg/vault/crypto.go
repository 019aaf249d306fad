package vault

import (
	"crypto/hkdf"
	"crypto/hmac"
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
	labelRowKey     = "keysmith/v1/vault/row-key" // HKDF info of the row MAC key
	labelRowPrefix  = "keysmith/v1/vault/row/"    // row MAC label: prefix + table
)

// keys are what Unlock derives and unwraps. They live in memory only.
type keys struct {
	kek   *seal.AEAD
	audit []byte                       // HMAC key of the audit chain
	row   []byte                       // HMAC key of the row MACs, from audit
	deks  map[int64]map[int]*seal.AEAD // tenant ID -> DEK version -> AEAD
	rand  io.Reader
}

func (k *keys) wipe() {
	if k == nil {
		return
	}
	clear(k.audit)
	clear(k.row)
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

// auditKeyAD binds the wrapped audit key to its vault. A vault whose rows
// are all authenticated (docs/vault.md, "Row authentication") wraps it with
// rowMACs true, which adds the field "row-macs": the form of the wrapped key
// says, under the KEK, whether a row without a MAC may be trusted once
// (before the upgrade) or is tampering (after it).
func auditKeyAD(vaultID []byte, rowMACs bool) []byte {
	if rowMACs {
		return seal.AD(labelAuditKey, vaultID, []byte(rowMACsField))
	}
	return seal.AD(labelAuditKey, vaultID)
}

// rowMACsField marks the audit key of a vault with row MACs.
const rowMACsField = "row-macs"

// setAudit installs the unwrapped audit key and derives the row MAC key
// from it: HKDF-SHA256(audit key, no salt, info "keysmith/v1/vault/row-key"),
// 32 bytes. The row MAC key changes only when the audit key does, which
// rotate-master never does (it re-wraps the audit key).
func (k *keys) setAudit(audit []byte) error {
	row, err := hkdf.Key(sha256.New, audit, nil, labelRowKey, 32)
	if err != nil {
		return err
	}
	k.audit, k.row = audit, row
	return nil
}

// rowMAC authenticates one row of an authorisation table:
// HMAC-SHA256(row key, AD("keysmith/v1/vault/row/" + table, fields...)).
// Integer fields are 8 bytes big-endian, text and blobs their bytes.
func rowMAC(key []byte, table string, fields []any) ([]byte, error) {
	enc := make([][]byte, len(fields))
	for i, f := range fields {
		switch f := f.(type) {
		case int64:
			enc[i] = be64(f)
		case string:
			enc[i] = []byte(f)
		case []byte:
			enc[i] = f
		default:
			return nil, fmt.Errorf("%w: %s: field %d has type %T", ErrTampered, table, i+1, f)
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write(seal.AD(labelRowPrefix+table, enc...))
	return m.Sum(nil), nil
}

// wrapDEK seals a DEK under the KEK.
func wrapDEK(kek *seal.AEAD, vaultID []byte, tenantID int64, version int, dek []byte) ([]byte, error) {
	return kek.Seal(nil, dek, dekAD(vaultID, tenantID, version))
}

// unwrapDEK opens a wrapped DEK and returns an AEAD for it.
func unwrapDEK(kek *seal.AEAD, vaultID []byte, tenantID int64, version int, wrapped []byte, rand io.Reader) (*seal.AEAD, error) {
	dek, err := kek.Open(nil, wrapped, dekAD(vaultID, tenantID, version))
	if err != nil {
		return nil, fmt.Errorf("%w: data key version %d does not unwrap", ErrTampered, version)
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
