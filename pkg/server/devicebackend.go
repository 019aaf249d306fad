package server

import (
	"context"
	"time"

	"github.com/keysmith/keysmith/pkg/vault"
)

var _ DeviceBackend = (*VaultBackend)(nil)

// DeviceByKey implements DeviceBackend.
func (b *VaultBackend) DeviceByKey(ctx context.Context, c Caller, tenant string, fp [32]byte) (*vault.DeviceIdentity, error) {
	var out *vault.DeviceIdentity
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		out, err = v.DeviceByKey(ctx, tenant, fp)
		return err
	})
	return out, err
}

// DeviceBySession implements DeviceBackend.
func (b *VaultBackend) DeviceBySession(ctx context.Context, c Caller, tenantID int64, fp [32]byte) (*vault.DeviceIdentity, error) {
	var out *vault.DeviceIdentity
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		out, err = v.DeviceByTenantKey(ctx, tenantID, fp)
		return err
	})
	return out, err
}

// DeviceSessionKey implements DeviceBackend.
func (b *VaultBackend) DeviceSessionKey() ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.v.DeviceSessionKey()
}

// IssueDeviceChallenge implements DeviceBackend.
func (b *VaultBackend) IssueDeviceChallenge(ctx context.Context, c Caller, tenant, device string, ttl time.Duration) (*vault.Challenge, error) {
	var out *vault.Challenge
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		out, err = v.IssueChallenge(ctx, tenant, device, ttl)
		return err
	})
	return out, err
}

// VerifyDeviceChallenge implements DeviceBackend.
func (b *VaultBackend) VerifyDeviceChallenge(ctx context.Context, c Caller, tenant, device string, nonce, binding, sig []byte) (*vault.DeviceIdentity, error) {
	var out *vault.DeviceIdentity
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		out, err = v.VerifyChallengeBound(ctx, tenant, device, nonce, binding, sig)
		return err
	})
	return out, err
}

// ApplyDeviceReport implements DeviceBackend.
func (b *VaultBackend) ApplyDeviceReport(ctx context.Context, c Caller, id *vault.DeviceIdentity, rep *vault.Report) (*vault.ReportResult, map[string]int, error) {
	var out *vault.ReportResult
	vers := map[string]int{}
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		if out, err = v.ApplyDeviceReport(ctx, id, rep); err != nil {
			return err
		}
		list, err := v.DeviceSecrets(ctx, id.Tenant, id.DeviceID)
		if err != nil {
			return err
		}
		for _, s := range list {
			vers[s.Name] = s.Version
		}
		return nil
	})
	return out, vers, err
}

// OwnDeviceSecret implements DeviceBackend.
func (b *VaultBackend) OwnDeviceSecret(ctx context.Context, c Caller, id *vault.DeviceIdentity, name string) (*vault.DeviceSecret, error) {
	var out *vault.DeviceSecret
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		out, err = v.OwnDeviceSecret(ctx, id, name)
		return err
	})
	return out, err
}

// AuditDeviceRefused implements DeviceBackend.
func (b *VaultBackend) AuditDeviceRefused(ctx context.Context, c Caller, action, tenant, object, reason string) error {
	return b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		return v.AuditDeviceRefused(ctx, action, tenant, object, "device unknown: user "+b.who(c)+": "+reason)
	})
}
