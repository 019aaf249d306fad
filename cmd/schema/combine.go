package schema

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/schema"
)

// CombineOptions are the inputs of "schema combine".
type CombineOptions struct {
	F     *cmdutil.Factory
	Files []string
	Out   string
}

// NewCmdCombine returns "schema combine".
func NewCmdCombine(f *cmdutil.Factory, runF func(*CombineOptions) error) *cobra.Command {
	opts := &CombineOptions{F: f}
	cmd := &cobra.Command{
		Use:   "combine <schema>... [-o <file>]",
		Short: "Merge a service's schema with its dependencies'",
		Long: `Merge schemas into one, sorted, with every secret required. A secret declared
in several files must have the same description in each: two different
descriptions are an error naming both files, and nothing is written.`,
		Example: `  $ keysmith schema combine secrets.schema.json vendor/payments/secrets.schema.json -o secrets.schema.combined.json`,
		Args:    cmdutil.MinArgs(1, "schema"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(opts)
			}
			return combineRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the combined schema to this file (default: standard output)")
	return cmd
}

func combineRun(opts *CombineOptions) error {
	f := opts.F
	var files []schema.File
	for _, p := range opts.Files {
		s, err := readSchema(p)
		if err != nil {
			return err
		}
		files = append(files, schema.File{Path: p, Schema: s})
	}
	s, err := schema.Combine(files)
	if err != nil {
		return cmdutil.WithHint(err, "agree on one description in both files, or rename one of the secrets")
	}
	out, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := writeOut(f, opts.Out, out); err != nil {
		return err
	}
	if opts.Out != "" {
		f.IO.Infof("wrote %s (%s from %s)", opts.Out, declared(s), cmdutil.Plural(len(files), "file"))
	}
	return nil
}
