package device

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
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
added only when standard output is a terminal. Every read is audited. With
--output json the value is "value" when it is UTF-8 text, else "value_base64"
(standard base64), as in "secrets decrypt".`,
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
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	s, err := v.GetDeviceSecret(f.Ctx(), f.Config.Tenant, opts.Device, opts.Name)
	if err != nil {
		return deviceHint(err, f)
	}
	defer clear(s.Value)
	if f.JSON() {
		return f.PrintJSON(struct {
			Tenant   string `json:"tenant"`
			Device   string `json:"device"`
			DeviceID string `json:"device_id"`
			Name     string `json:"name"`
			Version  int    `json:"version"`
			cmdutil.SecretValue
			Source    string `json:"source"`
			UpdatedAt string `json:"updated_at"`
			UpdatedBy string `json:"updated_by"`
		}{s.Tenant, s.Device, s.DeviceID, s.Name, s.Version, cmdutil.NewSecretValue(s.Value), s.Source, s.CreatedAt, s.CreatedBy})
	}
	if _, err := f.IO.Out.Write(s.Value); err != nil {
		return err
	}
	if f.IO.OutTTY {
		_, err = f.IO.Out.Write([]byte("\n"))
	}
	return err
}
