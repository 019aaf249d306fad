package device

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
)

// SecretSetOptions are the inputs of "device secret set".
type SecretSetOptions struct {
	F        *cmdutil.Factory
	Device   string
	Name     string
	Value    string
	ValueSet bool
	Generate string
}

// NewCmdSecretSet returns "device secret set".
func NewCmdSecretSet(f *cmdutil.Factory, runF func(*SecretSetOptions) error) *cobra.Command {
	opts := &SecretSetOptions{F: f}
	cmd := &cobra.Command{
		Use:   "set <device> <name> [--value <value> | --value - | --generate amt]",
		Short: "Store a device secret as a new version",
		Long: `Store a secret of the device (ID, name or UUID) as a new version.

The value is read from standard input with --value - or without --value (one
trailing newline removed; a hidden prompt on a terminal), or taken from
--value VALUE, which puts it in the process list. --generate amt makes a
random 16-character Intel AMT password (upper, lower, digit and special
characters, none of : , ") and stores it without printing it: read it with
"device secret get". A value for AMT_PASSWORD or MEBX_PASSWORD (any case)
must follow the AMT password rules (docs/device-format.md §9): 8 to 32
printable ASCII characters with a lowercase and an uppercase letter, a digit
and a special character other than _ and space, none of : , "; one that
does not is refused (exit 2).`,
		Example: `  $ keysmith device secret set web-01 AMT_PASSWORD --generate amt
  $ printf %s "$PSK" | keysmith device secret set web-01 WIFI_PSK --value -`,
		Args: cmdutil.ExactArgs(2, "device", "name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device, opts.Name = args[0], args[1]
			opts.ValueSet = cmd.Flags().Changed("value")
			if opts.ValueSet && opts.Generate != "" {
				return cmdutil.Usagef("--value and --generate cannot be used together")
			}
			if opts.Generate != "" && opts.Generate != "amt" {
				return cmdutil.Usagef("--generate knows only \"amt\", not %q", opts.Generate)
			}
			if runF != nil {
				return runF(opts)
			}
			return secretSetRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Value, "value", "", "the value, or - for standard input")
	cmd.Flags().StringVar(&opts.Generate, "generate", "", "generate the value: amt (an Intel AMT password)")
	return cmd
}

func secretSetRun(opts *SecretSetOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	var val []byte
	source := ""
	switch {
	case opts.Generate == "amt":
		p, err := devicecred.GenerateAMTPassword(devicecred.AMTPasswordDefaultLen)
		if err != nil {
			return err
		}
		val, source = []byte(p), "generated:amt"
	default:
		// The shared secret-input path: --value (warned about on a
		// terminal), else a hidden prompt on a terminal, else standard input.
		val, err = f.ReadSecretInput(cmdutil.SecretInput{
			Value:    opts.Value,
			ValueSet: opts.ValueSet && opts.Value != "-",
			Prompt:   fmt.Sprintf("Value of %s for %s: ", opts.Name, opts.Device),
			Example:  "keysmith device secret set DEVICE NAME --value -",
		})
		if errors.Is(err, cmdutil.ErrNoInput) {
			return cmdutil.WithHint(err, "or generate an AMT password with --generate amt")
		} else if err != nil {
			return err
		}
	}
	defer clear(val)
	ver, err := v.SetDeviceSecret(f.Ctx(), f.Config.Tenant, opts.Device, opts.Name, val, source)
	if err != nil {
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": f.Config.Tenant, "device": opts.Device, "name": opts.Name, "version": ver, "generated": source != ""})
	}
	what := "stored"
	if source != "" {
		what = "generated and stored"
	}
	f.IO.Infof("%s %s version %d for device %s", what, opts.Name, ver, opts.Device)
	return nil
}
