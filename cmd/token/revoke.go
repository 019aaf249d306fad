package token

import (
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// NewCmdRevoke returns "token revoke".
func NewCmdRevoke(f *cmdutil.Factory, runF func(*DecideOptions) error) *cobra.Command {
	return newDecideCmd(f, runF, revokeRun, "revoke", "Revoke a service token for good",
		`End a token, whatever its state: every later read with it exits 7 and is
audited. The service's grants stay, for its other tokens.`)
}

func revokeRun(opts *DecideOptions) error {
	return decide(opts, (*vault.Vault).RevokeToken, "revoked")
}
