package secrets

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/secretfile"
	"github.com/keysmith/keysmith/pkg/value"
)

// CheckOptions are the inputs of "secrets check".
type CheckOptions struct {
	F      *cmdutil.Factory
	Files  []string
	EnvSet bool
}

// CheckProblem is one finding, as printed by --output json.
type CheckProblem struct {
	File string `json:"file"`
	secretfile.Problem
}

// CheckReport is the JSON of "secrets check".
type CheckReport struct {
	Files    int            `json:"files"`
	Problems []CheckProblem `json:"problems"`
	Opened   []string       `json:"keys_checked"` // environments whose values were opened
	Skipped  []string       `json:"keys_missing"` // environments whose key was not available
}

// NewCmdCheck returns "secrets check".
func NewCmdCheck(f *cmdutil.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{F: f}
	return &cobra.Command{
		Use:   "check <file>...",
		Short: "Fail if .env files hold plaintext secrets or values that do not belong",
		Long: `The CI and pre-commit gate. For each file, report as "file:line: NAME: reason":
  - a secret value in plaintext,
  - a value for another environment than the file's (from -e, or the file name:
    env_prod.env, .env.prod),
  - a malformed value,
  - when the environment's key is available, a value that does not open.
Values are never printed. Exits 6 if anything was found. A missing key is not
an error: the open check is skipped and said so on stderr.

Pre-commit hook (.git/hooks/pre-commit, or see docs/pre-commit.md):
  keysmith secrets check $(git diff --cached --name-only -- '*.env' '.env.*')`,
		Example: `  $ keysmith secrets check env_*.env
  env_prod.env:7: DB_PASSWORD_SECRET: secret value is plaintext (run: keysmith secrets encrypt-file)`,
		Args: cmdutil.MinArgs(1, "file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
}

func checkRun(opts *CheckOptions) error {
	f := opts.F
	m, err := f.Matcher()
	if err != nil {
		return err
	}
	rep := CheckReport{Problems: []CheckProblem{}, Opened: []string{}, Skipped: []string{}}
	tried := map[string]*value.Keyring{}
	for _, path := range opts.Files {
		ef, err := cmdutil.ReadEnvFile(path)
		var syntax *dotenv.SyntaxError
		if errors.As(err, &syntax) {
			// A file that does not parse is a finding like the others: the
			// rest of this run still checks the other files.
			rep.Files++
			rep.Problems = append(rep.Problems, CheckProblem{File: path,
				Problem: secretfile.Problem{Line: syntax.Line, Kind: secretfile.KindSyntax, Reason: "syntax error: " + syntax.Msg + " (see docs/dotenv.md)"}})
			continue
		} else if err != nil {
			return err
		}
		rep.Files++
		env, err := f.FileEnv(path)
		if err != nil {
			return err
		}
		kr, ok := tried[env]
		if !ok {
			kr, err = f.Keyring(env, cmdutil.NoCreate)
			if err != nil && !missingKey(err) {
				// A key source that is configured but broken (insecure or
				// malformed key file, failing key command) is an error, not
				// a reason to skip the open check.
				return err
			}
			if err != nil {
				kr = nil
				rep.Skipped = append(rep.Skipped, env)
				f.IO.Warnf("no key for %s (%v): values were not opened", env, err)
			} else {
				rep.Opened = append(rep.Opened, env)
			}
			tried[env] = kr
		}
		for _, p := range secretfile.Check(ef, env, m, kr) {
			rep.Problems = append(rep.Problems, CheckProblem{File: path, Problem: p})
		}
	}
	if f.JSON() {
		if err := f.PrintJSON(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			if p.Name == "" {
				fmt.Fprintf(f.IO.Out, "%s:%d: %s\n", p.File, p.Line, p.Reason)
			} else {
				fmt.Fprintf(f.IO.Out, "%s:%d: %s: %s\n", p.File, p.Line, p.Name, p.Reason)
			}
		}
	}
	if n := len(rep.Problems); n > 0 {
		return fmt.Errorf("%s in %s: %w", cmdutil.Plural(n, "problem"), cmdutil.Plural(rep.Files, "file"), cmdutil.ErrProblems)
	}
	if !f.JSON() {
		f.IO.Infof("%s checked, no problems", cmdutil.Plural(rep.Files, "file"))
	}
	return nil
}

// missingKey reports whether err only says that env has no key here (no
// source configured has one), the one key error that check tolerates. A
// configured source that does not exist (a --key-file or key command path
// with a typo) is an error: the gate must not pass unopened values.
func missingKey(err error) bool {
	return errors.Is(err, keysource.ErrNoKey)
}

func itoa(n int) string { return strconv.Itoa(n) }
