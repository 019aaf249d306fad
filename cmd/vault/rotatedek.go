package vault

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// RotateDEKOptions are the inputs of "vault rotate-dek".
type RotateDEKOptions struct {
	F *cmdutil.Factory
}

// NewCmdRotateDEK returns "vault rotate-dek".
func NewCmdRotateDEK(f *cmdutil.Factory, runF func(*RotateDEKOptions) error) *cobra.Command {
	opts := &RotateDEKOptions{F: f}
	return &cobra.Command{
		Use:   "rotate-dek [--tenant <tenant>]",
		Short: "Give a tenant a new data key and re-seal its secrets",
		Long: `Make a new random data key for the tenant, re-seal every version of every one
of its secrets under it and delete the old data key, all in one transaction:
killing the process at any moment leaves a vault where every secret opens
under the old key or the new. Shows progress on a terminal.`,
		Example: `  $ keysmith vault rotate-dek --tenant acme`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return rotateDEKRun(opts)
		},
	}
}

func rotateDEKRun(opts *RotateDEKOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	prog := newProgress(f, "re-sealing")
	res, err := v.RotateDEK(f.Ctx(), f.Config.Tenant, prog.update)
	prog.done()
	if err != nil {
		return f.SecretHint(err)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": f.Config.Tenant, "dek_version": res.DEKVersion, "resealed": res.Secrets, "resealed_device_secrets": res.DeviceSecrets})
	}
	msg := fmt.Sprintf("tenant %s has data key version %d; re-sealed %s", f.Config.Tenant, res.DEKVersion, cmdutil.Plural(res.Secrets, "version"))
	if res.DeviceSecrets > 0 {
		msg += fmt.Sprintf(" and %s", cmdutil.Plural(res.DeviceSecrets, "device secret version"))
	}
	f.IO.Infof("%s", msg)
	return nil
}
