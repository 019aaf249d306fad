package device

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// LoginOptions are the inputs of "device login".
type LoginOptions struct {
	F *cmdutil.Factory
	NetFlags
}

// NewCmdLogin returns "device login".
func NewCmdLogin(f *cmdutil.Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{F: f}
	cmd := &cobra.Command{
		Use:   "login --server <addr> --key <key.pem> [--auth challenge --device-id <id>]",
		Short: "Check the device's identity with a keysmith server",
		Long: `Connect to "keysmith serve" with the device's key as the TLS client
certificate (mutual TLS) and print who the server takes the device to be:
its ID, name, role and tenant. The server identifies the device by the
SHA-256 of the key's SubjectPublicKeyInfo among active device keys; it needs
no master key and no service token.

--key is a PEM private key, or the .pem.age file "device provision" wrote:
its passphrase comes from --passphrase-file, KEYSMITH_PASSPHRASE or a hidden
prompt on a terminal. The server is trusted with --server-fingerprint (what
"keysmith serve" prints) or --ca-file.

With --auth challenge --device-id ID (where TLS is terminated before
keysmith, or no client certificate can be sent) no client certificate is
presented: the server issues a single-use challenge for device ID (in
--tenant), the key signs it, bound to the TLS connection (RFC 9266
tls-exporter) when keysmith terminates TLS itself, and the server returns a
device session that the command's later calls carry. The key is checked at
every call either way.

Exit status: 0 the key is an active key of a device; 7 the server refused it
(unknown, revoked, at a role the device no longer has, or not a key of
--device-id); 5 no device with --device-id; 2 a usage error; 3 a wrong
passphrase; 1 the server could not be reached.`,
		Example: `  $ keysmith device login --server keysmith.example:8443 --server-fingerprint 3b1f... --key web-01-server-3f2a9c81d0e4.pem.age
  Passphrase for web-01-server-3f2a9c81d0e4.pem.age:
  device dev_4f2a9c81d0e43b1f (web-01), role server, tenant default
  $ keysmith device login --server keysmith.example:8443 --server-fingerprint 3b1f... --key web-01.key.pem --auth challenge --device-id dev_4f2a9c81d0e43b1f
  device dev_4f2a9c81d0e43b1f (web-01), role server, tenant default`,
		Args: cmdutil.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.check(f); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return loginRun(opts)
		},
	}
	addNetFlags(cmd, &opts.NetFlags)
	return cmd
}

func loginRun(opts *LoginOptions) error {
	f := opts.F
	c, err := opts.client(f)
	if err != nil {
		return err
	}
	defer c.Close()
	id, err := c.Login(f.Ctx())
	if err != nil {
		return opts.fail(err)
	}
	if f.JSON() {
		return f.PrintJSON(struct {
			DeviceID       string `json:"device_id"`
			Name           string `json:"name"`
			Role           string `json:"role"`
			Tenant         string `json:"tenant"`
			UUID           string `json:"device_uuid,omitempty"`
			KeyFingerprint string `json:"key_fingerprint"`
			AuthMethod     string `json:"auth_method"`
		}{id.DeviceID, id.Name, id.Role, id.Tenant, id.UUID, id.KeyFingerprint, id.AuthMethod})
	}
	_, err = fmt.Fprintf(f.IO.Out, "device %s (%s), role %s, tenant %s\n", id.DeviceID, id.Name, id.Role, id.Tenant)
	return err
}
