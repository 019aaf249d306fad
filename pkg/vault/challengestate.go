package vault

import (
	"crypto/hmac"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// A challenge nonce (devicecred.ChallengeSize, 32 bytes) is 16 random bytes
// followed by a 16-byte tag: the row MAC of what the device_challenges row
// says about it (tenant, device ID, the random half, created_at,
// expires_at), under the row key. The row has no MAC column of its own:
// the nonce carries it, so no schema change was needed and the device signs
// the nonce as before. Someone who can write the store but has no master
// key cannot extend a challenge's life or move it to another device, and
// cannot mint one. Un-consuming a used challenge (consumed_at set back to
// NULL) is caught against the chain: every successful device-verify row
// names the challenge it consumed.
const challengeRandomSize = devicecred.ChallengeSize / 2

// tableChallenges is the row-MAC table label of a challenge tag.
const tableChallenges = "device_challenges"

// challengeTag is the tag (second half) of a challenge nonce.
func (o *op) challengeTag(tenantID int64, deviceID string, random []byte, created, expires string) []byte {
	mac := o.keys.MAC(keyring.Row{Table: tableChallenges, Fields: []any{tenantID, deviceID, random, created, expires}})
	return mac[:devicecred.ChallengeSize-challengeRandomSize]
}

// challengeID names a challenge in the audit detail of the verify that
// consumed it: the first 8 bytes of its nonce, in hex (random, so unique
// enough to find its use; the whole nonce is not needed).
func challengeID(nonce []byte) string { return hex.EncodeToString(nonce[:8]) }

// checkChallenge fails (ErrTampered) when the challenge row c, found by
// its nonce n, does not match n's tag, or when the chain records a successful verify that
// consumed it since it was issued although the row says it is unused.
func (o *op) checkChallenge(t store.Tenant, d store.Device, c store.Challenge, n []byte) error {
	if len(n) != devicecred.ChallengeSize || !hmac.Equal(n[challengeRandomSize:], o.challengeTag(t.ID, d.ID, n[:challengeRandomSize], c.CreatedAt, c.ExpiresAt)) {
		return fmt.Errorf("%w: the challenge of device %s does not authenticate: its row was changed outside keysmith, or an older keysmith issued it; issue a new one",
			ErrTampered, d.Name)
	}
	if c.ConsumedAt != "" {
		return nil // the caller refuses it as a replay
	}
	tag := ", challenge " + challengeID(n)
	r, err := o.lastAuditOf(store.AuditFilter{Object: d.Name, Tenant: t.Name, Actions: []string{"device-verify"}, Since: c.CreatedAt},
		func(r *store.AuditRow) bool { return strings.Contains(r.Detail, tag) })
	if err != nil || r == nil {
		return err
	}
	return fmt.Errorf("%w: the challenge of device %s is unused, but the audit chain records the verify that consumed it (audit row %d): its row was changed to replay it",
		ErrTampered, d.Name, r.Seq)
}
