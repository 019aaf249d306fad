package vault

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// VerifyOptions are the inputs of "vault verify".
type VerifyOptions struct {
	F *cmdutil.Factory
	// Vault opens the vault, unlocked (gh style: the dependency, lazily).
	Vault func() (*vault.Vault, error)
}

// NewCmdVerify returns "vault verify".
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{F: f}
	return &cobra.Command{
		Use:   "verify",
		Short: "Check that everything in the vault opens and agrees with its audit chain; exit 3 naming the first problem",
		Long: `Check the whole vault with its key, reading only: the storage (SQLite's
quick_check), the audit chain from the vault's init row, every row MAC of the
devices, device keys, tokens, grants and access requests, that every version
of every secret and device secret opens, and that the state agrees with the
chain (no newest version older than the chain's last put, no token, grant or
device key active after the chain recorded its revocation). Nothing is
decrypted to the output and nothing is audited.

Exit status 3 when anything is wrong: each problem is one "problem: WHAT:
ERROR" line on stdout (a revived service token, grant or device key names
its kind and ID), the first is the error; --output json lists them all.`,
		Example: `  $ keysmith vault verify
  $ keysmith vault verify --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Vault = f.Vault
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(opts)
		},
	}
}

func verifyRun(opts *VerifyOptions) error {
	f := opts.F
	v, err := opts.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	res, probs, err := verifyVault(f.Ctx(), v)
	if err != nil {
		return err
	}
	if f.JSON() {
		if probs == nil {
			probs = []vault.Problem{}
		}
		if err := f.PrintJSON(map[string]any{"vault": v.Path(), "ok": len(probs) == 0, "problems": probs, "audit": res}); err != nil {
			return err
		}
	}
	if len(probs) > 0 {
		if !f.JSON() {
			// One line per problem on stdout (what, then the error), so a
			// script or an operator sees every revived credential and
			// rolled-back secret, not only the first.
			for _, p := range probs {
				fmt.Fprintf(f.IO.Out, "problem: %s: %s\n", p.What, p.Error)
			}
		}
		// The problem's own text usually starts with ErrTampered's, which
		// the error line already says once.
		first := strings.TrimPrefix(probs[0].Error, vault.ErrTampered.Error()+": ")
		err := fmt.Errorf("vault %q: %w: %s: %s", v.Path(), vault.ErrTampered, probs[0].What, first)
		if len(probs) > 1 {
			err = fmt.Errorf("%w (and %s)", err, cmdutil.Plural(len(probs)-1, "more problem"))
		}
		return cmdutil.WithHint(err, "list every problem with: keysmith vault verify --output json",
			"restore the vault from a backup made before the change: keysmith vault restore --vault NEW.db BACKUP.age")
	}
	if !f.JSON() {
		fmt.Fprintf(f.IO.Out, "vault ok: every row opens and agrees with the audit chain (%s verified)\nhead: row %d, MAC %s\n",
			cmdutil.Plural(res.Verified, "audit row"), res.HeadSeq, res.HeadMAC)
	}
	return nil
}

// verifyVault runs every check of "vault verify" on the unlocked v: the
// storage, the chain, every row MAC, every version opens, state against
// the chain. The error is for a check that could not run; what it found
// is in the problems.
func verifyVault(ctx context.Context, v *vault.Vault) (*vault.VerifyResult, []vault.Problem, error) {
	var probs []vault.Problem
	if err := v.CheckIntegrity(ctx); err != nil {
		probs = append(probs, vault.Problem{What: "storage", Error: err.Error()})
	}
	res, more, err := v.VerifyAll(ctx)
	if err != nil {
		return nil, nil, cmdutil.OpenHint(err, v.Path())
	}
	return res, append(probs, more...), nil
}
