package device

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	vaultcmd "github.com/keysmith/keysmith/cmd/vault"
)

// SecretGetOptions are the inputs of "device secret get".
type SecretGetOptions struct {
	F      *cmdutil.Factory
	Device string
	Name   string
}

// NewCmdSecretGet returns "device secret get".
func NewCmdSecretGet(f *cmdutil.Factory, runF func(*SecretGetOptions) error) *cobra.Command {
	opts := &SecretGetOptions{F: f}
	return &cobra.Command{
		Use:   "get <device> <name>",
		Short: "Print a device secret",
		Long: `Print the latest version of a device secret exactly as stored: a newline is
added only when standard output is a terminal. Every read is audited.`,
		Example: `  $ keysmith device secret get web-01 AMT_PASSWORD`,
		Args:    cmdutil.ExactArgs(2, "device", "name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device, opts.Name = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return secretGetRun(opts)
		},
	}
}

func secretGetRun(opts *SecretGetOptions) error {
	f := opts.F
	v, err := vaultcmd.UnlockedVault(f)
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := v.GetDeviceSecret(f.Config.Tenant, opts.Device, opts.Name)
	if err != nil {
		return deviceHint(err, f)
	}
	defer clear(s.Value)
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": s.Tenant, "device": s.Device, "device_id": s.DeviceID, "name": s.Name,
			"version": s.Version, "value": string(s.Value), "source": s.Source, "updated_at": s.CreatedAt, "updated_by": s.CreatedBy})
	}
	if _, err := f.IO.Out.Write(s.Value); err != nil {
		return err
	}
	if f.IO.OutTTY {
		_, err = f.IO.Out.Write([]byte("\n"))
	}
	return err
}
