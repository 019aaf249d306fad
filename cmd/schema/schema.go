// Package schema implements "keysmith schema": secrets.schema.json files
// that declare what a service needs (pkg/schema, docs/service-access.md).
package schema

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/schema"
)

// NewCmdSchema returns the "schema" group.
func NewCmdSchema(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema <command>",
		Short: "Declare the secrets a service needs: secrets.schema.json",
		Long: `A package declares the secrets it needs in secrets.schema.json: an object whose
"properties" map each secret name to {"type": "string", "description": "..."}.

combine merges a service's schema with its dependencies'; apply records the
declared secrets in the vault (stubs for missing ones, access requests for
the service); check is the gate before a deploy; gen-go writes a typed Go
struct so that a misspelled secret is a compile error. See
docs/service-access.md, "Schema format".`,
		Example: `  $ keysmith schema combine secrets.schema.json ../lib/secrets.schema.json -o secrets.schema.combined.json
  $ keysmith schema apply secrets.schema.combined.json --service orders
  $ keysmith schema check secrets.schema.combined.json --service orders
  $ keysmith schema gen-go secrets.schema.combined.json -o secrets_gen.go --package config`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, true)
	cmd.AddCommand(NewCmdCombine(f, nil), NewCmdApply(f, nil), NewCmdCheck(f, nil), NewCmdGenGo(f, nil))
	return cmd
}

// readSchema reads and parses a schema file.
func readSchema(path string) (*schema.Schema, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("schema %q: %w", path, cmdutil.ErrNotFound)
	} else if err != nil {
		return nil, err
	}
	s, err := schema.Parse(b)
	if err != nil {
		return nil, cmdutil.WithHint(fmt.Errorf("%q: %w", path, err),
			`a schema is {"properties": {"NAME": {"type": "string", "description": "..."}}}`)
	}
	return s, nil
}

// writeOut writes data to path atomically, or to standard output when
// path is empty.
func writeOut(f *cmdutil.Factory, path string, data []byte) error {
	if path == "" {
		_, err := f.IO.Out.Write(data)
		return err
	}
	if dir := filepath.Dir(path); dir != "." {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return fmt.Errorf("writing %q: directory %q does not exist: %w", path, dir, cmdutil.ErrNotFound)
		}
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing %q: %w", path, err)
	}
	return nil
}

func declared(s *schema.Schema) string {
	return cmdutil.Plural(len(s.Secrets), "declared secret")
}
