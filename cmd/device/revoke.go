package device

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// RevokeOptions are the inputs of "device revoke".
type RevokeOptions struct {
	F   *cmdutil.Factory
	Key string
}

// NewCmdRevoke returns "device revoke".
func NewCmdRevoke(f *cmdutil.Factory, runF func(*RevokeOptions) error) *cobra.Command {
	opts := &RevokeOptions{F: f}
	return &cobra.Command{
		Use:   "revoke <key>",
		Short: "Revoke a device key by key ID or fingerprint",
		Long: `Revoke a key, named by its key ID or its full fingerprint. A revoked key stays
listed by "device show" but no longer verifies a challenge. Revoking a
revoked key changes nothing and succeeds.`,
		Example: `  $ keysmith device revoke key_8c1f2e3d4a5b6c7d
  $ keysmith device revoke 3f2a9c81d0e4...(64 hex digits)`,
		Args: cmdutil.ExactArgs(1, "key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key = args[0]
			if runF != nil {
				return runF(opts)
			}
			return revokeRun(opts)
		},
	}
}

func revokeRun(opts *RevokeOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	k, err := v.RevokeDeviceKey(f.Ctx(), f.Config.Tenant, opts.Key)
	if err != nil {
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(k)
	}
	f.IO.Infof("key %s (fingerprint %s) of device %s is revoked since %s", k.KeyID, k.Fingerprint, k.Device, k.RevokedAt)
	return nil
}
