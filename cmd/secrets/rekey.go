package secrets

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
)

// ResealOptions are the inputs of "secrets rekey" and "secrets migrate".
type ResealOptions struct {
	F           *cmdutil.Factory
	Files       []string
	DryRun      bool
	FromKeyEnv  string // --from-key-env: the variable holding the previous key
	FromKeyFile string // --from-key-file: a key file holding the previous keys
	pick        func(*value.Keyring) func(*value.Parsed) bool
	verb        string
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
are rewritten atomically.

For a key kept outside a key file (KEYSMITH_MASTER_KEY, the variable
APP_KEY_SYSVAR names, a key command), rotate it in its own store, then name the
previous key with --from-key-env VAR (a variable holding it) or --from-key-file
FILE (a key file, or a file holding one key): values sealed under it are opened
with it and sealed with the current key. It is never used to seal.

Legacy (Fernet) values name no key and are left alone: rekey says so, and
"keysmith secrets migrate" moves them.`,
		Example: `  $ keysmith key rotate --env prod --key-file prod.keys
  $ keysmith secrets rekey -e prod --key-file prod.keys env_prod.env

  # the prod key is in CONFIG_KEY (APP_KEY_SYSVAR=CONFIG_KEY), the old one now in OLD_CONFIG_KEY
  $ keysmith secrets rekey -e prod --from-key-env OLD_CONFIG_KEY env_prod.env`,
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
	addFromKeyFlags(cmd, opts)
	return cmd
}

func addFromKeyFlags(cmd *cobra.Command, opts *ResealOptions) {
	cmd.Flags().StringVar(&opts.FromKeyEnv, "from-key-env", "", "`VAR` holds the previous key: open values sealed under it")
	cmd.Flags().StringVar(&opts.FromKeyFile, "from-key-file", "", "a key `file` holding the previous keys: open values sealed under them")
	cmd.MarkFlagsMutuallyExclusive("from-key-env", "from-key-file")
}

// oldKeys reads --from-key-env / --from-key-file. A value that is not a
// key (not 32 bytes) is taken as a free-text key of the older tool when the
// config says legacy.<env>.kdf_input: text for some environment: it opens
// legacy values of those environments only (AddOldLegacyTexts).
func oldKeys(opts *ResealOptions) ([]masterkey.Key, error) {
	f := opts.F
	switch {
	case opts.FromKeyEnv != "":
		v := f.Getenv(opts.FromKeyEnv)
		if v == "" {
			return nil, fmt.Errorf("--from-key-env: %s is not set: %w", opts.FromKeyEnv, cmdutil.ErrNotFound)
		}
		k, err := masterkey.Parse(v)
		if err != nil {
			return nil, legacyText(f, "--from-key-env "+opts.FromKeyEnv, v, err)
		}
		return []masterkey.Key{k}, nil
	case opts.FromKeyFile != "":
		kf, err := keysource.ReadFile(opts.FromKeyFile)
		if err != nil {
			var insecure *keysource.InsecureError
			if errors.As(err, &insecure) {
				return nil, cmdutil.WithHint(err, fmt.Sprintf("chmod 600 %q", insecure.Path))
			}
			if errors.Is(err, masterkey.ErrKeyFile) || errors.Is(err, masterkey.ErrInvalidKey) {
				// mode already checked by ReadFile; one line of free text?
				if data, rerr := os.ReadFile(opts.FromKeyFile); rerr == nil {
					text := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
					if text != "" && !strings.ContainsAny(text, "\r\n") {
						return nil, legacyText(f, fmt.Sprintf("--from-key-file %q", opts.FromKeyFile), text, err)
					}
				}
			}
			return nil, err
		}
		if k, _, single := kf.Single(); single {
			return []masterkey.Key{k}, nil
		}
		var keys []masterkey.Key
		for _, e := range kf.Entries() {
			keys = append(keys, e.Key)
		}
		return keys, nil
	}
	return nil, nil
}

// legacyText accepts text that is not a key as a free-text legacy key, or
// returns err (the key's parse error) with a hint saying how to.
func legacyText(f *cmdutil.Factory, flag, text string, err error) error {
	if !errors.Is(err, masterkey.ErrInvalidKey) && !errors.Is(err, masterkey.ErrKeyFile) {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if len(f.LegacyTextEnvs()) == 0 {
		return &cmdutil.Error{Err: fmt.Errorf("%s: %w", flag, err), Code: cmdutil.ExitUsage,
			Hints: []string{"a free-text key of the older tool (not 32 bytes) opens legacy values only when the config says legacy.<env>.kdf_input: text (docs/legacy.md)"}}
	}
	f.AddOldLegacyTexts(text)
	f.IO.Infof("%s is not a 32-byte key: using it as free text to open legacy values of %s only", flag, strings.Join(f.LegacyTextEnvs(), ", "))
	return nil
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
	addFromKeyFlags(cmd, opts)
	return cmd
}

func resealRun(opts *ResealOptions) error {
	old, err := oldKeys(opts)
	if err != nil {
		return err
	}
	opts.F.AddOldKeys(old...)
	type remaining struct {
		file   string
		values []secretfile.Change
	}
	var legacyLeft []remaining
	i := 0
	err = rewriteFiles(opts.F, opts.Files, opts.DryRun, opts.verb, cmdutil.NoCreate,
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
