package secrets

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
)

// ResealOptions are the inputs of "secrets rekey" and "secrets migrate".
type ResealOptions struct {
	F      *cmdutil.Factory
	Files  []string
	DryRun bool
	pick   func(*value.Keyring) func(*value.Parsed) bool
	verb   string
}

// NewCmdRekey returns "secrets rekey".
func NewCmdRekey(f *cmdutil.Factory, runF func(*ResealOptions) error) *cobra.Command {
	opts := &ResealOptions{F: f, pick: secretfile.NotCurrent, verb: "re-encrypted"}
	cmd := &cobra.Command{
		Use:   "rekey <file>... [--dry-run]",
		Short: "Move values sealed under a retired key to the current key",
		Long: `After "keysmith key rotate", re-encrypt every value of the file's environment that
is sealed under a retired key, so that the retired key can later be removed with
"keysmith key retire". Every value is opened before any file is written; files
are rewritten atomically.`,
		Example: `  $ keysmith key rotate --env prod --key-file prod.keys
  $ keysmith secrets rekey -e prod --key-file prod.keys env_prod.env`,
		Args: cmdutil.MinArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return resealRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would change and write nothing")
	return cmd
}

// NewCmdMigrate returns "secrets migrate".
func NewCmdMigrate(f *cmdutil.Factory, runF func(*ResealOptions) error) *cobra.Command {
	opts := &ResealOptions{F: f, verb: "migrated",
		pick: func(*value.Keyring) func(*value.Parsed) bool { return secretfile.IsLegacy }}
	cmd := &cobra.Command{
		Use:   "migrate <file>... [--dry-run]",
		Short: "Rewrite values from the older Python design (Fernet) in the current format",
		Long: `Rewrite, in place, every <ENV>_ENC:gAAAA... value (a Fernet token written by the
older Python design) in keysmith's current format, bound to its variable name.
The legacy key derivation is configured per environment with legacy.<env>.salt
and legacy.<env>.kdf_input (docs/legacy.md). keysmith never writes Fernet.`,
		Example: `  $ keysmith secrets migrate env_dev.env env_int.env`,
		Args:    cmdutil.MinArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return resealRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "list what would change and write nothing")
	return cmd
}

func resealRun(opts *ResealOptions) error {
	type remaining struct {
		file   string
		values []secretfile.Change
	}
	var legacyLeft []remaining
	i := 0
	err := rewriteFiles(opts.F, opts.Files, opts.DryRun, opts.verb, cmdutil.NoCreate,
		func(ef *dotenv.File, kr *value.Keyring) ([]secretfile.Change, error) {
			path := opts.Files[i]
			i++
			if opts.verb == "re-encrypted" {
				// rekey leaves Fernet values alone (they name no key):
				// say so, or "key retire" would look safe when it is not.
				if left := secretfile.Legacy(ef, kr.Env()); len(left) > 0 {
					legacyLeft = append(legacyLeft, remaining{path, left})
				}
			}
			return secretfile.Reseal(ef, kr, opts.pick(kr))
		})
	if err != nil {
		return err
	}
	for _, r := range legacyLeft {
		first := r.values[0]
		if len(r.values) == 1 {
			opts.F.IO.Infof("%s: 1 legacy value remains (%s, line %d); keysmith secrets migrate moves it to the current key", r.file, first.Name, first.Line)
		} else {
			opts.F.IO.Infof("%s: %d legacy values remain (first %s, line %d); keysmith secrets migrate moves them to the current key", r.file, len(r.values), first.Name, first.Line)
		}
	}
	return nil
}
