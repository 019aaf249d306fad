package token

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/client"
)

// RegisterOptions are the inputs of "token register".
type RegisterOptions struct {
	F              *cmdutil.Factory
	Server         cmdutil.ServerFlags
	Service        string
	ServiceVersion string
	Out            string
}

// NewCmdRegister returns "token register".
func NewCmdRegister(f *cmdutil.Factory, runF func(*RegisterOptions) error) *cobra.Command {
	opts := &RegisterOptions{F: f}
	cmd := &cobra.Command{
		Use:   "register --server <addr> --service <name> [--service-version <v>] -o <file>",
		Short: "Make a token for this service and register it with a keysmith server",
		Long: `Make a new service token, write it to FILE (created with mode 0600; an
existing file is never overwritten) and register it with the keysmith server:
the service makes its own token, the operator never sees it. The token is
pending until an operator approves it ("keysmith token approve ID" on the
vault); until then reads with it exit 7. If the registration fails, FILE is
removed again. No master key is needed. See docs/server.md.`,
		Example: `  $ keysmith token register --server keysmith.internal:7743 --server-fingerprint 3b1f... --service orders --service-version 2.1.0 -o /run/secrets/orders.token
  keysmith: registered token 3f2a9c0d1b4e5f60 of service orders: pending approval
  keysmith: hint: an operator approves it with: keysmith token approve 3f2a9c0d1b4e5f60`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Service == "" {
				return cmdutil.Usagef("--service is required")
			}
			if opts.Out == "" {
				return cmdutil.Usagef("-o/--out is required: the token is written only to a file")
			}
			if !opts.Server.Fill(f) {
				return cmdutil.Usagef("--server (or KEYSMITH_SERVER) is required: tokens are registered with a keysmith server")
			}
			if runF != nil {
				return runF(opts)
			}
			return registerRun(opts)
		},
	}
	cmdutil.AddServerFlags(cmd, &opts.Server)
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service's name ([a-z0-9][a-z0-9_.-]*)")
	cmd.Flags().StringVar(&opts.ServiceVersion, "service-version", "", "the service's version, recorded with the token")
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the token to this new file (mode 0600)")
	return cmd
}

func registerRun(opts *RegisterOptions) error {
	f := opts.F
	tok, err := client.NewToken(f.Rand)
	if err != nil {
		return err
	}
	c, err := opts.Server.Client(f, tok)
	if err != nil {
		return err
	}
	defer c.Close()
	fh, err := os.OpenFile(opts.Out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return cmdutil.WithHint(fmt.Errorf("%q exists: a token file is never overwritten", opts.Out),
			"choose another file with -o, or remove the old one after revoking its token")
	} else if err != nil {
		return err
	}
	_, werr := fmt.Fprintln(fh, tok)
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(opts.Out)
		return werr
	}
	reg, err := c.RegisterToken(context.Background(), opts.Service, opts.ServiceVersion)
	if err != nil {
		os.Remove(opts.Out)
		return cmdutil.ServerError(err, opts.Server.Server)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"token_id": reg.TokenID, "service": opts.Service, "service_version": opts.ServiceVersion,
			"status": reg.Status, "file": opts.Out})
	}
	f.IO.Infof("registered token %s of service %s: %s", reg.TokenID, opts.Service, reg.Status)
	if reg.Status == "pending_approval" {
		f.IO.Infof("hint: an operator approves it with: keysmith token approve %s", reg.TokenID)
	}
	return nil
}
