package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// PutOptions are the inputs of "vault put".
type PutOptions struct {
	F           *cmdutil.Factory
	Name        string
	Value       string
	ValueSet    bool
	FromFile    string
	Description string
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
and warns on a terminal.`,
		Example: `  $ printf %s "$AMT_PASSWORD" | keysmith vault put AMT_PASSWORD --tenant acme
  $ keysmith vault put JWT_SIGNING_KEY --from-file jwt.pem --description "api tokens"`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			opts.ValueSet = cmd.Flags().Changed("value")
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
	cmd.Flags().StringVar(&opts.Description, "description", "", "what the secret is for (stored in clear)")
	return cmd
}

func putRun(opts *PutOptions) error {
	f := opts.F
	v, err := UnlockedVault(f)
	if err != nil {
		return err
	}
	defer v.Close()
	pt, err := readSecret(f, opts.ValueSet, opts.Value, opts.FromFile, fmt.Sprintf("Value of %s: ", opts.Name))
	if err != nil {
		return err
	}
	defer clear(pt)
	ver, err := v.Put(f.Config.Tenant, opts.Name, pt, opts.Description)
	if err != nil {
		return secretHint(err, f, opts.Name)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"tenant": f.Config.Tenant, "name": opts.Name, "version": ver})
	}
	f.IO.Infof("stored %s version %d in tenant %s", opts.Name, ver, f.Config.Tenant)
	return nil
}

// readSecret takes a secret from --from-file (exactly), --value (warning on
// a terminal), a hidden prompt on a terminal, or standard input.
func readSecret(f *cmdutil.Factory, set bool, v, file, prompt string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--from-file %q: %w", file, cmdutil.ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		if len(b) == 0 {
			return nil, cmdutil.Usagef("--from-file %q is empty", file)
		}
		return b, nil
	}
	if set {
		if f.IO.InTTY || f.IO.ErrTTY {
			f.IO.Warnf("--value puts the secret in the process list and shell history; prefer standard input")
		}
		if v == "" {
			return nil, cmdutil.Usagef("--value is empty")
		}
		return []byte(v), nil
	}
	b, err := f.IO.ReadSecret(prompt)
	if errors.Is(err, cmdutil.ErrNoInput) {
		return nil, cmdutil.WithHint(&cmdutil.UsageError{Err: err}, "pipe the value in: printf %s \"$VALUE\" | keysmith vault put NAME", "or use --from-file FILE")
	}
	return b, err
}
