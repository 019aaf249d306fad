package device

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// SecretLsOptions are the inputs of "device secret ls".
type SecretLsOptions struct {
	F      *cmdutil.Factory
	Device string
}

// NewCmdSecretLs returns "device secret ls".
func NewCmdSecretLs(f *cmdutil.Factory, runF func(*SecretLsOptions) error) *cobra.Command {
	opts := &SecretLsOptions{F: f}
	return &cobra.Command{
		Use:   "ls <device>",
		Short: "List a device's secrets, never values",
		Long: `List the device's secrets: name, latest version, when and by whom it was
written, and where it came from (generated:amt, report:<request_id>).`,
		Example: `  $ keysmith device secret ls web-01`,
		Args:    cmdutil.ExactArgs(1, "device"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device = args[0]
			if runF != nil {
				return runF(opts)
			}
			return secretLsRun(opts)
		},
	}
}

func secretLsRun(opts *SecretLsOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	list, err := v.DeviceSecrets(f.Ctx(), f.Config.Tenant, opts.Device)
	if err != nil {
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(list)
	}
	t := cmdutil.NewTable(f.IO.Out, "NAME", "VERSION", "UPDATED", "BY", "SOURCE")
	for _, s := range list {
		src := s.Source
		if src == "" {
			src = "-"
		}
		t.Row(s.Name, fmt.Sprint(s.Version), shortTime(s.CreatedAt), s.CreatedBy, src)
	}
	return t.Flush()
}
