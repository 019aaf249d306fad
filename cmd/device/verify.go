package device

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
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
active key of that device at the device's current role, before the challenge
expired. On success the challenge is consumed in the same transaction:
verifying it again fails as a replay.

--challenge is the challenge as "device challenge" printed it
(DEVICE_ID.NONCE); the bare 64-hex-digit nonce is accepted too.

Exit 0 means the device proved possession of an active key. Every refusal
(bad signature, revoked key or one at another role, expired, replayed or
unknown challenge) is exit 3; a malformed challenge or signature, or a
challenge that names another device ID than <device>, is exit 2.`,
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
	id, nonce, err := devicecred.DecodeChallenge(opts.Challenge)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	if id != "" && strings.HasPrefix(opts.Device, vault.DeviceIDPrefix) && id != opts.Device {
		return cmdutil.Usagef("the challenge was issued for device %s, not %s", id, opts.Device)
	}
	sig, err := devicecred.DecodeSignature(opts.Signature)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	k, err := v.VerifyChallenge(f.Ctx(), f.Config.Tenant, opts.Device, nonce, sig)
	if err != nil {
		switch {
		case errors.Is(err, vault.ErrChallengeExpired):
			return cmdutil.WithHint(err, "issue a new one with: keysmith device challenge "+opts.Device)
		case errors.Is(err, vault.ErrChallengeReplayed):
			return cmdutil.WithHint(err, "each challenge is answered once; issue a new one with: keysmith device challenge "+opts.Device)
		case errors.Is(err, devicecred.ErrBadSignature):
			return cmdutil.WithHint(err, "the device signs with: keysmith device sign --key KEY.pem CHALLENGE (the challenge as device challenge printed it)")
		case errors.Is(err, vault.ErrNoChallenge) && id != "":
			return cmdutil.WithHint(err, fmt.Sprintf("the challenge names device %s; check that it is %s", id, opts.Device))
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
