package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/secretfile"
)

// Config is everything a command reads from flags, KEYSMITH_* variables and
// config files, read once per process by Load. Commands never call viper.
type Config struct {
	Env        string // selected environment
	EnvFrom    string // where Env came from, for messages
	KeyFile    string
	KeyCommand []string
	Output     string // "text" or "json"
	Quiet      bool
	Vault      string
	Tenant     string

	SecretPatterns []string
	Legacy         map[string]LegacyConfig
	Roles          []string
	VaultGroup     bool  // vault_group: a SQLite vault may be group-readable/writable
	MaxValueSize   int64 // max_value_size: the largest secret value accepted, in bytes

	Warnings  []string // about the config files, printed once by the root command
	ConfigDir string   // $XDG_CONFIG_HOME/keysmith
	DataDir   string   // $XDG_DATA_HOME/keysmith
	Files     []string

	keyCommands map[string][]string
}

// LegacyConfig holds the per-environment settings of the older Fernet format.
type LegacyConfig struct {
	Salt     string // legacy.<env>.salt
	SaltSet  bool   // legacy.<env>.salt is set (to "" for an empty salt)
	KDFInput string // legacy.<env>.kdf_input: text or bytes
}

// DefaultSecretPatterns are the names treated as secrets when the config
// adds none; config patterns are added to these.
var DefaultSecretPatterns = []string{"*_SECRET"}

// DefaultMaxValueSize is the largest secret value accepted when the config
// sets no max_value_size: 1 MiB.
const DefaultMaxValueSize = 1 << 20

// DefaultRoles are the device roles when the config sets none.
var DefaultRoles = []string{"server", "releaser", "backup-restore"}

// DefaultKeyFile is where keys live when no other source is configured.
func (c *Config) DefaultKeyFile() string { return filepath.Join(c.ConfigDir, "keys") }

// DefaultVault is the vault path when none is configured.
func (c *Config) DefaultVault() string { return filepath.Join(c.DataDir, "vault.db") }

// KeyCommandFor returns the key command of env: the --key-command flag or
// config key_command.<env>.
func (c *Config) KeyCommandFor(env string) []string {
	if len(c.KeyCommand) > 0 {
		return c.KeyCommand
	}
	return c.keyCommands[env]
}

// KnownEnvs are the environments a file name may declare: dev, int, prod
// and any the config names (key_command.<env>, legacy.<env>).
func (c *Config) KnownEnvs() []string {
	known := append([]string{}, secretfile.KnownEnvs...)
	for env := range c.keyCommands {
		known = append(known, env)
	}
	for env := range c.Legacy {
		known = append(known, env)
	}
	return known
}

// knownSettings are the top-level keys a config file may set (docs/config.md).
var knownSettings = []string{"env", "key_file", "key_command", "output", "quiet", "vault", "tenant", "secret_patterns", "legacy", "roles", "vault_group", "max_value_size"}

// flagKeys maps config keys to the flags that set them and their types. A
// flag of the same name but another type is not bound: "run --vault" is a
// switch, not the vault path.
var flagKeys = map[string]struct{ flag, typ string }{
	"key_file": {"key-file", "string"},
	"output":   {"output", "string"},
	"quiet":    {"quiet", "bool"},
	"vault":    {"vault", "string"},
	"tenant":   {"tenant", "string"},
}

