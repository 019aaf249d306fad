package token

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdApprove returns "token approve".
func NewCmdApprove(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newDecideCmd(f, runF, approveRun, "approve", "Approve a pending (or denied) service token",
		`Let a pending or denied token be used. The service still reads only what it
is granted ("keysmith access ls --pending"). A revoked token cannot be
approved again.`)
}

func approveRun(opts *DecideOptions) error {
	return decide(opts, (*vault.Vault).ApproveToken, "approved")
}
