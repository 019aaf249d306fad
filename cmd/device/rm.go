package device

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// RmOptions are the inputs of "device rm".
type RmOptions struct {
	F      *cmdutil.Factory
	Device string
}

// NewCmdRm returns "device rm".
func NewCmdRm(f *cmdutil.Factory, runF func(*RmOptions) error) *cobra.Command {
	opts := &RmOptions{F: f}
	return &cobra.Command{
		Use:   "rm <device>",
		Short: "Remove a device with its keys, challenges and secrets",
		Long: `Remove a device, named by its ID, name or hardware UUID, with all its keys,
open challenges and secrets. The rows are zeroed on disk (secure_delete); the
audit trail keeps the record. Request IDs of reports applied to it stay
used.`,
		Example: `  $ keysmith device rm web-01`,
		Args:    cmdutil.ExactArgs(1, "device"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device = args[0]
			if runF != nil {
				return runF(opts)
			}
			return rmRun(opts)
		},
	}
}

func rmRun(opts *RmOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	d, err := v.RemoveDevice(f.Ctx(), f.Config.Tenant, opts.Device)
	if err != nil {
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": d.Tenant, "device": d.Name, "device_id": d.ID, "removed": true})
	}
	f.IO.Infof("removed device %s (%s) from tenant %s", d.Name, d.ID, d.Tenant)
	return nil
}
