package token

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// CreateOptions are the inputs of "token create".
type CreateOptions struct {
	F              *cmdutil.Factory
	Service        string
	ServiceVersion string
}

// NewCmdCreate returns "token create".
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "create --service <name> [--service-version <version>]",
		Short: "Create a pending service token and print it once",
		Long: `Create a token for a service and print it on standard output, once: only its
SHA-256 hash is kept, so it cannot be shown again. It starts pending: reads
with it fail (exit 7) until "keysmith token approve ID".

A token is "kst1_", a public ID of 16 hex digits, "_", and 256 random bits
in base64url. The ID is what "token ls" shows and the audit trail records.
Store the token in a file only the service can read and give that file to
"keysmith vault get --token-file".`,
		Example: `  $ keysmith token create --service orders --service-version 2.1.0 > orders.token
  $ keysmith token create --service orders --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Service == "" {
				return cmdutil.Usagef("--service is required")
			}
			if !vault.ValidService(opts.Service) {
				return cmdutil.Usagef("service name %q is not valid: [a-z0-9][a-z0-9_.-]*, at most 63 bytes", opts.Service)
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service the token is for")
	cmd.Flags().StringVar(&opts.ServiceVersion, "service-version", "", "the service's version, recorded with the token")
	return cmd
}

func createRun(opts *CreateOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	tok, t, err := v.CreateToken(f.Ctx(), opts.Service, opts.ServiceVersion)
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"id": t.ID, "service": t.Service, "service_version": t.ServiceVersion, "status": t.Status, "token": tok})
	}
	if _, err := fmt.Fprintln(f.IO.Out, tok); err != nil {
		return err
	}
	f.IO.Infof("created token %s for service %s (pending); it is shown only this once", t.ID, t.Service)
	f.IO.Infof("approve it with: keysmith token approve %s", t.ID)
	return nil
}
