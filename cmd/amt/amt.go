// Package amt implements "keysmith amt": Intel AMT provisioning
// certificates stored in the vault, their limits, and activation
// signatures made without the private key leaving the vault (docs/amt.md).
package amt

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// expiryWarning is how long before expiry add and ls warn.
const expiryWarning = 30 * 24 * time.Hour

const exitCodes = `
Exit status: 0 success, 1 failure (a certificate name in use), 2 usage (a bad
flag, nonce, PEM or PFX content), 3 wrong PFX password or tampered vault data,
5 a file, tenant, certificate or device that does not exist, 7 a device the
certificate is not allowed for.`

// NewCmdAMT returns the "amt" group.
func NewCmdAMT(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "amt <command>",
		Short: "Intel AMT provisioning certificates and activation signatures",
		Long: `An operator stores a provisioning certificate (chain and private key) once
per tenant; the key is sealed under the tenant's data key and never leaves the
vault. Devices get activation signatures over the network (RPC SignActivation),
operators locally with "keysmith amt sign". See docs/amt.md.` + exitCodes,
		Example: `  $ keysmith amt cert add intel-prov --pfx provisioning.pfx --password-file pfx.pass
  $ keysmith amt cert ls
  $ keysmith amt cert allow intel-prov --role kiosk
  $ keysmith amt sign --cert intel-prov --fw-nonce "$FW_NONCE"`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, true)
	cert := &cobra.Command{
		Use:   "cert <command>",
		Short: "Add, list, limit and remove provisioning certificates",
		Args:  cmdutil.NoArgsGroup,
		RunE:  cmdutil.ShowHelp,
	}
	cert.AddCommand(NewCmdCertAdd(f, nil), NewCmdCertLs(f, nil), NewCmdCertRm(f, nil), NewCmdCertAllow(f, nil, false), NewCmdCertAllow(f, nil, true))
	cmd.AddCommand(cert, NewCmdSign(f, nil))
	return cmd
}

// amtHint adds what to do next to the core's errors.
func amtHint(err error, f *cmdutil.Factory) error {
	tenant := f.Config.Tenant
	switch {
	case errors.Is(err, vault.ErrNoAMTCert):
		return cmdutil.WithHint(err, fmt.Sprintf("list certificates with: keysmith amt cert ls --tenant %s", tenant))
	case errors.Is(err, vault.ErrAMTCertExists):
		return cmdutil.WithHint(err, "remove it first with: keysmith amt cert rm NAME, or choose another name")
	case errors.Is(err, vault.ErrNoDevice):
		return cmdutil.WithHint(err, fmt.Sprintf("list devices with: keysmith device ls --tenant %s", tenant))
	case errors.Is(err, vault.ErrNoTenant):
		return cmdutil.WithHint(err, "list tenants with: keysmith vault tenant ls")
	case errors.Is(err, vault.ErrInvalidName):
		return &cmdutil.UsageError{Err: err}
	case errors.Is(err, vault.ErrTampered):
		return cmdutil.WithHint(err, "the vault was changed outside keysmith; check it with: keysmith vault verify")
	}
	return err
}

func warnExpiry(f *cmdutil.Factory, c vault.AMTCertInfo) {
	now := time.Now()
	if c.ExpiresWithin(now, 0) {
		f.IO.Warnf("AMT certificate %q expired on %s", c.Name, c.NotAfter)
	} else if c.ExpiresWithin(now, expiryWarning) {
		f.IO.Warnf("AMT certificate %q expires on %s (in %d days); renew it", c.Name, c.NotAfter, int(time.Until(c.Expiry()).Hours()/24))
	}
}
