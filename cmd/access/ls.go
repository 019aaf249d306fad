package access

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// LsOptions are the inputs of "access ls".
type LsOptions struct {
	F       *cmdutil.Factory
	Pending bool
	Grants  bool
}

// NewCmdLs returns "access ls".
func NewCmdLs(f *cmdutil.Factory, runF func(*LsOptions) error) *cobra.Command {
	opts := &LsOptions{F: f}
	cmd := &cobra.Command{
		Use:   "ls [--pending | --grants] [--tenant <tenant>]",
		Short: "List access requests (or grants) of the tenant",
		Long: `List the access requests of the tenant, oldest first: ID, service, secret,
status (pending, approved, denied), who asked and when, and whether it came
from a read or a schema. --pending shows only those waiting for a decision.
--grants lists the grants instead, with how often each was used. No key is
needed.`,
		Example: `  $ keysmith access ls --pending
  $ keysmith access ls --grants --tenant acme --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Pending && opts.Grants {
				return cmdutil.Usagef("--pending and --grants cannot be used together")
			}
			if runF != nil {
				return runF(opts)
			}
			return lsRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Pending, "pending", false, "only requests waiting for a decision")
	cmd.Flags().BoolVar(&opts.Grants, "grants", false, "list grants instead of requests")
	return cmd
}

func lsRun(opts *LsOptions) error {
	f := opts.F
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	if opts.Grants {
		gs, err := v.Grants(f.Ctx(), f.Config.Tenant)
		if err != nil {
			return err
		}
		if f.JSON() {
			return f.PrintJSON(gs)
		}
		t := cmdutil.NewTable(f.IO.Out, "SERVICE", "NAME", "STATUS", "READS", "LAST READ", "DECIDED BY")
		for _, g := range gs {
			t.Row(g.Service, g.Name, g.Status, fmt.Sprint(g.AccessCount), shortTime(g.LastAccess), g.DecidedBy)
		}
		return t.Flush()
	}
	rs, err := v.AccessRequests(f.Ctx(), f.Config.Tenant, opts.Pending)
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(rs)
	}
	t := cmdutil.NewTable(f.IO.Out, "ID", "SERVICE", "NAME", "STATUS", "REQUESTED BY", "REQUESTED", "FROM")
	for _, r := range rs {
		t.Row(fmt.Sprint(r.ID), r.Service, r.Name, r.Status, r.RequestedBy, shortTime(r.RequestedAt), r.Origin)
	}
	return t.Flush()
}
