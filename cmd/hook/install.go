package hook

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
)

// InstallOptions are the inputs of "hook install".
type InstallOptions struct {
	F     *cmdutil.Factory
	Force bool
}

// marker is the second line of every hook keysmith writes: a hook that has it
// is keysmith's own and may be rewritten; any other hook is left alone.
const marker = "# keysmith pre-commit hook"

// Script is the pre-commit hook "hook install" writes.
const Script = `#!/bin/sh
` + marker + ` (written by "keysmith hook install"; docs/pre-commit.md).
# Refuses a commit whose staged .env files hold a plaintext secret, a value of
# another environment or a value that does not open. It checks what is staged,
# not the working tree. Skip it once with: git commit --no-verify
if ! command -v keysmith >/dev/null 2>&1; then
	echo "pre-commit: keysmith is not on PATH: install it, or commit with --no-verify" >&2
	exit 1
fi
exec keysmith secrets check --staged
`

// NewCmdInstall returns "hook install".
func NewCmdInstall(f *cmdutil.Factory, runF func(*InstallOptions) error) *cobra.Command {
	opts := &InstallOptions{F: f}
	cmd := &cobra.Command{
		Use:   "install [--force]",
		Short: "Install the pre-commit hook in the current git repository",
		Long: `Write the repository's pre-commit hook (.git/hooks/pre-commit, or under
core.hooksPath) so that every commit runs "keysmith secrets check --staged".
Running it again changes nothing, and updates a hook an older keysmith wrote.

A pre-commit hook that keysmith did not write is never replaced silently: the
command fails and says how to call the check from that hook. --force replaces
it, keeping the old one as pre-commit.bak. With the pre-commit framework, add
the check to .pre-commit-config.yaml instead (docs/pre-commit.md).`,
		Example: `  $ keysmith hook install
  keysmith: installed the pre-commit hook .git/hooks/pre-commit: it runs keysmith secrets check --staged`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return installRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace a pre-commit hook keysmith did not write (kept as pre-commit.bak)")
	return cmd
}

func installRun(opts *InstallOptions) error {
	f := opts.F
	if err := cmdutil.GitCheckRepo("keysmith hook install"); err != nil {
		return err
	}
	path, err := cmdutil.GitPath("hooks/pre-commit")
	if err != nil {
		return err
	}
	action := "installed"
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case bytes.Equal(old, []byte(Script)):
		action = "unchanged"
	case isOurs(old):
		action = "updated"
	case !opts.Force:
		return cmdutil.WithHint(fmt.Errorf("%s already exists and is not keysmith's hook: %w", path, fs.ErrExist),
			"to keep it, add this line to it: keysmith secrets check --staged || exit 1",
			"to replace it (keeping it as pre-commit.bak): keysmith hook install --force")
	default:
		backup := path + ".bak"
		if err := atomicfile.CreateExclusive(backup, old, 0o755); err != nil {
			return fmt.Errorf("keeping the old hook as %s: %w", backup, err)
		}
		action = "replaced"
		f.IO.Infof("kept the old pre-commit hook as %s", backup)
	}
	if action != "unchanged" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(path, []byte(Script), 0o755); err != nil {
			return err
		}
		if err := os.Chmod(path, 0o755); err != nil { // a replaced hook kept its own mode
			return err
		}
	}
	if f.JSON() {
		return f.PrintJSON(map[string]string{"hook": path, "action": action})
	}
	if action == "unchanged" {
		f.IO.Infof("the pre-commit hook %s is already installed", path)
		return nil
	}
	f.IO.Infof("%s the pre-commit hook %s: it runs keysmith secrets check --staged", action, path)
	return nil
}

func isOurs(b []byte) bool {
	lines := bytes.SplitN(b, []byte("\n"), 3)
	return len(lines) >= 2 && bytes.HasPrefix(lines[1], []byte(marker))
}
