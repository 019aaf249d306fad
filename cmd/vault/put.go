package vault

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// PutOptions are the inputs of "vault put".
type PutOptions struct {
	F           *cmdutil.Factory
	Name        string
	Value       string
	ValueSet    bool
	FromFile    string
	Description string
	// DescriptionSet: --description was given, even as "" (which clears
	// it); without it the latest version's description is kept.
	DescriptionSet bool
}

// NewCmdPut returns "vault put".
func NewCmdPut(f *cmdutil.Factory, runF func(*PutOptions) error) *cobra.Command {
	opts := &PutOptions{F: f}
	cmd := &cobra.Command{
		Use:   "put <NAME> [--from-file <file> | --value <value>] [--description <text>]",
		Short: "Store a secret as a new version",
		Long: `Store a secret in the selected tenant. Each put adds a version; older versions
stay readable with "vault get --version N".

The value is read from standard input (one trailing newline is removed), from
a hidden prompt on a terminal, from --from-file (read exactly, byte for byte)
or from --value, which puts the secret in the process list and shell history
and warns on a terminal.

Without --description the new version keeps the latest version's
description; --description "" clears it.`,
		Example: `  $ printf %s "$AMT_PASSWORD" | keysmith vault put AMT_PASSWORD --tenant acme
  $ keysmith vault put JWT_SIGNING_KEY --from-file jwt.pem --description "api tokens"`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.ValueSet = cmd.Flags().Changed("value")
			opts.DescriptionSet = cmd.Flags().Changed("description")
			if opts.ValueSet && opts.FromFile != "" {
				return cmdutil.Usagef("--value and --from-file cannot be used together")
			}
			if runF != nil {
				return runF(opts)
			}
			return putRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Value, "value", "", "the value (visible in the process list: prefer stdin)")
	cmd.Flags().StringVar(&opts.FromFile, "from-file", "", "read the value from this file, exactly")
	cmd.Flags().StringVar(&opts.Description, "description", "", "what the secret is for, stored in clear (default: keep the latest version's)")
	return cmd
}

func putRun(opts *PutOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	pt, err := f.ReadSecretInput(cmdutil.SecretInput{Value: opts.Value, ValueSet: opts.ValueSet, File: opts.FromFile,
		Prompt: fmt.Sprintf("Value of %s: ", opts.Name), Example: "keysmith vault put " + opts.Name})
	if err != nil {
		return err
	}
	defer clear(pt)
	item := vault.Item{Name: opts.Name, Value: pt, Description: opts.Description, ClearDescription: opts.DescriptionSet && opts.Description == ""}
	vers, err := v.PutMany(f.Ctx(), f.Config.Tenant, []vault.Item{item}, nil)
	if err != nil {
		return f.SecretHint(err)
	}
	ver := vers[0]
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": f.Config.Tenant, "name": opts.Name, "version": ver})
	}
	f.IO.Infof("stored %s version %d in tenant %s", opts.Name, ver, f.Config.Tenant)
	return nil
}
