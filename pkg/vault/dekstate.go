package vault

import (
	"fmt"

	"github.com/keysmith/keysmith/pkg/seal"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// checkDEKVersion fails (ErrTampered) when the tenant's current data key
// version is older than the newest rotate-dek of the tenant in the audit
// chain: the tenants row and a retired data key's row were put back after
// "vault rotate-dek", so new values would be sealed under the key the
// rotation retired (the one an operator rotates away from when it may have
// leaked).
func (o *op) checkDEKVersion(t store.Tenant) error {
	r, err := o.lastAudit(t.Name, t.Name, []string{"rotate-dek"}, nil)
	if err != nil || r == nil {
		return err
	}
	if want := versionIn(r.Detail, "DEK version "); t.DEKVersion < want {
		return fmt.Errorf("%w: tenant %s seals under data key version %d, but the audit chain records its rotation to version %d (audit row %d): the tenant and data key rows were put back",
			ErrTampered, t.Name, t.DEKVersion, want, r.Seq)
	}
	return nil
}

// sealingDEK is the tenant's current data key for sealing new values,
// after checkDEKVersion.
func (o *op) sealingDEK(t store.Tenant) (*seal.AEAD, error) {
	if err := o.checkDEKVersion(t); err != nil {
		return nil, err
	}
	return o.dek(t.ID, t.DEKVersion)
}
