package device

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// ShowOptions are the inputs of "device show".
type ShowOptions struct {
	F      *cmdutil.Factory
	Device string
}

// NewCmdShow returns "device show".
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{F: f}
	return &cobra.Command{
		Use:   "show <device>",
		Short: "Show a device and its keys",
		Long: `Show a device, named by its ID, name or hardware UUID, and every key it has
had: key ID, fingerprint (lowercase hex SHA-256 of the DER SPKI), role,
status (active or revoked), origin (provisioned or enrolled) and when it was
created.`,
		Example: `  $ keysmith device show web-01
  $ keysmith device show dev_5d0c3a9e1b7f2468 --output json`,
		Args: cmdutil.ExactArgs(1, "device"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device = args[0]
			if runF != nil {
				return runF(opts)
			}
			return showRun(opts)
		},
	}
}

func showRun(opts *ShowOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	d, err := v.Device(f.Ctx(), f.Config.Tenant, opts.Device)
	if err != nil {
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(d)
	}
	uuid := d.UUID
	if uuid == "" {
		uuid = "-"
	}
	w := f.IO.Out
	fmt.Fprintf(w, "device:     %s\n", d.Name)
	fmt.Fprintf(w, "device ID:  %s\n", d.ID)
	fmt.Fprintf(w, "tenant:     %s\n", d.Tenant)
	fmt.Fprintf(w, "role:       %s\n", d.Role)
	fmt.Fprintf(w, "uuid:       %s\n", uuid)
	fmt.Fprintf(w, "created:    %s by %s\n\n", shortTime(d.CreatedAt), d.CreatedBy)
	t := cmdutil.NewTable(w, "KEY ID", "FINGERPRINT", "ROLE", "STATUS", "ORIGIN", "CREATED")
	for _, k := range d.Keys {
		status := k.Status
		if k.RevokedAt != "" {
			status += " " + shortTime(k.RevokedAt)
		}
		t.Row(k.KeyID, k.Fingerprint, k.Role, status, k.Origin, shortTime(k.CreatedAt))
	}
	return t.Flush()
}
