package access

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdApprove returns "access approve".
func NewCmdApprove(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newDecideCmd(f, runF, approveRun, "approve", "Approve a pending access request: grant the service the secret",
		`Approve a pending request: the service is granted the secret in the request's
tenant, and its next read returns the value (once the secret has one: a stub
is filled with "keysmith vault put").`)
}

func approveRun(opts *DecideOptions) error {
	return decide(opts, (*vault.Vault).ApproveRequest, "approved")
}
