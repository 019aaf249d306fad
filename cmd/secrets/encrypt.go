package secrets

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// EncryptOptions are the inputs of "secrets encrypt".
type EncryptOptions struct {
	F        *cmdutil.Factory
	Name     string
	Value    string
	ValueSet bool
}

// NewCmdEncrypt returns "secrets encrypt".
func NewCmdEncrypt(f *cmdutil.Factory, runF func(*EncryptOptions) error) *cobra.Command {
	opts := &EncryptOptions{F: f}
	cmd := &cobra.Command{
		Use:   "encrypt [--name <NAME>] [--value <value>]",
		Short: "Encrypt one value for the selected environment",
		Long: `Encrypt one value and print it as <ENV>_ENC:... on one line.

The value is read from standard input (one trailing newline is removed) or,
on a terminal, from a hidden prompt (Enter ends a typed value; a pasted value
of several lines is read whole, up to Ctrl-D). --value puts the secret in the process
list and shell history and warns on a terminal. --name binds the variable
name: the value then opens only under that name (as the file commands do).

The first use of environment dev with no key anywhere creates a dev key in the
default key file; other environments never get a key silently.`,
		Example: `  $ echo -n 'hunter2' | keysmith secrets encrypt --name DB_PASSWORD_SECRET
  DEV_ENC:AQE...
  $ keysmith secrets encrypt -e prod < secret.txt`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ValueSet = cmd.Flags().Changed("value")
			if runF != nil {
				return runF(opts)
			}
			return encryptRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "bind the value to this variable name")
	cmd.Flags().StringVar(&opts.Value, "value", "", "the value (visible in the process list: prefer stdin)")
	return cmd
}

func encryptRun(opts *EncryptOptions) error {
	f := opts.F
	pt, err := f.ReadSecretInput(cmdutil.SecretInput{Value: opts.Value, ValueSet: opts.ValueSet,
		Prompt: "Value to encrypt: ", Example: "keysmith secrets encrypt"})
	if err != nil {
		return err
	}
	kr, err := f.Keyring(f.Config.Env, cmdutil.CreateDev)
	if err != nil {
		return err
	}
	out, err := kr.Seal(opts.Name, pt)
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]string{"env": kr.Env(), "key_id": kr.CurrentID().String(), "name": opts.Name, "value": out})
	}
	_, err = fmt.Fprintln(f.IO.Out, out)
	return err
}
