package cmdutil

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/pkg/keysource"
)

// ShowHelp is the RunE of command groups: it prints help.
func ShowHelp(cmd *cobra.Command, args []string) error { return cmd.Help() }

// NoArgsGroup rejects unknown subcommands of a group as a usage error.
func NoArgsGroup(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// NoArgs rejects any positional argument.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// ExactArgs requires n arguments, named in the message.
func ExactArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return Usagef("%s needs %d argument(s) (%s), got %d", cmd.CommandPath(), n, strings.Join(names, ", "), len(args))
		}
		return nil
	}
}

// RangeArgs requires between min and max arguments.
func RangeArgs(min, max int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return Usagef("%s takes %d to %d argument(s) (%s), got %d", cmd.CommandPath(), min, max, strings.Join(names, ", "), len(args))
		}
		return nil
	}
}

// MinArgs requires at least n arguments.
func MinArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return Usagef("%s needs at least %d argument(s) (%s)", cmd.CommandPath(), n, strings.Join(names, ", "))
		}
		return nil
	}
}

// CompleteEnvs completes environment names from the default key file.
func CompleteEnvs(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		envs := []string{"dev", "int", "prod"}
		cfg, err := Load(cmd.Flags(), os.Getenv)
		if err == nil {
			if kf, err := keysource.ReadFile(cfg.DefaultKeyFile()); err == nil {
				seen := map[string]bool{"dev": true, "int": true, "prod": true}
				for _, e := range kf.Entries() {
					if !seen[e.Env] {
						seen[e.Env] = true
						envs = append(envs, e.Env)
					}
				}
			}
		}
		return envs, cobra.ShellCompDirectiveNoFileComp
	}
}

// ExitCodesHelp is appended to every command's help.
const ExitCodesHelp = `
EXIT STATUS
  0  success
  1  failure
  2  usage error: bad flag, argument or configuration
  3  wrong key or tampered data
  4  wrong environment
  5  not found (file, variable, key, secret, device)
  6  a check found problems
  7  permission denied
  8  pending approval
`

// AddExitCodes appends the exit status table to the help of cmd and all its
// descendants.
func AddExitCodes(cmd *cobra.Command) {
	tmpl := cmd.HelpTemplate() + ExitCodesHelp // one string shared by all: built at every start
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.SetHelpTemplate(tmpl)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
}

// Plural returns "n thing" or "n things".
func Plural(n int, thing string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// AddVaultFlags registers the persistent --vault flag (and --tenant when
// withTenant) on a command group that works on the vault. Load binds them
// to Config.Vault and Config.Tenant.
func AddVaultFlags(cmd *cobra.Command, withTenant bool) {
	pf := cmd.PersistentFlags()
	pf.String("vault", "", "vault file (or KEYSMITH_VAULT; default $XDG_DATA_HOME/keysmith/vault.db)")
	if withTenant {
		pf.String("tenant", "", "tenant (or KEYSMITH_TENANT; default \"default\")")
	}
}
