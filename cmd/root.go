// Package cmd is keysmith's command tree. Commands are thin: they parse
// flags, call the libraries under pkg/ and print. Main is the one place where
// errors become messages and exit codes (docs/exit-codes.md).
package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	accesscmd "github.com/keysmith/keysmith/cmd/access"
	amtcmd "github.com/keysmith/keysmith/cmd/amt"
	"github.com/keysmith/keysmith/cmd/cmdutil"
	devicecmd "github.com/keysmith/keysmith/cmd/device"
	hookcmd "github.com/keysmith/keysmith/cmd/hook"
	keycmd "github.com/keysmith/keysmith/cmd/key"
	runcmd "github.com/keysmith/keysmith/cmd/run"
	schemacmd "github.com/keysmith/keysmith/cmd/schema"
	secretscmd "github.com/keysmith/keysmith/cmd/secrets"
	servecmd "github.com/keysmith/keysmith/cmd/serve"
	tokencmd "github.com/keysmith/keysmith/cmd/token"
	vaultcmd "github.com/keysmith/keysmith/cmd/vault"
	versioncmd "github.com/keysmith/keysmith/cmd/version"
)

// Version is set at build time with -ldflags "-X github.com/keysmith/keysmith/cmd.Version=...".
var Version = "dev"

// Main runs keysmith with the process's arguments and returns the exit code.
func Main() int {
	f := cmdutil.New(Version)
	args := os.Args[1:]
	// Only the command that runs is built: every start would otherwise
	// build the whole tree (~100 commands and their flags) for one of them.
	root := newRoot(f, commandName(args))
	root.SetArgs(args)
	return run(root, f.IO.ErrOut)
}

func run(root *cobra.Command, stderr io.Writer) int {
	cmd, err := root.ExecuteC()
	if err == nil {
		return cmdutil.ExitOK
	}
	PrintError(stderr, err)
	var u *cmdutil.UsageError
	if errors.As(err, &u) && cmd != nil {
		fmt.Fprintf(stderr, "keysmith: hint: see '%s --help'\n", cmd.CommandPath())
	}
	return cmdutil.ExitCode(err)
}

// PrintError prints "keysmith: error: ..." and the hints, age-style.
func PrintError(w io.Writer, err error) {
	fmt.Fprintf(w, "keysmith: error: %s\n", err)
	for _, h := range cmdutil.Hints(err) {
		fmt.Fprintf(w, "keysmith: hint: %s\n", h)
	}
}

// topCmd is one of the root's commands: its name (the first word of its
// Use), the help group it is listed in, and its constructor.
type topCmd struct {
	name, group string
	build       func(*cmdutil.Factory) *cobra.Command
}

// topLevel lists the root's commands (help sorts them by name).
// TestTopLevelNames checks the names against the commands built.
func topLevel() []topCmd {
	return []topCmd{
		{"secrets", "secrets", secretscmd.NewCmdSecrets},
		{"run", "secrets", func(f *cmdutil.Factory) *cobra.Command { return runcmd.NewCmdRun(f, nil) }},
		{"hook", "secrets", hookcmd.NewCmdHook},
		{"key", "keys", keycmd.NewCmdKey},
		{"version", "", versioncmd.NewCmdVersion},
		{"vault", "vault", vaultcmd.NewCmdVault},
		{"token", "access", tokencmd.NewCmdToken},
		{"access", "access", accesscmd.NewCmdAccess},
		{"schema", "access", schemacmd.NewCmdSchema},
		{"serve", "server", func(f *cmdutil.Factory) *cobra.Command { return servecmd.NewCmdServe(f, nil) }},
		{"device", "device", devicecmd.NewCmdDevice},
		{"amt", "device", amtcmd.NewCmdAMT},
	}
}

