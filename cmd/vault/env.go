package vault

import (
	"regexp"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

var envVarName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// Environment returns the secrets of a tenant as environment variables, for
// "keysmith run --vault [--tenant T] [--prefix P]". It opens and unlocks the
// configured vault (one key resolution), reads the latest version of every
// secret whose name starts with prefix, audits each read, and returns them
// keyed by name with the prefix removed: with --prefix APP_, the secret
// APP_DB_PASSWORD becomes DB_PASSWORD. Names that are not valid variable
// names after that (jwt.key, amt/password) are skipped with a warning. An
// empty tenant means the configured one.
func Environment(f *cmdutil.Factory, tenant, prefix string) (map[string]string, error) {
	if tenant == "" {
		tenant = f.Config.Tenant
	}
	v, err := UnlockedVault(f)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	secrets, err := v.GetAll(tenant, prefix, "run")
	if err != nil {
		return nil, secretHint(err, f, "")
	}
	out := make(map[string]string, len(secrets))
	for _, s := range secrets {
		name := strings.TrimPrefix(s.Name, prefix)
		if !envVarName().MatchString(name) {
			if prefix != "" {
				f.IO.Warnf("vault secret %s would be variable %s (without --prefix %s), not a valid environment variable name; not set", s.Name, name, prefix)
			} else {
				f.IO.Warnf("vault secret %s is not a valid environment variable name; not set", s.Name)
			}
			continue
		}
		out[name] = string(s.Value)
		clear(s.Value)
	}
	return out, nil
}
