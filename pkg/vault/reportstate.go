package vault

import (
	"fmt"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// checkReportNotApplied fails (ErrTampered) when the audit chain records
// that request requestID was applied to device d although no report row
// holds it: keysmith never deletes report rows (device rm keeps them), so
// the row was deleted in the store, and applying the request again would
// put its older values (an older AMT password) back when the device
// retries it. The scan reads the device's device-report rows, newest
// first; devices send few reports.
func (o *op) checkReportNotApplied(t store.Tenant, d store.Device, requestID string) error {
	tag := "device " + d.ID + ", request " + requestID + ","
	r, err := o.lastAudit(t.Name, d.Name, []string{"device-report"}, func(r *store.AuditRow) bool {
		return strings.HasPrefix(r.Detail, tag)
	})
	if err != nil || r == nil {
		return err
	}
	return fmt.Errorf("%w: request_id %q was applied to device %s (audit row %d), but its report row is gone: it was deleted outside keysmith, and applying it again would put its values back",
		ErrTampered, requestID, d.Name, r.Seq)
}
