package device

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	vaultcmd "github.com/keysmith/keysmith/cmd/vault"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// VerifyOptions are the inputs of "device verify".
type VerifyOptions struct {
	F         *cmdutil.Factory
	Device    string
	Challenge string
	Signature string
}

// NewCmdVerify returns "device verify".
func NewCmdVerify(f *cmdutil.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{F: f}
	cmd := &cobra.Command{
		Use:   "verify <device> --challenge <challenge> --signature <signature>",
		Short: "Check a device's answer to a challenge, once",
		Long: `Check that the signature answers a challenge issued for the device, with an
active key of that device, before the challenge expired. On success the
challenge is consumed in the same transaction: verifying it again fails as a
replay. Exit 0 means the device proved possession of an active key; every
refusal (bad signature, revoked key, expired, replayed or unknown challenge)
is exit 3.`,
		Example: `  $ keysmith device verify web-01 --challenge "$C" --signature "$S"
  keysmith: verified device web-01 (dev_5d0c3a9e1b7f2468): key key_8c1f2e3d4a5b6c7d at role server`,
		Args: cmdutil.ExactArgs(1, "device"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device = args[0]
			if opts.Challenge == "" || opts.Signature == "" {
				return cmdutil.Usagef("--challenge and --signature are required")
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Challenge, "challenge", "", "the challenge, as printed by device challenge")
	cmd.Flags().StringVar(&opts.Signature, "signature", "", "the signature, as printed by device sign")
	return cmd
}

func verifyRun(opts *VerifyOptions) error {
	f := opts.F
	nonce, err := devicecred.DecodeChallenge(opts.Challenge)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	sig, err := devicecred.DecodeSignature(opts.Signature)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	v, err := vaultcmd.UnlockedVault(f)
	if err != nil {
		return err
	}
	defer v.Close()
	k, err := v.VerifyChallenge(f.Config.Tenant, opts.Device, nonce, sig)
	if err != nil {
		switch {
		case errors.Is(err, vault.ErrChallengeExpired):
			return cmdutil.WithHint(err, "issue a new one with: keysmith device challenge "+opts.Device)
		case errors.Is(err, vault.ErrChallengeReplayed):
			return cmdutil.WithHint(err, "each challenge is answered once; issue a new one with: keysmith device challenge "+opts.Device)
		case errors.Is(err, devicecred.ErrBadSignature):
			return cmdutil.WithHint(err, "the device signs with: keysmith device sign --key KEY.pem --device DEVICE_ID CHALLENGE (the dev_... ID, not the name)")
		}
		return deviceHint(err, f)
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"verified": true, "device": k.Device, "device_id": k.DeviceID, "key_id": k.KeyID,
			"fingerprint": k.Fingerprint, "role": k.Role})
	}
	f.IO.Infof("verified device %s (%s): key %s at role %s", k.Device, k.DeviceID, k.KeyID, k.Role)
	return nil
}
