package schema

import (
	"context"
	"fmt"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/client"
)

// SchemaEnvironment returns exactly the secrets the schema at schemaPath
// declares, read from the vault as the service whose token is in tokenFile
// (or KEYSMITH_TOKEN when tokenFile is ""), for "keysmith run --token-file
// F --schema FILE": name to value, in the configured tenant. All or
// nothing: when any secret is missing or not granted it fails, before
// anything is started, with an error listing every one (exit 8 when all
// are pending, 7 when any was refused or the token is not valid); missing
// secrets get stubs and access requests like any read. Every read attempt
// is audited. With a server selected (sf.Fill), the secrets are read
// through it in one GetSecrets call, and never from a local vault.
func SchemaEnvironment(f *cmdutil.Factory, sf *cmdutil.ServerFlags, tokenFile, schemaPath string) (map[string]string, error) {
	tok, err := f.ReadToken(tokenFile, "", false)
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
	if sf != nil && sf.Fill(f) {
		c, err := sf.Client(f, tok)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		refs := make([]client.Ref, len(s.Secrets))
		for i, sec := range s.Secrets {
			refs[i] = client.Ref{Name: sec.Name, Description: sec.Description}
		}
		secrets, err := c.GetSecrets(context.Background(), f.Config.Tenant, refs)
		if err != nil {
			return nil, cmdutil.ServerError(fmt.Errorf("schema %q: %w", schemaPath, err), sf.Server)
		}
		out := make(map[string]string, len(secrets))
		for _, sec := range secrets {
			out[sec.Name] = string(sec.Value)
			clear(sec.Value)
		}
		return out, nil
	}
	v, err := f.Vault()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	secrets, err := v.ServiceGetMany(f.Ctx(), tok, f.Config.Tenant, s.Names())
	if err != nil {
		return nil, cmdutil.AccessHint(fmt.Errorf("schema %q: %w", schemaPath, err))
	}
	out := make(map[string]string, len(secrets))
	for _, sec := range secrets {
		out[sec.Name] = string(sec.Value)
		clear(sec.Value)
	}
	return out, nil
}
