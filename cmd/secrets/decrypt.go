package secrets

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/value"
)

// DecryptOptions are the inputs of "secrets decrypt".
type DecryptOptions struct {
	F     *cmdutil.Factory
	Value string
	Name  string
}

// NewCmdDecrypt returns "secrets decrypt".
func NewCmdDecrypt(f *cmdutil.Factory, runF func(*DecryptOptions) error) *cobra.Command {
	opts := &DecryptOptions{F: f}
	cmd := &cobra.Command{
		Use:   "decrypt [<value>] [--name <NAME>]",
		Short: "Decrypt one value and print the plaintext",
		Long: `Decrypt one <ENV>_ENC:... value (the argument, or standard input) and print the
plaintext exactly, with a newline added only on a terminal. A value bound to a
variable name needs --name. Values from the older Python design (Fernet,
<ENV>_ENC:gAAAA...) open too.`,
		Example: `  $ keysmith secrets decrypt 'DEV_ENC:AQE...'
  hunter2
  $ grep DB_PASSWORD_SECRET env_dev.env | cut -d= -f2- | keysmith secrets decrypt --name DB_PASSWORD_SECRET`,
		Args: cmdutil.RangeArgs(0, 1, "value"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Value = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return decryptRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "the variable name the value is bound to")
	return cmd
}

func decryptRun(opts *DecryptOptions) error {
	f := opts.F
	in, from := opts.Value, "the argument"
	if in == "" {
		b, err := f.ReadSecretInput(cmdutil.SecretInput{Prompt: "Value to decrypt: ", Example: "keysmith secrets decrypt"})
		if err != nil {
			return err
		}
		in, from = string(b), "standard input"
	}
	if n := len(strings.Split(strings.TrimSpace(in), "\n")); n > 1 {
		return cmdutil.WithHint(cmdutil.Usagef("%s holds %d lines: expected one value", from, n),
			"decrypt one value at a time, or a whole file with: keysmith secrets decrypt-file FILE")
	}
	// Check the framing and the environment before looking for a key, so a
	// value for another environment says so even where that key is absent.
	p, err := value.Parse(strings.TrimSpace(in))
	if err != nil {
		return decryptHint(err)
	}
	if p.Env != f.Config.Env {
		return decryptHint(&value.EnvError{Value: p.Env, Selected: f.Config.Env})
	}
	kr, err := f.Keyring(f.Config.Env, cmdutil.NoCreate)
	if err != nil {
		return err
	}
	pt, err := kr.OpenParsed(p, opts.Name)
	if err != nil {
		return decryptHint(err)
	}
	if f.JSON() {
		return f.PrintJSON(struct {
			Env  string `json:"env"`
			Name string `json:"name"`
			cmdutil.SecretValue
		}{kr.Env(), opts.Name, cmdutil.NewSecretValue(pt)})
	}
	return writePlain(f, pt)
}

// writePlain prints a secret exactly; a newline is added only on a terminal.
func writePlain(f *cmdutil.Factory, pt []byte) error {
	if _, err := f.IO.Out.Write(pt); err != nil {
		return err
	}
	if f.IO.OutTTY {
		_, err := f.IO.Out.Write([]byte("\n"))
		return err
	}
	return nil
}
