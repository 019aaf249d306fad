package vault

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/vault"
)

// GetOptions are the inputs of "vault get".
type GetOptions struct {
	F       *cmdutil.Factory
	Name    string
	Version int

	// Reading as a service (docs/service-access.md).
	TokenFile string
	Token     string // --token: visible in the process list, warns
	TokenSet  bool

	// Reading through a keysmith server (docs/server.md).
	Server cmdutil.ServerFlags
}

// NewCmdGet returns "vault get".
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{F: f}
	cmd := &cobra.Command{
		Use:   "get <NAME> [--version <N>] [--token-file <file>]",
		Short: "Print a secret",
		Long: `Print the latest version of a secret, or version N, exactly as stored: a
newline is added only when standard output is a terminal. A removed secret is
not found, but its versions can still be read with --version. Every read is
audited. With --output json the value is "value" when it is UTF-8 text, else
"value_base64" (standard base64), as in "secrets decrypt".

With a service token (--token-file, or KEYSMITH_TOKEN) the secret is read as
that service: the token must be approved and the service granted the secret.
A secret that does not exist becomes a stub with an access request, and one
the service has no grant for gets one pending access request: both exit 8
until an operator acts ("keysmith access ls --pending"). An unknown, pending,
denied or revoked token, or a denied or revoked grant, exits 7. The vault's
master key is still needed to decrypt: the token only authorises. --token
puts the token in the process list and shell history and always warns.
See docs/service-access.md.

With --server ADDR (or KEYSMITH_SERVER) the secret is read through a
keysmith server with the token, and no master key is needed: the server
decrypts. A server that cannot be reached is an error; there is no fallback
to a local vault. See docs/server.md.`,
		Example: `  $ keysmith vault get DB_PASSWORD > db.pass
  $ keysmith vault get DB_PASSWORD --version 1 --tenant acme
  $ keysmith vault get DB_PASSWORD --token-file /run/secrets/orders.token
  $ keysmith vault get DB_PASSWORD --server keysmith.internal:7743 --server-fingerprint 3b1f... --token-file orders.token`,
		Args: cmdutil.ExactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if opts.Version < 0 {
				return cmdutil.Usagef("--version must be positive")
			}
			opts.TokenSet = cmd.Flags().Changed("token")
			if opts.TokenSet && opts.TokenFile != "" {
				return cmdutil.Usagef("--token and --token-file cannot be used together")
			}
			if runF != nil {
				return runF(opts)
			}
			return getRun(opts)
		},
	}
	cmd.Flags().IntVar(&opts.Version, "version", 0, "read this version (default: the latest)")
	cmd.Flags().StringVar(&opts.TokenFile, "token-file", "", "read as the service whose token is in this file (or KEYSMITH_TOKEN)")
	cmd.Flags().StringVar(&opts.Token, "token", "", "the service token itself (visible in the process list: prefer --token-file)")
	cmdutil.AddServerFlags(cmd, &opts.Server)
	return cmd
}

func getRun(opts *GetOptions) error {
	f := opts.F
	tok, err := f.ReadToken(opts.TokenFile, opts.Token, opts.TokenSet)
	if err != nil {
		return err
	}
	var s *vault.Secret
	if opts.Server.Fill(f) {
		if s, err = serverGet(opts, tok); err != nil {
			return err
		}
		return printSecret(f, s)
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	if tok != "" {
		s, err = v.ServiceGet(f.Ctx(), tok, f.Config.Tenant, opts.Name, opts.Version)
		if err != nil {
			return cmdutil.AccessHint(f.SecretHint(err))
		}
	} else if s, err = v.Get(f.Ctx(), f.Config.Tenant, opts.Name, opts.Version); err != nil {
		return f.SecretHint(err)
	}
	return printSecret(f, s)
}

// serverGet reads the secret through the server as the token's service.
func serverGet(opts *GetOptions, tok string) (*vault.Secret, error) {
	f := opts.F
	if tok == "" {
		return nil, cmdutil.WithHint(cmdutil.Usagef("--server needs a service token"), "pass --token-file FILE or set KEYSMITH_TOKEN")
	}
	if opts.Version != 0 {
		return nil, cmdutil.Usagef("--version: a server returns the latest version only")
	}
	c, err := opts.Server.Client(f, tok)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	sec, err := c.GetSecret(context.Background(), f.Config.Tenant, opts.Name, "")
	if err != nil {
		return nil, cmdutil.ServerError(err, opts.Server.Server)
	}
	return &vault.Secret{SecretInfo: vault.SecretInfo{Tenant: f.Config.Tenant, Name: sec.Name, Version: sec.Version}, Value: sec.Value}, nil
}

func printSecret(f *cmdutil.Factory, s *vault.Secret) error {
	defer clear(s.Value)
	if f.JSON() {
		return f.PrintJSON(struct {
			Tenant  string `json:"tenant"`
			Name    string `json:"name"`
			Version int    `json:"version"`
			cmdutil.SecretValue
			Description string `json:"description"`
			UpdatedAt   string `json:"updated_at"`
			UpdatedBy   string `json:"updated_by"`
		}{s.Tenant, s.Name, s.Version, cmdutil.NewSecretValue(s.Value), s.Description, s.CreatedAt, s.CreatedBy})
	}
	if _, err := f.IO.Out.Write(s.Value); err != nil {
		return err
	}
	if f.IO.OutTTY {
		_, err := f.IO.Out.Write([]byte("\n"))
		return err
	}
	return nil
}
