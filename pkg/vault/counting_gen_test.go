package vault

// Generated from the Tx interfaces of pkg/vault/store/store.go (every
// method, so that a new one fails to compile here until it is counted).

import (
	"context"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

func (w *countingTx) Meta(ctx context.Context) (map[string][]byte, error) {
	w.n.add("Meta")
	return w.tx.Meta(ctx)
}

func (w *countingTx) SetMeta(ctx context.Context, key string, value []byte) error {
	w.n.add("SetMeta")
	return w.tx.SetMeta(ctx, key, value)
}

func (w *countingTx) Tenant(ctx context.Context, name string) (store.Tenant, error) {
	w.n.add("Tenant")
	return w.tx.Tenant(ctx, name)
}

func (w *countingTx) TenantByID(ctx context.Context, id int64) (store.Tenant, error) {
	w.n.add("TenantByID")
	return w.tx.TenantByID(ctx, id)
}

func (w *countingTx) Tenants(ctx context.Context) ([]store.Tenant, error) {
	w.n.add("Tenants")
	return w.tx.Tenants(ctx)
}

func (w *countingTx) InsertTenant(ctx context.Context, t store.Tenant) (int64, error) {
	w.n.add("InsertTenant")
	return w.tx.InsertTenant(ctx, t)
}

func (w *countingTx) SetTenantDEKVersion(ctx context.Context, id int64, version int) error {
	w.n.add("SetTenantDEKVersion")
	return w.tx.SetTenantDEKVersion(ctx, id, version)
}

func (w *countingTx) LockTenant(ctx context.Context, id int64) error {
	w.n.add("LockTenant")
	return w.tx.LockTenant(ctx, id)
}

func (w *countingTx) DEK(ctx context.Context, tenantID int64, version int) (store.DEK, error) {
	w.n.add("DEK")
	return w.tx.DEK(ctx, tenantID, version)
}

func (w *countingTx) DEKs(ctx context.Context) ([]store.DEK, error) {
	w.n.add("DEKs")
	return w.tx.DEKs(ctx)
}

func (w *countingTx) MaxDEKVersion(ctx context.Context, tenantID int64) (int, error) {
	w.n.add("MaxDEKVersion")
	return w.tx.MaxDEKVersion(ctx, tenantID)
}

func (w *countingTx) InsertDEK(ctx context.Context, d store.DEK) error {
	w.n.add("InsertDEK")
	return w.tx.InsertDEK(ctx, d)
}

func (w *countingTx) UpdateDEK(ctx context.Context, tenantID int64, version int, wrapped []byte) error {
	w.n.add("UpdateDEK")
	return w.tx.UpdateDEK(ctx, tenantID, version, wrapped)
}

func (w *countingTx) DeleteDEKsExcept(ctx context.Context, tenantID int64, keep int) error {
	w.n.add("DeleteDEKsExcept")
	return w.tx.DeleteDEKsExcept(ctx, tenantID, keep)
}

func (w *countingTx) Secret(ctx context.Context, tenantID int64, name string, version int) (store.Secret, error) {
	w.n.add("Secret")
	return w.tx.Secret(ctx, tenantID, name, version)
}

func (w *countingTx) LatestSecrets(ctx context.Context, tenantID int64, prefix string, values bool) ([]store.Secret, error) {
	w.n.add("LatestSecrets")
	return w.tx.LatestSecrets(ctx, tenantID, prefix, values)
}

func (w *countingTx) LatestOf(ctx context.Context, tenantID int64, names []string) ([]store.Secret, error) {
	w.n.add("LatestOf")
	return w.tx.LatestOf(ctx, tenantID, names)
}

func (w *countingTx) SecretHistory(ctx context.Context, tenantID int64, name string) ([]store.Secret, error) {
	w.n.add("SecretHistory")
	return w.tx.SecretHistory(ctx, tenantID, name)
}

func (w *countingTx) SecretsPage(ctx context.Context, tenantID, afterID int64, limit int) ([]store.Secret, error) {
	w.n.add("SecretsPage")
	return w.tx.SecretsPage(ctx, tenantID, afterID, limit)
}

func (w *countingTx) SecretCounts(ctx context.Context, tenantID int64) (live, versions int, err error) {
	w.n.add("SecretCounts")
	return w.tx.SecretCounts(ctx, tenantID)
}

func (w *countingTx) InsertSecret(ctx context.Context, s store.Secret) error {
	w.n.add("InsertSecret")
	return w.tx.InsertSecret(ctx, s)
}

func (w *countingTx) UpdateSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error {
	w.n.add("UpdateSecretSeal")
	return w.tx.UpdateSecretSeal(ctx, id, dekVersion, sealed)
}

func (w *countingTx) RemoveSecret(ctx context.Context, tenantID int64, name, at string) (int, error) {
	w.n.add("RemoveSecret")
	return w.tx.RemoveSecret(ctx, tenantID, name, at)
}

func (w *countingTx) PurgeSecret(ctx context.Context, tenantID int64, name string) (int, error) {
	w.n.add("PurgeSecret")
	return w.tx.PurgeSecret(ctx, tenantID, name)
}

func (w *countingTx) DeviceBy(ctx context.Context, tenantID int64, field, value string) (store.Device, error) {
	w.n.add("DeviceBy")
	return w.tx.DeviceBy(ctx, tenantID, field, value)
}

func (w *countingTx) DeviceByRef(ctx context.Context, ref int64) (store.Device, error) {
	w.n.add("DeviceByRef")
	return w.tx.DeviceByRef(ctx, ref)
}

func (w *countingTx) Devices(ctx context.Context, tenantID int64, role string) ([]store.Device, error) {
	w.n.add("Devices")
	return w.tx.Devices(ctx, tenantID, role)
}

func (w *countingTx) InsertDevice(ctx context.Context, d store.Device) (int64, error) {
	w.n.add("InsertDevice")
	return w.tx.InsertDevice(ctx, d)
}

func (w *countingTx) UpdateDevice(ctx context.Context, ref int64, role string, mac []byte) error {
	w.n.add("UpdateDevice")
	return w.tx.UpdateDevice(ctx, ref, role, mac)
}

func (w *countingTx) DeleteDevice(ctx context.Context, ref int64) error {
	w.n.add("DeleteDevice")
	return w.tx.DeleteDevice(ctx, ref)
}

func (w *countingTx) DeviceRowCounts(ctx context.Context, ref int64) (keys, secrets int, err error) {
	w.n.add("DeviceRowCounts")
	return w.tx.DeviceRowCounts(ctx, ref)
}

func (w *countingTx) DeviceKeys(ctx context.Context, deviceRef int64) ([]store.DeviceKey, error) {
	w.n.add("DeviceKeys")
	return w.tx.DeviceKeys(ctx, deviceRef)
}

func (w *countingTx) DeviceKeyFind(ctx context.Context, tenantID int64, keyID, fingerprint string) (store.DeviceKey, error) {
	w.n.add("DeviceKeyFind")
	return w.tx.DeviceKeyFind(ctx, tenantID, keyID, fingerprint)
}

func (w *countingTx) InsertDeviceKey(ctx context.Context, k store.DeviceKey) (int64, error) {
	w.n.add("InsertDeviceKey")
	return w.tx.InsertDeviceKey(ctx, k)
}

func (w *countingTx) UpdateDeviceKey(ctx context.Context, id int64, status, revokedAt string, mac []byte) error {
	w.n.add("UpdateDeviceKey")
	return w.tx.UpdateDeviceKey(ctx, id, status, revokedAt, mac)
}

func (w *countingTx) InsertChallenge(ctx context.Context, c store.Challenge) error {
	w.n.add("InsertChallenge")
	return w.tx.InsertChallenge(ctx, c)
}

func (w *countingTx) Challenge(ctx context.Context, deviceRef int64, nonce []byte) (store.Challenge, error) {
	w.n.add("Challenge")
	return w.tx.Challenge(ctx, deviceRef, nonce)
}

func (w *countingTx) ConsumeChallenge(ctx context.Context, nonce []byte, at, by string) (bool, error) {
	w.n.add("ConsumeChallenge")
	return w.tx.ConsumeChallenge(ctx, nonce, at, by)
}

func (w *countingTx) DeviceSecret(ctx context.Context, deviceRef int64, name string) (store.DeviceSecret, error) {
	w.n.add("DeviceSecret")
	return w.tx.DeviceSecret(ctx, deviceRef, name)
}

func (w *countingTx) LatestDeviceSecrets(ctx context.Context, deviceRef int64) ([]store.DeviceSecret, error) {
	w.n.add("LatestDeviceSecrets")
	return w.tx.LatestDeviceSecrets(ctx, deviceRef)
}

func (w *countingTx) DeviceSecretsOf(ctx context.Context, tenantID int64) ([]store.DeviceSecret, error) {
	w.n.add("DeviceSecretsOf")
	return w.tx.DeviceSecretsOf(ctx, tenantID)
}

func (w *countingTx) MaxDeviceSecretVersion(ctx context.Context, deviceRef int64, name string) (int, error) {
	w.n.add("MaxDeviceSecretVersion")
	return w.tx.MaxDeviceSecretVersion(ctx, deviceRef, name)
}

func (w *countingTx) InsertDeviceSecret(ctx context.Context, s store.DeviceSecret) error {
	w.n.add("InsertDeviceSecret")
	return w.tx.InsertDeviceSecret(ctx, s)
}

func (w *countingTx) UpdateDeviceSecretSeal(ctx context.Context, id int64, dekVersion int, sealed []byte) error {
	w.n.add("UpdateDeviceSecretSeal")
	return w.tx.UpdateDeviceSecretSeal(ctx, id, dekVersion, sealed)
}

func (w *countingTx) Report(ctx context.Context, tenantID int64, requestID string) (store.Report, error) {
	w.n.add("Report")
	return w.tx.Report(ctx, tenantID, requestID)
}

func (w *countingTx) Reports(ctx context.Context) ([]store.Report, error) {
	w.n.add("Reports")
	return w.tx.Reports(ctx)
}

func (w *countingTx) InsertReport(ctx context.Context, r store.Report) error {
	w.n.add("InsertReport")
	return w.tx.InsertReport(ctx, r)
}

func (w *countingTx) Token(ctx context.Context, id string) (store.Token, error) {
	w.n.add("Token")
	return w.tx.Token(ctx, id)
}

func (w *countingTx) Tokens(ctx context.Context) ([]store.Token, error) {
	w.n.add("Tokens")
	return w.tx.Tokens(ctx)
}

func (w *countingTx) InsertToken(ctx context.Context, t store.Token) error {
	w.n.add("InsertToken")
	return w.tx.InsertToken(ctx, t)
}

func (w *countingTx) DecideToken(ctx context.Context, id, status, at, by string, mac []byte) error {
	w.n.add("DecideToken")
	return w.tx.DecideToken(ctx, id, status, at, by, mac)
}

func (w *countingTx) TouchToken(ctx context.Context, id, at string) error {
	w.n.add("TouchToken")
	return w.tx.TouchToken(ctx, id, at)
}

func (w *countingTx) SetTokenMAC(ctx context.Context, id string, mac []byte) error {
	w.n.add("SetTokenMAC")
	return w.tx.SetTokenMAC(ctx, id, mac)
}

func (w *countingTx) Grant(ctx context.Context, tenantID int64, service, name string) (store.Grant, error) {
	w.n.add("Grant")
	return w.tx.Grant(ctx, tenantID, service, name)
}

func (w *countingTx) GrantsOf(ctx context.Context, tenantID int64, service string, names []string) ([]store.Grant, error) {
	w.n.add("GrantsOf")
	return w.tx.GrantsOf(ctx, tenantID, service, names)
}

func (w *countingTx) Grants(ctx context.Context, tenantID int64) ([]store.Grant, error) {
	w.n.add("Grants")
	return w.tx.Grants(ctx, tenantID)
}

func (w *countingTx) PutGrant(ctx context.Context, g store.Grant) error {
	w.n.add("PutGrant")
	return w.tx.PutGrant(ctx, g)
}

func (w *countingTx) TouchGrant(ctx context.Context, tenantID int64, service, name, at string) error {
	w.n.add("TouchGrant")
	return w.tx.TouchGrant(ctx, tenantID, service, name, at)
}

func (w *countingTx) TouchGrants(ctx context.Context, tenantID int64, service string, names []string, at string) error {
	w.n.add("TouchGrants")
	return w.tx.TouchGrants(ctx, tenantID, service, names, at)
}

func (w *countingTx) Request(ctx context.Context, id int64) (store.Request, error) {
	w.n.add("Request")
	return w.tx.Request(ctx, id)
}

func (w *countingTx) PendingRequest(ctx context.Context, tenantID int64, service, name string) (store.Request, error) {
	w.n.add("PendingRequest")
	return w.tx.PendingRequest(ctx, tenantID, service, name)
}

func (w *countingTx) Requests(ctx context.Context, tenantID int64, pendingOnly bool) ([]store.Request, error) {
	w.n.add("Requests")
	return w.tx.Requests(ctx, tenantID, pendingOnly)
}

func (w *countingTx) InsertRequest(ctx context.Context, r store.Request) (id int64, created bool, err error) {
	w.n.add("InsertRequest")
	return w.tx.InsertRequest(ctx, r)
}

func (w *countingTx) DecideRequest(ctx context.Context, id int64, status, at, by string, mac []byte) error {
	w.n.add("DecideRequest")
	return w.tx.DecideRequest(ctx, id, status, at, by, mac)
}

func (w *countingTx) Stub(ctx context.Context, tenantID int64, name string) (store.Stub, error) {
	w.n.add("Stub")
	return w.tx.Stub(ctx, tenantID, name)
}

func (w *countingTx) Stubs(ctx context.Context, tenantID int64) ([]store.Stub, error) {
	w.n.add("Stubs")
	return w.tx.Stubs(ctx, tenantID)
}

func (w *countingTx) OpenStub(ctx context.Context, s store.Stub) (bool, error) {
	w.n.add("OpenStub")
	return w.tx.OpenStub(ctx, s)
}

func (w *countingTx) FillStub(ctx context.Context, tenantID int64, name, at string) error {
	w.n.add("FillStub")
	return w.tx.FillStub(ctx, tenantID, name, at)
}

func (w *countingTx) AuditTail(ctx context.Context) ([]store.AuditRow, error) {
	w.n.add("AuditTail")
	return w.tx.AuditTail(ctx)
}

func (w *countingTx) AppendAudit(ctx context.Context, rows []store.AuditRow) error {
	w.n.add("AppendAudit")
	return w.tx.AppendAudit(ctx, rows)
}

func (w *countingTx) AuditScan(ctx context.Context, f store.AuditFilter, fn func(store.AuditRow) error) error {
	w.n.add("AuditScan")
	return w.tx.AuditScan(ctx, f, fn)
}

func (w *countingTx) AMTCert(ctx context.Context, tenantID int64, name string) (store.AMTCert, error) {
	w.n.add("AMTCert")
	return w.tx.AMTCert(ctx, tenantID, name)
}

func (w *countingTx) AMTCerts(ctx context.Context, tenantID int64) ([]store.AMTCert, error) {
	w.n.add("AMTCerts")
	return w.tx.AMTCerts(ctx, tenantID)
}

func (w *countingTx) InsertAMTCert(ctx context.Context, c store.AMTCert) error {
	w.n.add("InsertAMTCert")
	return w.tx.InsertAMTCert(ctx, c)
}

func (w *countingTx) UpdateAMTCertSeal(ctx context.Context, tenantID int64, name string, dekVersion int, sealed []byte) error {
	w.n.add("UpdateAMTCertSeal")
	return w.tx.UpdateAMTCertSeal(ctx, tenantID, name, dekVersion, sealed)
}

func (w *countingTx) SetAMTCertAllowed(ctx context.Context, tenantID int64, name, allowed string, mac []byte) error {
	w.n.add("SetAMTCertAllowed")
	return w.tx.SetAMTCertAllowed(ctx, tenantID, name, allowed, mac)
}

func (w *countingTx) DeleteAMTCert(ctx context.Context, tenantID int64, name string) (bool, error) {
	w.n.add("DeleteAMTCert")
	return w.tx.DeleteAMTCert(ctx, tenantID, name)
}

func (w *countingTx) Counts(ctx context.Context) (store.Counts, error) {
	w.n.add("Counts")
	return w.tx.Counts(ctx)
}
