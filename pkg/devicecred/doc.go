// Package devicecred implements device credentials as specified in
// docs/device-format.md: ECDSA P-256 device keys, their SubjectPublicKeyInfo
// and fingerprint, the passphrase-sealed private key handed out once at
// provisioning (a binary age-encryption.org/v1 file with a single scrypt
// recipient), public-key enrolment input (PEM or DER SPKI, PKCS#10 CSR), the
// proof-of-possession challenge and its signature, and Intel AMT passwords.
//
// The package takes keys, passphrases and readers as values; it never reads
// flags, files or the environment. All cryptography is done by crypto/ecdsa,
// crypto/x509, crypto/sha256, crypto/rand and filippo.io/age.
package devicecred
