package schema

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// NewCmdCheck returns "schema check".
func NewCmdCheck(f *cmdutil.Factory, runF func(*ServiceOptions) error) *cobra.Command {
	opts := &ServiceOptions{F: f}
	cmd := &cobra.Command{
		Use:   "check <schema> --service <name> [--tenant <tenant>]",
		Short: "Exit 6 listing every declared secret that is missing or not granted: the gate before a deploy",
		Long: `Check that the service has an approved token and that every secret the
schema declares exists in the tenant and is granted to the service. Each
problem is listed on standard output, and the command exits 6: a service
without an approved token (none created, only pending, denied or revoked
ones) is listed as "(token)  no approved token (...)", since it can read
nothing whatever it was granted; each declared secret that is missing, not
granted, denied or revoked is listed by name. It changes nothing, reads no
secret and needs no key.`,
		Example: `  $ keysmith schema check secrets.schema.combined.json --service orders && ./deploy.sh`,
		Args:    serviceArgs(opts),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return checkRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service that needs the secrets")
	return cmd
}

func checkRun(opts *ServiceOptions) error {
	f := opts.F
	s, err := readSchema(opts.File)
	if err != nil {
		return err
	}
	v, err := f.LockedVault()
	if err != nil {
		return err
	}
	defer v.Close()
	tenant := f.Config.Tenant
	tokenProb, err := v.ServiceTokenProblem(f.Ctx(), opts.Service)
	if err != nil {
		return err
	}
	probs, err := v.CheckAccess(f.Ctx(), tenant, opts.Service, s.Names())
	if err != nil {
		return err
	}
	ok := tokenProb == "" && len(probs) == 0
	if f.JSON() {
		doc := map[string]any{"service": opts.Service, "tenant": tenant, "ok": ok, "declared": len(s.Secrets), "problems": probs}
		if tokenProb != "" {
			doc["token_problem"] = tokenProb
		}
		if err := f.PrintJSON(doc); err != nil {
			return err
		}
	} else if !ok {
		t := cmdutil.NewTable(f.IO.Out, "NAME", "PROBLEM", "REQUEST")
		if tokenProb != "" {
			t.Row(tokenRow, tokenProb, "-")
		}
		for _, p := range probs {
			req := "-"
			if p.Request != 0 {
				req = fmt.Sprint(p.Request)
			}
			t.Row(p.Name, p.Reason, req)
		}
		if err := t.Flush(); err != nil {
			return err
		}
	}
	if ok {
		if !f.JSON() {
			what := "all " + declared(s) + " exist and are"
			switch len(s.Secrets) {
			case 0:
				what = "no secret is declared; nothing is"
			case 1:
				what = "the 1 declared secret exists and is"
			}
			f.IO.Infof("ok: %s granted to %s in tenant %s, and it has an approved token", what, opts.Service, tenant)
		}
		return nil
	}
	var what []string
	var hints []string
	if tokenProb != "" {
		what = append(what, fmt.Sprintf("service %s has %s", opts.Service, tokenProb))
		hints = append(hints, "create a token with: keysmith token create --service "+opts.Service+", then approve it: keysmith token approve ID")
	}
	if len(probs) > 0 {
		names := make([]string, len(probs))
		for i, p := range probs {
			names[i] = p.Name
		}
		w := fmt.Sprintf("service %s cannot read %d of %s in tenant %s: %s", opts.Service, len(probs), declared(s), tenant, strings.Join(names, ", "))
		if tokenProb != "" {
			w = fmt.Sprintf("cannot read %d of %s in tenant %s: %s", len(probs), declared(s), tenant, strings.Join(names, ", "))
		}
		what = append(what, w)
		hints = append(hints, "record them with: keysmith schema apply "+opts.File+" --service "+opts.Service,
			"then fill stubs (keysmith vault ls --missing) and approve requests (keysmith access ls --pending)")
	}
	return cmdutil.WithHint(fmt.Errorf("%s: %w", strings.Join(what, " and "), cmdutil.ErrProblems), hints...)
}

// tokenRow names the token problem in the table: never a secret name, which
// is an environment variable name.
const tokenRow = "(token)"