// commandName returns the root command that args run when that is certain
// without the tree: the first argument after the root's own flags, if it
// names one. Otherwise (no command, help, completion, an unknown command
// or flag) it returns "", and the whole tree is built.
func commandName(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-q" || a == "--quiet":
		case a == "-e" || a == "--env" || a == "--key-file" || a == "--key-command" || a == "--output":
			i++ // the flag's value
		case strings.HasPrefix(a, "-e") && !strings.HasPrefix(a, "--"),
			strings.HasPrefix(a, "--env="), strings.HasPrefix(a, "--key-file="),
			strings.HasPrefix(a, "--key-command="), strings.HasPrefix(a, "--output="), strings.HasPrefix(a, "--quiet="):
		case strings.HasPrefix(a, "-"):
			return "" // --help, --version, "--", a flag the root does not have
		default:
			for _, c := range topLevel() {
				if c.name == a {
					return a
				}
			}
			return ""
		}
	}
	return ""
}

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command { return newRoot(f, "") }

// newRoot builds the root with all its commands, or with only the command
// named only (see commandName).
func newRoot(f *cmdutil.Factory, only string) *cobra.Command {
	root := &cobra.Command{
		Use:   "keysmith <command> [flags]",
		Short: "Keep secrets out of plaintext: config values, device credentials, a local vault",
		Long: `keysmith keeps secrets out of plaintext for developers, operators and CI.

It encrypts single values in .env files as environment-prefixed ciphertexts
(DEV_ENC:..., PROD_ENC:...), each environment under its own 256-bit master key;
keeps secrets in a local vault encrypted at rest, with an audit trail and
service tokens; and mints device keypairs whose private key is handed back once
as an age file under a fresh passphrase. Documentation: docs/ in the source.`,
		Example: `  $ echo -n 's3cret' | keysmith secrets encrypt
  DEV_ENC:AQE...
  $ keysmith secrets encrypt-file env_dev.env
  $ keysmith run -f env_dev.env -- ./server`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Annotations["skipConfig"] == "true" {
				return nil
			}
			cfg, err := cmdutil.Load(cmd.Flags(), f.Getenv)
			if err != nil {
				return err
			}
			f.Config = cfg
			f.IO.Quiet = cfg.Quiet
			for _, w := range cfg.Warnings {
				f.IO.Warnf("%s", w)
			}
			return nil
		},
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	root.SetVersionTemplate("keysmith {{.Version}}\n")
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cmdutil.UsageError{Err: err}
	})

	pf := root.PersistentFlags()
	pf.StringP("env", "e", "dev", "environment: dev, int, prod, ... (or KEYSMITH_ENV, APP_ENV_TYPE)")
	pf.String("key-file", "", "key file to read master keys from (or KEYSMITH_KEY_FILE)")
	pf.String("key-command", "", "command, run without a shell, that prints the master key (or config key_command.<env>)")
	pf.String("output", "text", "output format: text or json")
	pf.BoolP("quiet", "q", false, "print nothing but data and errors")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("env", cmdutil.CompleteEnvs(f))

	root.AddGroup(&cobra.Group{ID: "secrets", Title: "Config values:"},
		&cobra.Group{ID: "keys", Title: "Master keys:"},
		&cobra.Group{ID: "vault", Title: "Local vault:"},
		&cobra.Group{ID: "access", Title: "Service access:"},
		&cobra.Group{ID: "server", Title: "Secrets service:"},
		&cobra.Group{ID: "device", Title: "Device credentials:"})
	for _, tc := range topLevel() {
		if only != "" && tc.name != only {
			continue
		}
		c := tc.build(f)
		c.GroupID = tc.group
		root.AddCommand(c)
	}
	if only != "" {
		// Not the command that runs: cobra would otherwise add it at Execute.
		root.CompletionOptions.DisableDefaultCmd = true
	} else {
		root.InitDefaultCompletionCmd()
	}
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			// Completion scripts never need config: a broken keysmith.yaml must not break the shell.
			c.Args, c.RunE = cmdutil.NoArgsGroup, cmdutil.ShowHelp
			for _, sub := range append([]*cobra.Command{c}, c.Commands()...) {
				sub.Annotations = map[string]string{"skipConfig": "true"}
				if sub != c {
					sub.Args = cmdutil.NoArgs
				}
			}
		}
	}
	cmdutil.AddExitCodes(root)
	return root
}
