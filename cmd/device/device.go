// Package device implements "keysmith device": device credentials minted,
// enrolled, proven and revoked in the vault (docs/device.md), with the
// formats of pkg/devicecred (docs/device-format.md).
package device

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/atomicfile"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// scryptWorkFactor is the scrypt work factor of every sealed key file:
// devicecred.DefaultWorkFactor (18) in keysmith. Only tests lower it, with
// TestOnlySetScryptWorkFactor; no flag, environment variable or config
// setting reaches it.
var scryptWorkFactor = devicecred.DefaultWorkFactor

// TestOnlySetScryptWorkFactor lowers the scrypt work factor of sealed key
// files for tests (main_test.go, the package's own tests). keysmith itself
// never calls it.
func TestOnlySetScryptWorkFactor(wf int) { scryptWorkFactor = wf }

// untrustedRole can never hold a device credential, whatever the config says.
const untrustedRole = "untrusted"

// NewCmdDevice returns the "device" group.
func NewCmdDevice(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device <command>",
		Short: "Mint, enrol, prove and revoke device credentials; keep device secrets",
		Long: `Device credentials are ECDSA P-256 keypairs held by devices (a release
machine, a backup-restore box, a server) at a role. The vault keeps only
public keys, per tenant, audited.

"device provision" mints a keypair and hands the private key back exactly
once, as a binary age file sealed under a fresh diceware passphrase that is
shown once and stored nowhere. "device enroll" stores a public key a device
generated itself. "device challenge", "device sign" and "device verify" prove
that a device holds its key, once per challenge. Device secrets (AMT and
MEBx passwords, Wi-Fi keys, ...) are sealed under the tenant's data key.

Roles are "server", "releaser" and "backup-restore" unless the config sets
"roles"; "untrusted" is never accepted, and a "roles" list that names it or
an invalid role is a usage error. Commands and the report format are
documented in docs/device.md.`,
		Example: `  $ keysmith device provision --role server --name web-01 --passphrase-file web-01.pass
  $ keysmith device reveal web-01-server-3f2a9c81d0e4.pem.age -o web-01.key.pem
  $ keysmith device ls --role server
  $ keysmith device revoke key_8c1f2e3d4a5b6c7d`,
		Args: cmdutil.NoArgsGroup,
		RunE: cmdutil.ShowHelp,
	}
	cmdutil.AddVaultFlags(cmd, true)
	cmd.AddCommand(
		NewCmdProvision(f, nil), NewCmdReveal(f, nil),
		NewCmdLs(f, nil), NewCmdShow(f, nil), NewCmdRevoke(f, nil), NewCmdRm(f, nil),
		NewCmdEnroll(f, nil), NewCmdChallenge(f, nil), NewCmdSign(f, nil), NewCmdVerify(f, nil), NewCmdLogin(f, nil),
		NewCmdSecret(f), NewCmdReport(f),
	)
	return cmd
}

// checkRole accepts a configured role other than "untrusted"; anything else
// is a usage error listing the valid roles. An invalid role list in the
// config is a usage error naming the config key.
func checkRole(f *cmdutil.Factory, role string) error {
	valid, err := validRoles(f)
	if err != nil {
		return err
	}
	list := strings.Join(valid, ", ")
	switch {
	case role == "":
		return cmdutil.Usagef("--role is required: one of %s", list)
	case role == untrustedRole:
		return cmdutil.Usagef("role %q cannot hold a device credential: valid roles are %s", role, list)
	case !slices.Contains(valid, role):
		return cmdutil.WithHint(cmdutil.Usagef("unknown role %q: valid roles are %s", role, list),
			"roles come from the config key \"roles\" (default server, releaser, backup-restore)")
	}
	return nil
}