// Load reads configuration with the precedence flag > KEYSMITH_* environment
// > the repository's keysmith.yaml (RepoConfigPath) >
// $XDG_CONFIG_HOME/keysmith/config.yaml > default.
func Load(flags *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	c := &Config{}
	home, _ := os.UserHomeDir()
	c.ConfigDir = filepath.Join(xdg(getenv, "XDG_CONFIG_HOME", home, ".config"), "keysmith")
	c.DataDir = filepath.Join(xdg(getenv, "XDG_DATA_HOME", home, ".local/share"), "keysmith")

	v := viper.New()
	v.SetConfigType("yaml")
	repoConfig := RepoConfigPath()
	for _, p := range []string{filepath.Join(c.ConfigDir, "config.yaml"), repoConfig} {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading config: %w", err)
		}
		fv := viper.New()
		fv.SetConfigType("yaml")
		err = fv.ReadConfig(f)
		f.Close()
		if err != nil {
			return nil, &UsageError{fmt.Errorf("config file %q: %w", p, err)}
		}
		settings := fv.AllSettings()
		for k := range settings {
			if !slices.Contains(knownSettings, k) {
				c.Warnings = append(c.Warnings, fmt.Sprintf("config file %q: unknown setting %q ignored (known: %s)", p, k, strings.Join(knownSettings, ", ")))
			}
		}
		if lg, ok := settings["legacy"].(map[string]any); ok {
			for env, sub := range lg {
				m, _ := sub.(map[string]any)
				for k := range m {
					if k != "salt" && k != "kdf_input" {
						c.Warnings = append(c.Warnings, fmt.Sprintf("config file %q: unknown setting %q ignored (known: salt, kdf_input)", p, "legacy."+env+"."+k))
					}
				}
			}
		}
		if p == repoConfig {
			// A file in the working directory usually comes with the
			// repository: it must not choose the master key or run a
			// command (a pre-commit "secrets check" would run it), nor
			// add device roles an operator would then mint credentials at.
			for _, k := range []string{"key_command", "key_file", "roles", "vault_group"} {
				if _, ok := settings[k]; ok {
					delete(settings, k)
					from := "key sources come only from flags, KEYSMITH_* variables and"
					if k == "roles" {
						from = "device roles come only from"
					}
					if k == "vault_group" {
						from = "sharing the vault with a group is allowed only by KEYSMITH_VAULT_GROUP or"
					}
					c.Warnings = append(c.Warnings, fmt.Sprintf("%q sets %s, which is ignored there: %s %s", p, k, from, filepath.Join(c.ConfigDir, "config.yaml")))
				}
			}
		}
		if err := v.MergeConfigMap(settings); err != nil {
			return nil, &UsageError{fmt.Errorf("config file %q: %w", p, err)}
		}
		c.Files = append(c.Files, p)
	}
	fileKeyCommands := v.Get("key_command") // before KEYSMITH_KEY_COMMAND can shadow it
	v.SetEnvPrefix("KEYSMITH")
	v.AutomaticEnv() // KEYSMITH_KEY_FILE, KEYSMITH_OUTPUT, KEYSMITH_VAULT, ...
	for key, fk := range flagKeys {
		if f := flags.Lookup(fk.flag); f != nil && f.Value.Type() == fk.typ {
			if err := v.BindPFlag(key, f); err != nil {
				return nil, err
			}
		}
	}

	c.KeyFile = v.GetString("key_file")
	c.Output = v.GetString("output")
	if c.Output == "" {
		c.Output = "text"
	}
	if c.Output != "text" && c.Output != "json" {
		return nil, Usagef("output format must be text or json, not %q (from --output, KEYSMITH_OUTPUT or config output)", c.Output)
	}
	c.Quiet = v.GetBool("quiet")
	c.Vault = v.GetString("vault")
	if c.Vault == "" {
		c.Vault = c.DefaultVault()
	}
	c.Tenant = v.GetString("tenant")
	if c.Tenant == "" {
		c.Tenant = "default"
	}

	// The environment: -e/--env, KEYSMITH_ENV, APP_ENV_TYPE, config "env", dev.
	switch f := flags.Lookup("env"); {
	case f != nil && f.Changed:
		c.Env, c.EnvFrom = f.Value.String(), "-e/--env"
	case getenv("KEYSMITH_ENV") != "":
		c.Env, c.EnvFrom = getenv("KEYSMITH_ENV"), "KEYSMITH_ENV"
	case getenv("APP_ENV_TYPE") != "":
		c.Env, c.EnvFrom = getenv("APP_ENV_TYPE"), "APP_ENV_TYPE"
	case v.GetString("env") != "":
		c.Env, c.EnvFrom = v.GetString("env"), "config"
	default:
		c.Env, c.EnvFrom = "dev", "default"
	}
	if !masterkey.ValidEnv(c.Env) {
		return nil, &Error{Err: &UsageError{fmt.Errorf("environment name %q (from %s) is not valid", c.Env, c.EnvFrom)},
			Hints: []string{"environment names are lower case: [a-z][a-z0-9_-]*, e.g. dev, int, prod"}}
	}

	if f := flags.Lookup("key-command"); f != nil && f.Changed {
		c.KeyCommand = strings.Fields(f.Value.String())
	} else if e := getenv("KEYSMITH_KEY_COMMAND"); e != "" {
		c.KeyCommand = strings.Fields(e)
	}
	var err error
	if c.keyCommands, err = keyCommands(fileKeyCommands); err != nil {
		return nil, err
	}

	c.SecretPatterns = append([]string{}, DefaultSecretPatterns...)
	c.SecretPatterns = append(c.SecretPatterns, v.GetStringSlice("secret_patterns")...)
	c.Legacy = map[string]LegacyConfig{}
	for env := range v.GetStringMap("legacy") {
		c.Legacy[env] = LegacyConfig{
			Salt:     v.GetString("legacy." + env + ".salt"),
			SaltSet:  v.IsSet("legacy." + env + ".salt"),
			KDFInput: v.GetString("legacy." + env + ".kdf_input"),
		}
	}
	c.VaultGroup = v.GetBool("vault_group")
	c.MaxValueSize = DefaultMaxValueSize
	if s := v.GetString("max_value_size"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, Usagef("max_value_size must be a positive number of bytes, not %q (from KEYSMITH_MAX_VALUE_SIZE or config max_value_size)", s)
		}
		c.MaxValueSize = n
	}
	c.Roles = v.GetStringSlice("roles")
	if len(c.Roles) == 0 {
		c.Roles = DefaultRoles
	}
	return c, nil
}

