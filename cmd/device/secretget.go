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
	Net    NetFlags // --server mode: the device the key proves reads its own secret
}

// NewCmdSecretGet returns "device secret get".
func NewCmdSecretGet(f *cmdutil.Factory, runF func(*SecretGetOptions) error) *cobra.Command {
	opts := &SecretGetOptions{F: f}
	cmd := &cobra.Command{
		Use:   "get {<device> <name> | <name> --server <addr> --key <key.pem>}",
		Short: "Print a device secret",
		Long: `Print the latest version of a device secret exactly as stored: a newline is
added only when standard output is a terminal. Every read is audited. With
--output json the value is "value" when it is UTF-8 text, else "value_base64"
(standard base64), as in "secrets decrypt".

With --server (or KEYSMITH_SERVER) it runs on the device: it reads the
secret NAME of the device whose key --key is (a PEM or the .pem.age file),
from "keysmith serve" over mutual TLS (or, with --auth challenge
--device-id ID, by a device session from a signed challenge, as "device
login" describes), never from a local vault; a device reads only its own
secrets. Exit status 7 when the server refuses the key, 5 when the device
has no such secret (or there is no device with --device-id).`,
		Example: `  $ keysmith device secret get web-01 AMT_PASSWORD
  $ keysmith device secret get AMT_PASSWORD --server keysmith.example:8443 --key device.key.pem`,
		Args: cmdutil.RangeArgs(1, 2, "device", "name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Net.Fill(f) {
				if len(args) != 1 {
					return cmdutil.WithHint(cmdutil.Usagef("with --server give only the secret name"), "the device is the one whose key --key is")
				}
				if err := opts.Net.check(f); err != nil {
					return err
				}
				opts.Name = args[0]
			} else {
				if len(args) != 2 {
					return cmdutil.WithHint(cmdutil.Usagef("give the device and the secret name"), "or read as the device itself with --server ADDR --key KEY.pem")
				}
				if cmd.Flags().Changed("auth") || cmd.Flags().Changed("device-id") {
					return cmdutil.WithHint(cmdutil.Usagef("--auth and --device-id need --server"), "they say how the device proves its key to a keysmith server")
				}
				opts.Device, opts.Name = args[0], args[1]
			}
			if runF != nil {
				return runF(opts)
			}
			return secretGetRun(opts)
		},
	}
	addNetFlags(cmd, &opts.Net)
	return cmd
}

// secretGetNet reads the caller device's own secret from the server.
func secretGetNet(opts *SecretGetOptions) error {
	f := opts.F
	c, err := opts.Net.client(f)
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := c.GetDeviceSecret(f.Ctx(), opts.Name)
	if err != nil {
		return opts.Net.fail(err)
	}
	defer clear(s.Value)
	if f.JSON() {
		return f.PrintJSON(struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
			cmdutil.SecretValue
			Source string `json:"source"`
		}{s.Name, s.Version, cmdutil.NewSecretValue(s.Value), s.Source})
	}
	if _, err := f.IO.Out.Write(s.Value); err != nil {
		return err
	}
	if f.IO.OutTTY {
		_, err = f.IO.Out.Write([]byte("\n"))
	}
	return err
}

func secretGetRun(opts *SecretGetOptions) error {
	f := opts.F
	if opts.Net.Server != "" {
		return secretGetNet(opts)
	}
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
