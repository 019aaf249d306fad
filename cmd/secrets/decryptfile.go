package secrets

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/secretfile"
)

// DecryptFileOptions are the inputs of "secrets decrypt-file".
type DecryptFileOptions struct {
	F        *cmdutil.Factory
	File     string
	Out      string
	NoExpand bool
}

// DecryptedVar is one variable in the JSON of "secrets decrypt-file".
type DecryptedVar struct {
	Name string `json:"name"`
	cmdutil.SecretValue
	Line      int  `json:"line"`
	Encrypted bool `json:"encrypted"`
}

// NewCmdDecryptFile returns "secrets decrypt-file".
func NewCmdDecryptFile(f *cmdutil.Factory, runF func(*DecryptFileOptions) error) *cobra.Command {
	opts := &DecryptFileOptions{F: f}
	cmd := &cobra.Command{
		Use:   "decrypt-file <file> [-o <out>]",
		Short: "Write a .env file with every encrypted value decrypted",
		Long: `Decrypt every encrypted value of a .env file and write the result to standard
output or, with -o, to a new file created with mode 0600 (an existing file is
not overwritten). With --output json (and no -o) it prints the variables as a
JSON array of {name, value, line, encrypted} instead. The input file is never changed. Every value must open: a
value for another environment, under an unknown key, or changed by hand stops
the command before anything is written.

The JSON values are what "keysmith run" gives the app: $VAR, ${VAR:-default}
and the other forms of docs/dotenv.md are expanded from earlier variables of
the file, then the environment (--no-expand turns that off), a bare NAME line
takes its value from the environment, and a decrypted value is never
expanded. The file output keeps every plaintext line as it is, so it expands
the same way when read; decrypted values are written so they read back
literally.`,
		Example: `  $ keysmith secrets decrypt-file env_dev.env -o .env.local`,
		Args:    cmdutil.ExactArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return decryptFileRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write to this new file (mode 0600) instead of standard output")
	cmd.Flags().BoolVar(&opts.NoExpand, "no-expand", false, "with --output json: give values as written, without $VAR expansion")
	return cmd
}

func decryptFileRun(opts *DecryptFileOptions) error {
	f := opts.F
	ef, vars, err := f.OpenEnvFile(opts.File)
	if err != nil {
		return err
	}
	if f.JSON() && (opts.Out == "" || opts.Out == "-") {
		r := &secretfile.Resolver{Env: f.ExpansionEnv(), NoExpand: opts.NoExpand}
		resolved, err := cmdutil.ExpandVars(opts.File, r, ef, vars)
		if err != nil {
			return err
		}
		out := make([]DecryptedVar, 0, len(resolved))
		for _, v := range resolved {
			out = append(out, DecryptedVar{Name: v.Name, SecretValue: cmdutil.NewSecretValue([]byte(v.Value)), Line: v.Line, Encrypted: v.Encrypted})
		}
		return f.PrintJSON(out)
	}
	secretfile.Apply(ef, vars)
	if opts.Out == "" || opts.Out == "-" {
		_, err := f.IO.Out.Write(ef.Bytes())
		return err
	}
	if err := atomicfile.CreateExclusive(opts.Out, ef.Bytes(), 0o600); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return cmdutil.WithHint(fmt.Errorf("%q already exists", opts.Out), "remove it first, or choose another -o")
		}
		return err
	}
	f.IO.Infof("wrote %s", opts.Out)
	return nil
}
