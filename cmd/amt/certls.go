package amt

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// CertLsOptions are the inputs of "amt cert ls".
type CertLsOptions struct {
	F *cmdutil.Factory
}

// NewCmdCertLs returns "amt cert ls".
func NewCmdCertLs(f *cmdutil.Factory, runF func(*CertLsOptions) error) *cobra.Command {
	opts := &CertLsOptions{F: f}
	return &cobra.Command{
		Use:   "ls",
		Short: "List provisioning certificates: name, subject, root fingerprint, expiry",
		Long: `List the tenant's provisioning certificates by name: the leaf's subject, the
root fingerprint (SHA-256 of the root certificate's DER, what AMT compares
with its trusted root hashes), the chain's earliest expiry and who may use it.
Never the key. Certificates expiring within 30 days get a warning on stderr.` + exitCodes,
		Example: `  $ keysmith amt cert ls
  $ keysmith amt cert ls --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return certLsRun(opts)
		},
	}
}

func certLsRun(opts *CertLsOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	list, err := v.ListAMTCerts(f.Ctx(), f.Config.Tenant)
	if err != nil {
		return amtHint(err, f)
	}
	for _, c := range list {
		warnExpiry(f, c)
	}
	if f.JSON() {
		return f.PrintJSON(list)
	}
	if len(list) == 0 {
		f.IO.Infof("no AMT certificates in tenant %s; add one with: keysmith amt cert add NAME --pfx FILE", f.Config.Tenant)
		return nil
	}
	t := cmdutil.NewTable(f.IO.Out, "NAME", "SUBJECT", "ROOT FINGERPRINT", "EXPIRES", "ALLOWED")
	for _, c := range list {
		allowed := "any device"
		if len(c.Allowed) > 0 {
			allowed = strings.Join(c.Allowed, ",")
		}
		t.Row(c.Name, c.Subject, c.RootFingerprint, c.NotAfter, allowed)
	}
	return t.Flush()
}
