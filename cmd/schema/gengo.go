package schema

import (
	"go/token"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/schema"
)

// GenGoOptions are the inputs of "schema gen-go".
type GenGoOptions struct {
	F       *cmdutil.Factory
	File    string
	Out     string
	Package string
}

// NewCmdGenGo returns "schema gen-go".
func NewCmdGenGo(f *cmdutil.Factory, runF func(*GenGoOptions) error) *cobra.Command {
	opts := &GenGoOptions{F: f}
	cmd := &cobra.Command{
		Use:   "gen-go <schema> -o <file.go> --package <name>",
		Short: "Write a typed Go struct for a schema, so a misspelled secret is a compile error",
		Long: `Write a gofmt'ed Go file with a struct Secrets holding one string field per
declared secret (DB_URL becomes DBURL), and three loaders:
LoadSecretsFromServer(ctx, server, tokenFile, opts), which reads them all in
one gRPC call from "keysmith serve" (package
github.com/keysmith/keysmith/pkg/client: no keysmith binary and no master key
at run time), LoadSecrets(ctx, tokenFile), which reads each secret with
"keysmith vault get NAME --token-file F", and SecretsFromEnv(), for a program
started by "keysmith run --schema". Code that uses a secret the schema does not declare does not
compile. Two names with the same Go name are an error.`,
		Example: `  $ keysmith schema gen-go secrets.schema.combined.json -o internal/config/secrets_gen.go --package config`,
		Args:    cmdutil.ExactArgs(1, "schema"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.Package == "" {
				return cmdutil.Usagef("--package is required")
			}
			if !token.IsIdentifier(opts.Package) {
				return cmdutil.Usagef("--package %q is not a Go package name", opts.Package)
			}
			if runF != nil {
				return runF(opts)
			}
			return genGoRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the Go file here (default: standard output)")
	cmd.Flags().StringVar(&opts.Package, "package", "", "Go package name of the file")
	return cmd
}

func genGoRun(opts *GenGoOptions) error {
	f := opts.F
	s, err := readSchema(opts.File)
	if err != nil {
		return err
	}
	src, err := schema.GenerateGo(s, schema.GoOptions{Package: opts.Package, Source: filepath.Base(opts.File)})
	if err != nil {
		return err
	}
	if err := writeOut(f, opts.Out, src); err != nil {
		return err
	}
	if opts.Out != "" {
		f.IO.Infof("wrote %s (%s, package %s)", opts.Out, declared(s), opts.Package)
	}
	return nil
}
