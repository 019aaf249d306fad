package vault

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
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
//
// Before it decrypts or audits any, it checks that the secrets fit in a
// command's environment (cmdutil.SystemExecLimits) beside other bytes of
// arguments and variables (cmdutil.ExecSize): too many or too large
// secrets are an error and none is read.
func Environment(f *cmdutil.Factory, tenant, prefix string, other int) (map[string]string, error) {
	if tenant == "" {
		tenant = f.Config.Tenant
	}
	v, err := UnlockedVault(f)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	fits := func(sizes []vault.ValueSize) error {
		vars := make(map[string]int, len(sizes))
		secretOf := make(map[string]string, len(sizes))
		for _, s := range sizes {
			if name := strings.TrimPrefix(s.Name, prefix); envVarName().MatchString(name) {
				vars[name], secretOf[name] = s.Size, s.Name
			}
		}
		err := cmdutil.SystemExecLimits().CheckVars(vars, other)
		var big *cmdutil.ExecTooLargeError
		if !errors.As(err, &big) {
			return err
		}
		if big.Var != "" {
			big.What = "vault secret " + secretOf[big.Var]
		} else {
			big.What = fmt.Sprintf("the %d vault secrets of tenant %s", len(vars), tenant)
		}
		return cmdutil.WithHint(fmt.Errorf("%w; none was read", big),
			"choose fewer with --prefix, or give the command exactly the secrets it needs with --schema (docs/service-access.md)")
	}
	secrets, err := v.GetAllChecked(tenant, prefix, "run", fits)
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
