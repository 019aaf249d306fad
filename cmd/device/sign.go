package device

import (
	"bytes"
	"fmt"

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
		Use:   "sign --key <key.pem> --device <device-id> <challenge>",
		Short: "Answer a challenge with the device's private key (runs on the device)",
		Long: `Sign a challenge from "device challenge" with the device's private key and
print the signature as unpadded base64url. It needs no vault: it runs on the
device. The signed message binds the nonce to the device ID (--device, the
dev_... ID that "device challenge" prints, not the name): ECDSA-SHA256 over
"keysmith/v1/device-challenge" || 0x00 || u32be(len(ID)) || ID || nonce
(docs/device-format.md section 8).

--key is the PEM private key (PKCS#8 or SEC1), as written by "device reveal".`,
		Example: `  $ keysmith device sign --key device.key.pem --device dev_5d0c3a9e1b7f2468 Q2hhbGxlbmdlLW5vbmNlLTMyLWJ5dGVzLWV4YW1wbGU`,
		Args:    cmdutil.ExactArgs(1, "challenge"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Challenge = args[0]
			if opts.Key == "" {
				return cmdutil.Usagef("--key is required")
			}
			if opts.DeviceID == "" {
				return cmdutil.Usagef("--device is required: the device ID (%s...) the challenge was issued for", vault.DeviceIDPrefix)
			}
			if runF != nil {
				return runF(opts)
			}
			return signRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Key, "key", "", "the device's private key, PEM")
	cmd.Flags().StringVar(&opts.DeviceID, "device", "", "the device ID the challenge was issued for")
	return cmd
}

func signRun(opts *SignOptions) error {
	f := opts.F
	nonce, err := devicecred.DecodeChallenge(opts.Challenge)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
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
	sig, err := devicecred.SignChallenge(priv, opts.DeviceID, nonce)
	if err != nil {
		return err
	}
	enc := devicecred.EncodeSignature(sig)
	if f.JSON() {
		return f.PrintJSON(map[string]any{"device_id": opts.DeviceID, "challenge": opts.Challenge, "signature": enc})
	}
	_, err = f.IO.Out.Write([]byte(enc + "\n"))
	return err
}
