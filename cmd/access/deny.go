package access

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdDeny returns "access deny".
func NewCmdDeny(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newDecideCmd(f, runF, denyRun, "deny", "Deny a pending access request",
		`Deny a pending request: the service's reads of that secret exit 7 and make no
new request, until an operator runs "keysmith access grant SERVICE NAME".`)
}

func denyRun(opts *DecideOptions) error {
	return decide(opts, (*vault.Vault).DenyRequest, "denied")
}
