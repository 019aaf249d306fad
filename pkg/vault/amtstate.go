package vault

import (
	"fmt"
	"strings"

	"github.com/keysmith/keysmith/pkg/vault/store"
)

// checkAMTCertState compares a provisioning certificate row with the
// chain's newest amt-cert-add, amt-cert-rm or amt-cert-allow row about its
// name: a row the chain records as removed, or whose allowed list is not
// the one the chain's last decision left, is an older, validly MACed row
// put back (ErrTampered). Without this a removed certificate put back
// signs activations again, and a list narrowed since widens again.
func (o *op) checkAMTCertState(t store.Tenant, c store.AMTCert) error {
	r, err := o.lastAudit(t.Name, c.Name, []string{"amt-cert-add", "amt-cert-rm", "amt-cert-allow"}, nil)
	if err != nil || r == nil {
		return err
	}
	have := allowedSummary(splitAllowed(c.Allowed))
	var want string
	switch r.Action {
	case "amt-cert-rm":
		return fmt.Errorf("%w: AMT certificate %q in tenant %s exists, but the audit chain records its removal (audit row %d): the row was put back",
			ErrTampered, c.Name, t.Name, r.Seq)
	case "amt-cert-add":
		want = allowedSummary(nil)
	case "amt-cert-allow":
		const marker = "; allowed now: "
		i := strings.LastIndex(r.Detail, marker)
		if i < 0 {
			return fmt.Errorf("%w: audit row %d (amt-cert-allow of %q) does not say what is allowed now", ErrTampered, r.Seq, c.Name)
		}
		want = r.Detail[i+len(marker):]
	}
	if have != want {
		return fmt.Errorf("%w: AMT certificate %q in tenant %s may be used by %s, but the audit chain's last decision about it allows %s (audit row %d): an older row was put back",
			ErrTampered, c.Name, t.Name, have, want, r.Seq)
	}
	return nil
}
