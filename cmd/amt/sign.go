package amt

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	amtpkg "github.com/keysmith/keysmith/pkg/amt"
)

// SignOptions are the inputs of "amt sign".
type SignOptions struct {
	F       *cmdutil.Factory
	Cert    string
	FWNonce string
}

// NewCmdSign returns "amt sign".
func NewCmdSign(f *cmdutil.Factory, runF func(*SignOptions) error) *cobra.Command {
	opts := &SignOptions{F: f}
	cmd := &cobra.Command{
		Use:   "sign --cert <name> --fw-nonce <base64>",
		Short: "Sign an AMT activation locally (operator)",
		Long: `Sign an Intel AMT admin-control-mode activation with a stored provisioning
certificate, as the SignActivation RPC does for devices: a fresh 20-byte nonce,
and the RSA PKCS#1 v1.5 SHA-256 signature over the firmware nonce (20 bytes,
base64, as AMT reports it) followed by that nonce. Prints the nonce and the
signature (base64), the root fingerprint (hex) and the chain leaf to root
(PEM); --output json gives the chain as base64 DER. The signature is audited.` + exitCodes,
		Example: `  $ keysmith amt sign --cert intel-prov --fw-nonce 3q2+7wABAgMEBQYHCAkKCwwNDg8Q
  $ keysmith amt sign --cert intel-prov --fw-nonce "$FW_NONCE" --output json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Cert == "" || opts.FWNonce == "" {
				return cmdutil.Usagef("--cert and --fw-nonce are required")
			}
			if runF != nil {
				return runF(opts)
			}
			return signRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Cert, "cert", "", "stored provisioning certificate")
	cmd.Flags().StringVar(&opts.FWNonce, "fw-nonce", "", "the firmware nonce AMT reported (base64, 20 bytes)")
	return cmd
}

func signRun(opts *SignOptions) error {
	f := opts.F
	fw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(opts.FWNonce))
	if err != nil {
		return cmdutil.Usagef("--fw-nonce is not base64: %v", err)
	}
	if len(fw) != amtpkg.NonceSize {
		return cmdutil.Usagef("--fw-nonce is %d bytes; AMT's firmware nonce is %d", len(fw), amtpkg.NonceSize)
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	a, err := v.SignActivation(f.Ctx(), f.Config.Tenant, opts.Cert, fw, "")
	if err != nil {
		return amtHint(err, f)
	}
	b64 := base64.StdEncoding.EncodeToString
	if f.JSON() {
		chain := make([]string, len(a.Chain))
		for i, c := range a.Chain {
			chain[i] = b64(c)
		}
		return f.PrintJSON(map[string]any{"cert": a.Cert, "nonce": b64(a.Nonce), "signature": b64(a.Signature),
			"certificate_chain": chain, "root_fingerprint": a.RootFingerprint})
	}
	out := f.IO.Out
	fmt.Fprintf(out, "nonce: %s\nsignature: %s\nroot_fingerprint: %s\nchain:\n", b64(a.Nonce), b64(a.Signature), a.RootFingerprint)
	for _, c := range a.Chain {
		if err := pem.Encode(out, &pem.Block{Type: "CERTIFICATE", Bytes: c}); err != nil {
			return err
		}
	}
	return nil
}