// keyCommands reads config key_command: a map from environment to a command,
// written as a string (split on white space) or a list of arguments of any
// length. A configured command is used or is an error, never ignored: an
// ignored dev command would fall back to the default key file and create a
// new key there.
func keyCommands(raw any) (map[string][]string, error) {
	out := map[string][]string{}
	if raw == nil {
		return out, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, Usagef("config key_command: want a map from environment to command, e.g. key_command: {prod: [vault, kv, get, -field=key, secret/keysmith/prod]}")
	}
	for env, v := range m {
		var argv []string
		switch v := v.(type) {
		case string:
			argv = strings.Fields(v)
		case []any:
			for _, a := range v {
				switch a.(type) {
				case map[string]any, []any, nil:
					return nil, Usagef("config key_command.%s: want a command string or a list of arguments", env)
				}
				argv = append(argv, fmt.Sprint(a))
			}
		default:
			return nil, Usagef("config key_command.%s: want a command string or a list of arguments", env)
		}
		if len(argv) == 0 || argv[0] == "" {
			return nil, Usagef("config key_command.%s: empty command", env)
		}
		out[env] = argv
	}
	return out, nil
}

func xdg(getenv func(string) string, name, home, fallback string) string {
	if d := getenv(name); d != "" && filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(home, fallback)
}

// RepoConfigPath is the keysmith.yaml that applies in the current directory:
// ./keysmith.yaml, else the nearest one in a parent directory up to the root
// of the git repository the directory is in (the first directory upward that
// holds .git), so that a command run from a subdirectory keeps the
// repository's secret_patterns. Outside a repository only ./keysmith.yaml
// counts: a keysmith.yaml in /tmp or $HOME never applies to everything below
// it. The path is relative to the current directory.
func RepoConfigPath() string {
	const name = "keysmith.yaml"
	if _, err := os.Stat(name); err == nil {
		return name
	}
	wd, err := os.Getwd()
	if err != nil {
		return name
	}
	var found string
	for dir := wd; ; {
		if found == "" {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				found = filepath.Join(dir, name)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			if found == "" {
				return name
			}
			if rel, err := filepath.Rel(wd, found); err == nil {
				return rel
			}
			return found
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return name // not in a repository
		}
		dir = parent
	}
}