// validRoles returns the configured roles (cmdutil.DefaultRoles when the
// config sets none). Every entry must be a role name and none may be
// "untrusted": a config that says otherwise is refused rather than
// silently trimmed, so that a typo does not quietly change who may hold a
// credential.
func validRoles(f *cmdutil.Factory) ([]string, error) {
	roles := cmdutil.DefaultRoles
	if f.Config != nil && len(f.Config.Roles) > 0 {
		roles = f.Config.Roles
	}
	var bad []string
	for _, r := range roles {
		switch {
		case r == untrustedRole:
			bad = append(bad, fmt.Sprintf("%q can never hold a device credential", r))
		case !vault.ValidRole(r):
			bad = append(bad, fmt.Sprintf("%q is not a role name ([a-z0-9][a-z0-9_.-]*, at most 63 bytes)", r))
		}
	}
	if len(bad) > 0 {
		return nil, cmdutil.WithHint(cmdutil.Usagef("config key \"roles\" is invalid: %s", strings.Join(bad, "; ")),
			"fix \"roles\" in the config file (default server, releaser, backup-restore)")
	}
	return roles, nil
}

// deviceHint adds hints to errors about devices, keys and device secrets.
func deviceHint(err error, f *cmdutil.Factory) error {
	tenant := f.Config.Tenant
	var exists *vault.DeviceExistsError
	switch {
	case errors.Is(err, vault.ErrNoDevice):
		return cmdutil.WithHint(err, fmt.Sprintf("list devices with: keysmith device ls --tenant %s", tenant))
	case errors.Is(err, vault.ErrNoDeviceKey):
		return cmdutil.WithHint(err, "list a device's keys with: keysmith device show DEVICE")
	case errors.Is(err, vault.ErrNotFound):
		return cmdutil.WithHint(err, "list a device's secrets with: keysmith device secret ls DEVICE")
	case errors.Is(err, vault.ErrNoTenant):
		return cmdutil.WithHint(err, "list tenants with: keysmith vault tenant ls")
	case errors.As(err, &exists) && exists.ByUUID:
		return cmdutil.WithHint(err, fmt.Sprintf("if this is that machine, add a key to it with --device %s; otherwise check --uuid", exists.Name))
	case errors.As(err, &exists):
		return cmdutil.WithHint(err, fmt.Sprintf("add a key to it with --device %s, or choose another --name", exists.Name))
	case errors.Is(err, vault.ErrDeviceExists):
		return cmdutil.WithHint(err, "add a key to it with --device DEVICE, or choose another --name")
	case errors.Is(err, vault.ErrInvalidName):
		return &cmdutil.UsageError{Err: err}
	case errors.Is(err, devicecred.ErrAMTPassword):
		return cmdutil.WithHint(err, amtRulesHint)
	case errors.Is(err, vault.ErrTampered):
		return cmdutil.WithHint(err, "the vault file was changed outside keysmith; check the whole vault with: keysmith vault verify")
	}
	return err
}

// amtRulesHint says what an AMT or MEBx password must be
// (docs/device-format.md §9).
const amtRulesHint = `an AMT or MEBx password is 8 to 32 printable ASCII characters with a lowercase and an uppercase letter, a digit and a special character other than "_" and space, and none of : , "; or let keysmith make one with --generate amt`

// Hints of mustNotExist: what was left undone.
const (
	nothingStored  = "nothing was stored"
	nothingWritten = "nothing was written"
)

// mustNotExist fails if anything is at path: an output is never replaced.
// undone says what the failure left undone, for the hint.
func mustNotExist(path, what, undone string) error {
	if _, err := os.Lstat(path); err == nil {
		return cmdutil.WithHint(fmt.Errorf("%s %q: %w", what, path, fs.ErrExist),
			"keysmith never overwrites a key or passphrase file: move it away or choose another name; "+undone)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeNew writes data to a new file at path, mode 0600 (O_EXCL).
func writeNew(path string, data []byte, what, undone string) error {
	err := atomicfile.CreateExclusive(path, data, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return mustNotExist(path, what, undone)
	} else if err != nil {
		return fmt.Errorf("writing %s %q: %w", what, path, err)
	}
	return nil
}

// readInput reads a file argument, "-" meaning standard input, at most max
// bytes.
func readInput(f *cmdutil.Factory, path, what string, max int64) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = f.IO.In
	} else {
		fh, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s %q: %w", what, path, cmdutil.ErrNotFound)
		} else if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if int64(len(b)) > max {
		return nil, cmdutil.Usagef("%s %q is larger than %d bytes", what, path, max)
	}
	return b, nil
}

// shortTime cuts a vault timestamp to seconds for tables.
func shortTime(s string) string {
	if len(s) >= 19 {
		return s[:19] + "Z"
	}
	return s
}
