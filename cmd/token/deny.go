package token

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdDeny returns "token deny".
func NewCmdDeny(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newDecideCmd(f, runF, denyRun, "deny", "Deny a pending service token",
		`Refuse a pending token: reads with it exit 7. A denied token can still be
approved later; revoke it to end it for good.`)
}

func denyRun(opts *DecideOptions) error {
	return decide(opts, (*vault.Vault).DenyToken, "denied")
}
