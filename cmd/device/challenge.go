package device

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
)

// DefaultChallengeTTL is how long a challenge can be answered.
const DefaultChallengeTTL = 5 * time.Minute

// MaxChallengeTTL bounds --ttl.
const MaxChallengeTTL = 24 * time.Hour

// ChallengeOptions are the inputs of "device challenge".
type ChallengeOptions struct {
	F      *cmdutil.Factory
	Device string
	TTL    time.Duration
}

// NewCmdChallenge returns "device challenge".
func NewCmdChallenge(f *cmdutil.Factory, runF func(*ChallengeOptions) error) *cobra.Command {
	opts := &ChallengeOptions{F: f}
	cmd := &cobra.Command{
		Use:   "challenge <device> [--ttl <duration>]",
		Short: "Issue a one-time challenge for a device to sign",
		Long: `Issue a 32-byte nonce for the device (16 random bytes and a MAC of its
vault row, so its lifetime cannot be changed in the store), stored with an
expiry (--ttl, default 5m, at most 24h), and print it as the device ID, a
".", and the nonce as 64 lowercase hex digits: DEVICE_ID.NONCE. The device
signs it with "device sign --key KEY.pem CHALLENGE", which reads the device
ID from it (or with openssl, docs/device-format.md section 8); "device verify"
accepts the signature once, before the expiry, from an active key of that
device at its current role.`,
		Example: `  $ keysmith device challenge web-01
  keysmith: challenge for device web-01, valid until 2026-01-02T03:09:05.000000000Z; answer it on the device with:
  keysmith:   keysmith device sign --key KEY.pem dev_5d0c3a9e1b7f2468.9f3c1a0e5b7d2c4e6a8f0b1d3c5e7a9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c
  dev_5d0c3a9e1b7f2468.9f3c1a0e5b7d2c4e6a8f0b1d3c5e7a9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c
  $ keysmith device challenge web-01 --ttl 30s --output json`,
		Args: cmdutil.ExactArgs(1, "device"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Device = args[0]
			if opts.TTL < time.Second || opts.TTL > MaxChallengeTTL {
				return cmdutil.Usagef("--ttl must be 1s to %s, not %s", MaxChallengeTTL, opts.TTL)
			}
			if runF != nil {
				return runF(opts)
			}
			return challengeRun(opts)
		},
	}
	cmd.Flags().DurationVar(&opts.TTL, "ttl", DefaultChallengeTTL, "how long the challenge can be answered")
	return cmd
}

func challengeRun(opts *ChallengeOptions) error {
	f := opts.F
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	c, err := v.IssueChallenge(f.Ctx(), f.Config.Tenant, opts.Device, opts.TTL)
	if err != nil {
		return deviceHint(err, f)
	}
	enc, err := devicecred.EncodeChallenge(c.DeviceID, c.Nonce)
	if err != nil {
		return err
	}
	if f.JSON() {
		return f.PrintJSON(map[string]any{"device": c.Device, "device_id": c.DeviceID, "challenge": enc, "expires_at": c.ExpiresAt})
	}
	f.IO.Infof("challenge for device %s, valid until %s; answer it on the device with:", c.Device, c.ExpiresAt)
	f.IO.Infof("  keysmith device sign --key KEY.pem %s", enc)
	_, err = f.IO.Out.Write([]byte(enc + "\n"))
	return err
}
