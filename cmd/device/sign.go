package device

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// SignOptions are the inputs of "device sign".
type SignOptions struct {
	F         *cmdutil.Factory
	Key       string
	DeviceID  string
	Challenge string
}

// NewCmdSign returns "device sign".
func NewCmdSign(f *cmdutil.Factory, runF func(*SignOptions) error) *cobra.Command {
	opts := &SignOptions{F: f}
	cmd := &cobra.Command{
		Use:   "sign --key <key.pem> [--device <device-id>] <challenge>",
		Short: "Answer a challenge with the device's private key (runs on the device)",
		Long: `Sign a challenge from "device challenge" with the device's private key and
print the signature as unpadded base64url. It needs no vault: it runs on the
device.

The challenge is DEVICE_ID.NONCE as "device challenge" prints it: the dev_...
device ID, a ".", and 64 lowercase hex digits. The signed message binds the
nonce to that device ID: ECDSA-SHA256 over
"keysmith/v1/device-challenge" || 0x00 || u32be(len(ID)) || ID || nonce
(docs/device-format.md section 8). --device is optional: given, it must be
the ID in the challenge (a check that the challenge is for this device); with
a bare 64-hex-digit nonce it is required.

--key is the PEM private key (PKCS#8 or SEC1), as written by "device reveal".
A malformed challenge, a --device that does not match it and a key that is
not a P-256 private key are usage errors (exit 2).`,
		Example: `  $ keysmith device sign --key device.key.pem dev_5d0c3a9e1b7f2468.9f3c1a0e5b7d2c4e6a8f0b1d3c5e7a9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c
  MEUCIQDx...
  $ keysmith device sign --key device.key.pem --device dev_5d0c3a9e1b7f2468 "$C"`,
		Args: cmdutil.ExactArgs(1, "challenge"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Challenge = args[0]
			if opts.Key == "" {
				return cmdutil.Usagef("--key is required")
			}
			if runF != nil {
				return runF(opts)
			}
			return signRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "the device's private key, PEM")
	cmd.Flags().StringVar(&opts.DeviceID, "device", "", "the device ID the challenge was issued for (checked against the challenge)")
	return cmd
}

// challengeDevice returns the device ID a challenge answer binds: the one
// in the challenge, which --device (if given) must equal, or --device for a
// bare nonce.
func challengeDevice(inChallenge, flag string) (string, error) {
	switch {
	case inChallenge == "" && flag == "":
		return "", cmdutil.Usagef("the challenge is a bare nonce: give --device, the device ID (%s...) it was issued for", vault.DeviceIDPrefix)
	case inChallenge == "":
		return flag, nil
	case flag != "" && flag != inChallenge:
		return "", cmdutil.WithHint(cmdutil.Usagef("--device %s does not match the challenge, which was issued for device %s", flag, inChallenge),
			"the challenge and the key must be for the same device; drop --device to sign for the device in the challenge")
	}
	return inChallenge, nil
}

func signRun(opts *SignOptions) error {
	f := opts.F
	id, nonce, err := devicecred.DecodeChallenge(opts.Challenge)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	deviceID, err := challengeDevice(id, opts.DeviceID)
	if err != nil {
		return err
	}
	pem, err := readInput(f, opts.Key, "key file", 64<<10)
	if err != nil {
		return err
	}
	defer clear(pem)
	if bytes.HasPrefix(pem, []byte("age-encryption.org/")) {
		return cmdutil.WithHint(cmdutil.Usagef("--key %q is a sealed key file", opts.Key), "open it first with: keysmith device reveal FILE -o KEY.pem")
	}
	priv, err := devicecred.ParsePrivatePEM(pem)
	if err != nil {
		return &cmdutil.UsageError{Err: fmt.Errorf("--key %q: %w", opts.Key, err)}
	}
	sig, err := devicecred.SignChallenge(priv, deviceID, nonce)
	if err != nil {
		return err
	}
	enc := devicecred.EncodeSignature(sig)
	if f.JSON() {
		return f.PrintJSON(map[string]any{"device_id": deviceID, "challenge": strings.TrimSpace(opts.Challenge), "signature": enc})
	}
	_, err = f.IO.Out.Write([]byte(enc + "\n"))
	return err
}
