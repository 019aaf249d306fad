package vault

import (
	"fmt"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// checkDeviceNotRemoved fails when the audit chain records the removal
// (device-rm) of the device d: its row was put back after "device rm".
// Device IDs are never reused, so no later row makes it current again. A
// device put back without keys cannot sign, but without this check it
// would still take reports and device secrets (docs/vault.md, "State
// against the chain").
func (o *op) checkDeviceNotRemoved(t store.Tenant, d store.Device) error {
	prefix := "device " + d.ID + ","
	r, err := o.lastAudit(t.Name, d.Name, []string{"device-rm"}, func(r *store.AuditRow) bool {
		return strings.HasPrefix(r.Detail, prefix)
	})
	if err != nil || r == nil {
		return err
	}
	return fmt.Errorf("%w: device %s (%s) exists, but the audit chain records the removal of device %s (audit row %d): the device row was put back",
		ErrTampered, d.Name, d.ID, d.Name, r.Seq)
}
