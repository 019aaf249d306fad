package amt

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// CertRmOptions are the inputs of "amt cert rm".
type CertRmOptions struct {
	F    *cmdutil.Factory
	Name string
}

// NewCmdCertRm returns "amt cert rm".
func NewCmdCertRm(f *cmdutil.Factory, runF func(*CertRmOptions) error) *cobra.Command {
	opts := &CertRmOptions{F: f}
	return &cobra.Command{
		Use:   "rm <name>",
		Short: "Remove a provisioning certificate and its sealed key",
		Long: `Remove a provisioning certificate with its sealed key (the row is zeroed on
disk where the store can). Devices can no longer get signatures with it; the
audit trail keeps the record.` + exitCodes,
		Example: `  $ keysmith amt cert rm intel-prov`,
		Args:    cmdutil.ExactArgs(1, "name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return certRmRun(opts)
		},
	}
}

func certRmRun(opts *CertRmOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	info, err := v.RemoveAMTCert(f.Ctx(), f.Config.Tenant, opts.Name)
	if err != nil {
		return amtHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": info.Tenant, "name": info.Name, "removed": true})
	}
	f.IO.Infof("removed AMT certificate %s from tenant %s", info.Name, info.Tenant)
	return nil
}
