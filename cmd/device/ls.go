package device

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// LsOptions are the inputs of "device ls".
type LsOptions struct {
	F    *cmdutil.Factory
	Role string
}

// NewCmdLs returns "device ls".
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{F: f}
	cmd := &cobra.Command{
		Use:   "ls [--role <role>]",
		Short: "List devices: name, ID, role, UUID, active keys",
		Long: `List the tenant's devices by name, optionally only those at --role: device
ID, current role, hardware UUID, number of active keys and when each was
created. --role must be one of the configured roles (config key "roles",
default server, releaser, backup-restore).
A --role that is not configured is a usage error (exit 2), not an empty
list.`,
		Example: `  $ keysmith device ls
  $ keysmith device ls --role releaser --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("role") {
				if err := checkRole(f, opts.Role); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Role, "role", "", "only devices at this role")
	return cmd
}

func lsRun(opts *LsOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	list, err := v.Devices(f.Ctx(), f.Config.Tenant, opts.Role)
	if err != nil {
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(list)
	}
	t := cmdutil.NewTable(f.IO.Out, "NAME", "DEVICE ID", "ROLE", "UUID", "KEYS", "CREATED")
	for _, d := range list {
		uuid := d.UUID
		if uuid == "" {
			uuid = "-"
		}
		t.Row(d.Name, d.ID, d.Role, uuid, fmt.Sprint(d.ActiveKeys), shortTime(d.CreatedAt))
	}
	return t.Flush()
}
