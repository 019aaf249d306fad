package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sync"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/value"
)

var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`) })

// SetOptions are the inputs of "secrets set".
type SetOptions struct {
	F        *cmdutil.Factory
	File     string
	Name     string
	Value    string
	ValueSet bool
	Literal  bool // the value holds $VAR, ${VAR} or $$ and is meant as written
}

// NewCmdSet returns "secrets set".
func NewCmdSet(f *cmdutil.Factory, runF func(*SetOptions) error) *cobra.Command {
	opts := &SetOptions{F: f}
	cmd := &cobra.Command{
		Use:   "set <file> <NAME> [<value>] [--literal]",
		Short: "Set one variable of a .env file, encrypting it if it is a secret",
		Long: `Set one variable. Only its line changes (or one line is appended). A secret name
(ending _SECRET, or matching config secret_patterns) is encrypted for the
file's environment and bound to the name; other names are written as given.

The value comes from standard input, a hidden prompt on a terminal, or the
argument (which puts it in the process list and shell history and warns on a
terminal). On the terminal, Enter ends a typed value; a pasted value of several
lines (a PEM key, a JSON credential) is read whole, up to Ctrl-D, and nothing
of it is left on the terminal. A file that does not exist is created with mode
0600.

A file that already holds values of its environment keeps one key: the secret
is sealed only under the key ID those values use (exit 3 otherwise, naming
the key ID and how to get it), and no dev key is created for it.

The value is stored exactly as given: it is never expanded (a decrypted
value never is, and a plaintext one is quoted so that it reads back as
given). A value with $VAR, ${VAR} or $$ is refused unless --literal, since
in a .env file those would be expanded (docs/dotenv.md).`,
		Example: `  $ keysmith secrets set env_dev.env API_KEY_SECRET
  Value for API_KEY_SECRET: 
  $ printf %s "$TOKEN" | keysmith secrets set env_prod.env API_KEY_SECRET`,
		Args: cmdutil.RangeArgs(2, 3, "file", "NAME", "value"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File, opts.Name = args[0], args[1]
			if len(args) == 3 {
				opts.Value, opts.ValueSet = args[2], true
			}
			if runF != nil {
				return runF(opts)
			}
			return setRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Literal, "literal", false, "store a value with $VAR, ${VAR} or $$ as written, unexpanded")
	return cmd
}

func setRun(opts *SetOptions) error {
	f := opts.F
	// Check the file parses and the key before asking for the secret; the
	// file is read again under the lock below.
	before, err := readOrEmpty(opts.File)
	if err != nil {
		return err
	}
	m, err := f.Matcher()
	if err != nil {
		return err
	}
	if !validName().MatchString(opts.Name) { // before reading the secret
		return cmdutil.Usagef("%q is not a valid variable name (want [A-Za-z_][A-Za-z0-9_.-]*)", opts.Name)
	}
	var kr *value.Keyring
	if m.IsSecret(opts.Name) {
		env, err := f.FileEnv(opts.File)
		if err != nil {
			return err
		}
		if kr, err = fileKeyring(f, opts.File, before, env, cmdutil.CreateDev); err != nil {
			return err
		}
	}
	pt, err := f.ReadSecretInput(cmdutil.SecretInput{Value: opts.Value, ValueSet: opts.ValueSet, ValueArg: "<value>",
		Prompt: fmt.Sprintf("Value for %s: ", opts.Name), Example: fmt.Sprintf("keysmith secrets set %s %s", opts.File, opts.Name)})
	if err != nil {
		return err
	}
	if !opts.Literal && dotenv.HasExpansion(string(pt)) {
		return &cmdutil.Error{Code: cmdutil.ExitUsage,
			Err:   fmt.Errorf("the value for %s holds $VAR, ${VAR} or $$, which a .env file expands, but keysmith stores values literally", opts.Name),
			Hints: []string{"to store it as given, add --literal; to have it expanded, write it into the file unencrypted (docs/dotenv.md)"}}
	}
	stored, encrypted := string(pt), false
	if kr != nil {
		if stored, err = kr.Seal(opts.Name, pt); err != nil {
			return err
		}
		encrypted = true
	}
	// Read, change one line and write under the directory's lock: a
	// concurrent "secrets set" on the same file keeps its line too.
	unlock, err := atomicfile.LockDir(opts.File)
	if err != nil {
		return err
	}
	defer unlock()
	ef, err := readOrEmpty(opts.File)
	if err != nil {
		return err
	}
	if err := ef.Set(opts.Name, stored); err != nil {
		return err
	}
	if err := cmdutil.WriteEnvFile(opts.File, ef); err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"file": opts.File, "name": opts.Name, "encrypted": encrypted})
	}
	state := "plaintext"
	if encrypted {
		state = "encrypted"
	}
	f.IO.Infof("%s: set %s (%s)", opts.File, opts.Name, state)
	return nil
}

// readOrEmpty reads a .env file; a file that does not exist is empty (set
// creates it).
func readOrEmpty(path string) (*dotenv.File, error) {
	ef, err := cmdutil.ReadEnvFile(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, cmdutil.ErrNotFound) {
		return dotenv.Parse(nil)
	}
	return ef, err
}
