package schema

import (
	"fmt"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	vaultcmd "github.com/keysmith/keysmith/cmd/vault"
)

// SchemaEnvironment returns exactly the secrets the schema at schemaPath
// declares, read from the vault as the service whose token is in tokenFile
// (or KEYSMITH_TOKEN when tokenFile is ""), for "keysmith run --token-file
// F --schema FILE": name to value, in the configured tenant. All or
// nothing: when any secret is missing or not granted it fails, before
// anything is started, with an error listing every one (exit 8 when all
// are pending, 7 when any was refused or the token is not valid); missing
// secrets get stubs and access requests like any read. Every read attempt
// is audited.
func SchemaEnvironment(f *cmdutil.Factory, tokenFile, schemaPath string) (map[string]string, error) {
	tok, err := vaultcmd.ReadToken(f, tokenFile, "", false)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, cmdutil.Usagef("--schema needs a service token: --token-file FILE or KEYSMITH_TOKEN")
	}
	s, err := readSchema(schemaPath)
	if err != nil {
		return nil, err
	}
	v, err := vaultcmd.UnlockedVault(f)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	secrets, err := v.ServiceGetMany(tok, f.Config.Tenant, s.Names())
	if err != nil {
		return nil, vaultcmd.AccessHint(fmt.Errorf("schema %q: %w", schemaPath, err))
	}
	out := make(map[string]string, len(secrets))
	for _, sec := range secrets {
		out[sec.Name] = string(sec.Value)
		clear(sec.Value)
	}
	return out, nil
}
