package key

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/masterkey"
)

// ExportOptions are the inputs of "key export".
type ExportOptions struct {
	F      *cmdutil.Factory
	Env    string
	Output string // -o/--output-file; "" is stdout
	Bare   bool
	Age    cmdutil.AgeSecretOptions
}

// ExportResult is what "key export -o FILE --output json" prints.
type ExportResult struct {
	Env     string   `json:"env"`
	KeyID   string   `json:"key_id"`
	Retired []string `json:"retired_key_ids"`
	File    string   `json:"file"`
	Format  string   `json:"format"` // key-lines, bare, age
}

// NewCmdExport returns "key export".
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{F: f}
	cmd := &cobra.Command{
		Use:   "export [--env <env>] [-o <file>] [--bare | --passphrase | -r <recipient>...]",
		Short: "Hand an environment's key to a teammate",
		Long: `Write the environment's keys as key-file lines ("dev = ...", then any
"dev.retired = ..." lines, as written), for "keysmith key import" on another
machine. The lines go to standard output only when it is not a terminal, or to
a new file (-o) created with mode 0600; an existing file is never replaced.

With --passphrase (KEYSMITH_PASSPHRASE, a hidden prompt asked twice, or
standard input; at least 12 characters) or -r/--recipient (age recipients,
repeatable), the lines are sealed in an ASCII-armored age file instead, which
may go to a terminal or a chat: "keysmith key import" and "age -d" open it.

--bare writes only the current key, for an environment variable or a secret
store (see "Rotating a key held in an environment variable" in docs/keys.md).

Exit status: 0 written, 1 the output file exists, 2 usage (a terminal as the
destination of a plain key), 5 the environment has no key, 7 insecure key file.`,
		Example: `  $ keysmith key export -e dev --passphrase -o dev-key.age
  $ keysmith key export -e dev -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p > dev-key.age
  $ keysmith key export -e dev | ssh teammate@host keysmith key import -`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Env = f.Config.Env
			if opts.Age.Passphrase && len(opts.Age.Recipients) > 0 {
				return cmdutil.Usagef("--passphrase and -r/--recipient cannot be used together")
			}
			if opts.Bare && (opts.Age.Passphrase || len(opts.Age.Recipients) > 0) {
				return cmdutil.Usagef("--bare writes the key itself: it cannot be used with --passphrase or -r/--recipient")
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output-file", "o", "", "write to a new file (mode 0600) instead of standard output")
	cmd.Flags().BoolVar(&opts.Bare, "bare", false, "write only the current key, not key-file lines")
	cmd.Flags().BoolVar(&opts.Age.Passphrase, "passphrase", false, "seal the lines in an age file under a passphrase")
	cmd.Flags().StringArrayVarP(&opts.Age.Recipients, "recipient", "r", nil, "seal the lines in an age file for this age recipient (repeatable)")
	return cmd
}

func exportRun(opts *ExportOptions) error {
	f := opts.F
	sealed := opts.Age.Passphrase || len(opts.Age.Recipients) > 0
	if opts.Output == "" && !sealed && f.IO.OutTTY {
		return cmdutil.WithHint(cmdutil.Usagef("refusing to print a master key to a terminal"),
			"write it to a new file (-o FILE), pipe it, or seal it with --passphrase or -r/--recipient")
	}
	if opts.Output == "" && f.JSON() {
		return cmdutil.Usagef("--output json needs -o/--output-file: standard output holds the key")
	}
	res, err := f.Keys(opts.Env, cmdutil.NoCreate)
	if err != nil {
		return err
	}
	data, format := keyLines(opts.Env, res.Current, res.Retired), "key-lines"
	if opts.Bare {
		data, format = []byte(res.Current.Text()+"\n"), "bare"
	}
	if sealed {
		if data, err = f.SealAge(data, opts.Age); err != nil {
			return err
		}
		format = "age"
	}
	if opts.Output == "" {
		_, err := f.IO.Out.Write(data)
		return err
	}
	if err := atomicfile.CreateExclusive(opts.Output, data, 0o600); errors.Is(err, fs.ErrExist) {
		return cmdutil.WithHint(fmt.Errorf("%q already exists", opts.Output), "name a new file: a key file is never replaced by an export")
	} else if err != nil {
		return err
	}
	out := ExportResult{Env: opts.Env, KeyID: res.Current.ID().String(), Retired: []string{}, File: opts.Output, Format: format}
	for _, k := range res.Retired {
		out.Retired = append(out.Retired, k.ID().String())
	}
	if f.JSON() {
		return f.PrintJSON(out)
	}
	what := "the " + opts.Env + " key (ID " + out.KeyID + ")"
	if n := len(res.Retired); n > 0 && !opts.Bare {
		what += " and " + cmdutil.Plural(n, "retired key")
	}
	f.IO.Infof("wrote %s to %q", what, opts.Output)
	return nil
}

// keyLines renders keys as key-file lines, each key as it was written (the
// legacy KDF may use the text).
func keyLines(env string, current masterkey.Key, retired []masterkey.Key) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s = %s\n", env, current.Text())
	for _, k := range retired {
		fmt.Fprintf(&b, "%s%s = %s\n", env, masterkey.RetiredSuffix, k.Text())
	}
	return []byte(b.String())
}
