package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

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
	Staged bool // check the staged content of the files (git index), not the working tree
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
	cmd := &cobra.Command{
		Use:   "check {<file>... | --staged [<path>...]}",
		Short: "Fail if .env files hold plaintext secrets or values that do not belong",
		Long: `The CI and pre-commit gate. For each file, report as "file:line: NAME: reason":
  - a secret value in plaintext,
  - a value for another environment than the file's (from -e, or the file name:
    env_prod.env, .env.prod),
  - a malformed value, or a file that does not parse,
  - when the environment's key is available, a value that does not open.
Values are never printed. Exits 6 if anything was found. A missing key is not
an error: the open check is skipped and said so on stderr. A file that does not
exist is reported after the others are checked (exit 5).

--staged checks what the next commit would contain (the git index), not the
working tree: every staged .env file (.env, .env.*, *.env, *.env.*, in any
directory), or only the given paths. Files the commit deletes are skipped, and
a commit with no .env file passes (exit 0).

Pre-commit hook: keysmith hook install (or see docs/pre-commit.md); it runs
  keysmith secrets check --staged`,
		Example: `  $ keysmith secrets check env_*.env
  env_prod.env:7: DB_PASSWORD_SECRET: secret value is plaintext (run: keysmith secrets encrypt-file)
  $ keysmith secrets check --staged`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.Staged {
				return nil
			}
			return cmdutil.MinArgs(1, "file")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Staged, "staged", false, "check the staged content (git index) of the .env files the next commit adds or changes")
	return cmd
}

// checkSource is one file to check: its name and how to read it.
type checkSource struct {
	name string
	read func() ([]byte, error)
}

func checkRun(opts *CheckOptions) error {
	f := opts.F
	m, err := f.Matcher()
	if err != nil {
		return err
	}
	var sources []checkSource
	if opts.Staged {
		if sources, err = stagedSources(opts.Files); err != nil {
			return err
		}
		if len(sources) == 0 {
			if f.JSON() {
				return f.PrintJSON(CheckReport{Problems: []CheckProblem{}, Opened: []string{}, Skipped: []string{}})
			}
			f.IO.Infof("no staged .env files to check")
			return nil
		}
	} else {
		for _, path := range opts.Files {
			sources = append(sources, checkSource{path, func() ([]byte, error) { return os.ReadFile(path) }})
		}
	}
	rep := CheckReport{Problems: []CheckProblem{}, Opened: []string{}, Skipped: []string{}}
	tried := map[string]*value.Keyring{}
	var missing []string
	for _, src := range sources {
		data, err := src.read()
		if errors.Is(err, fs.ErrNotExist) {
			// Check the other files first: their findings are what the
			// user needs, the missing file is reported at the end.
			missing = append(missing, src.name)
			continue
		} else if err != nil {
			return err
		}
		rep.Files++
		// A line that does not parse is a finding like the others; the
		// rest of the file and the other files are still checked.
		ef, syntaxErrs := dotenv.ParseAll(data)
		for _, syntax := range syntaxErrs {
			rep.Problems = append(rep.Problems, CheckProblem{File: src.name,
				Problem: secretfile.Problem{Line: syntax.Line, Kind: secretfile.KindSyntax, Reason: "syntax error: " + syntax.Msg + " (see docs/dotenv.md)"}})
		}
		env, err := f.FileEnv(src.name)
		if err != nil {
			return err
		}
		kr, ok := tried[env]
		if !ok && !secretfile.HasEncrypted(ef) {
			// Nothing to open: no key needed, and no warning that it is missing.
			kr, ok = nil, true
		}
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
			rep.Problems = append(rep.Problems, CheckProblem{File: src.name, Problem: p})
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
	if len(missing) > 0 {
		found := ""
		if n := len(rep.Problems); n > 0 {
			found = fmt.Sprintf(" (and %s in %s, listed above)", cmdutil.Plural(n, "problem"), cmdutil.Plural(rep.Files, "file"))
		}
		return fmt.Errorf("%s%s: %w", quoteAll(missing), found, cmdutil.ErrNotFound)
	}
	if n := len(rep.Problems); n > 0 {
		return fmt.Errorf("%s in %s: %w", cmdutil.Plural(n, "problem"), cmdutil.Plural(rep.Files, "file"), cmdutil.ErrProblems)
	}
	if !f.JSON() {
		f.IO.Infof("%s checked, no problems", cmdutil.Plural(rep.Files, "file"))
	}
	return nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// stagedSources are the staged .env files (or, with paths, those of them
// that are staged), read from the index. Symbolic links and submodules have
// no .env content of their own and are skipped.
func stagedSources(paths []string) ([]checkSource, error) {
	if err := cmdutil.GitCheckRepo("--staged"); err != nil {
		return nil, err
	}
	staged, err := cmdutil.GitStaged(paths...)
	if err != nil {
		return nil, err
	}
	var files []cmdutil.StagedFile
	for _, sf := range staged {
		if strings.HasPrefix(sf.Mode, "100") && (len(paths) > 0 || IsEnvFileName(sf.Path)) {
			files = append(files, sf)
		}
	}
	blobs, err := cmdutil.GitBlobs(files)
	if err != nil {
		return nil, err
	}
	out := make([]checkSource, len(files))
	for i, sf := range files {
		out[i] = checkSource{sf.Path, func() ([]byte, error) { return blobs[i], nil }}
	}
	return out, nil
}

// IsEnvFileName reports whether a file name is one of a .env file's: .env,
// .env.<anything>, <anything>.env, or <anything>.env.<anything>
// (env_prod.env.bak), in any directory.
func IsEnvFileName(p string) bool {
	base := path.Base(filepath.ToSlash(p))
	return base == ".env" || strings.HasPrefix(base, ".env.") || strings.HasSuffix(base, ".env") || strings.Contains(base, ".env.")
}

// missingKey reports whether err only says that env has no key here (no
// source configured has one), the one key error that check tolerates. A
// configured source that does not exist (a --key-file or key command path
// with a typo) is an error: the gate must not pass unopened values.
func missingKey(err error) bool {
	return errors.Is(err, keysource.ErrNoKey)
}

func itoa(n int) string { return strconv.Itoa(n) }
