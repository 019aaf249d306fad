package device

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// EnrollOptions are the inputs of "device enroll".
type EnrollOptions struct {
	F         *cmdutil.Factory
	Name      string
	Device    string
	UUID      string
	Role      string
	PublicKey string
}

// NewCmdEnroll returns "device enroll".
func NewCmdEnroll(f *cmdutil.Factory, runF func(*EnrollOptions) error) *cobra.Command {
	opts := &EnrollOptions{F: f}
	cmd := &cobra.Command{
		Use:   "enroll {--name <name> | --device <device>} --role <role> --public-key <file> [--uuid <uuid>]",
		Short: "Store a public key a device generated itself",
		Long: `Store the public key of a keypair the device generated, so that its private
key never leaves it: for a new device (--name, optional --uuid) or as one more
key of an existing one (--device: ID, name or UUID; a different --role changes
the device's role, which is audited).

--public-key (- for standard input) is a P-256 public key as PEM or DER
SubjectPublicKeyInfo, or a PKCS#10 certificate request (PEM or DER) whose
signature verifies. Other curves, RSA and Ed25519 keys are refused (exit 2).
The key is stored in canonical DER SPKI form: the same key gives the same
fingerprint whatever form it came in.`,
		Example: `  $ openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out device.key.pem
  $ openssl req -new -key device.key.pem -subj /CN=web-02 -out device.csr.pem
  $ keysmith device enroll --name web-02 --role server --public-key device.csr.pem`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkRole(f, opts.Role); err != nil {
				return err
			}
			if (opts.Name == "") == (opts.Device == "") {
				return cmdutil.Usagef("give exactly one of --name (a new device) or --device (an existing one)")
			}
			if opts.UUID != "" && opts.Device != "" {
				return cmdutil.Usagef("--uuid names the hardware of a new device: it cannot be used with --device")
			}
			if opts.PublicKey == "" {
				return cmdutil.Usagef("--public-key is required")
			}
			if runF != nil {
				return runF(opts)
			}
			return enrollRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "name of a new device")
	fl.StringVar(&opts.Device, "device", "", "existing device (ID, name or UUID)")
	fl.StringVar(&opts.UUID, "uuid", "", "hardware UUID of the new device")
	fl.StringVar(&opts.Role, "role", "", "role of the key")
	fl.StringVar(&opts.PublicKey, "public-key", "", "public key or CSR file, PEM or DER (- for stdin)")
	return cmd
}

func enrollRun(opts *EnrollOptions) error {
	f := opts.F
	data, err := readInput(f, opts.PublicKey, "public key", devicecred.MaxPublicKeyInput)
	if err != nil {
		return err
	}
	_, spki, err := devicecred.ParsePublicKey(data)
	if err != nil {
		err = fmt.Errorf("--public-key %q: %w", opts.PublicKey, err)
		if errors.Is(err, devicecred.ErrUnsupportedKey) {
			return cmdutil.WithHint(&cmdutil.UsageError{Err: err}, "device keys are ECDSA P-256: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256")
		}
		return &cmdutil.UsageError{Err: err}
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	res, err := v.AddDeviceKeys(f.Ctx(), f.Config.Tenant, []vault.KeyRequest{{Device: opts.Device, Name: opts.Name, UUID: opts.UUID,
		Role: opts.Role, SPKI: spki, Origin: vault.KeyEnrolled}})
	if err != nil {
		return deviceHint(err, f)
	}
	r := res[0]
	if f.JSON() {
		return f.PrintJSON(r)
	}
	f.IO.Infof("enrolled key %s (fingerprint %s) for device %s (%s) at role %s", r.KeyID, r.Fingerprint, r.Name, r.DeviceID, r.Role)
	if r.PrevRole != "" {
		f.IO.Infof("device %s changed role: %s -> %s", r.Name, r.PrevRole, r.Role)
	}
	return nil
}
