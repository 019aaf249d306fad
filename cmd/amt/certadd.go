package amt

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/amt"
)

// CertAddOptions are the inputs of "amt cert add".
type CertAddOptions struct {
	F            *cmdutil.Factory
	Name         string
	PFX          string
	PasswordFile string
	ChainPEM     string
	KeyPEM       string
}

// NewCmdCertAdd returns "amt cert add".
func NewCmdCertAdd(f *cmdutil.Factory, runF func(*CertAddOptions) error) *cobra.Command {
	opts := &CertAddOptions{F: f}
	cmd := &cobra.Command{
		Use:   "add <name> {--pfx <file.pfx> [--password-file <file>] | --cert-chain <chain.pem> --key <key.pem>}",
		Short: "Store a provisioning certificate and its key, sealed",
		Long: `Store an Intel AMT provisioning certificate under <name>: a PFX (PKCS#12)
file as a CA delivers it (legacy RC2/3DES or AES-256 encryption), or a PEM
chain and an unencrypted PEM key. The key must be RSA of at least 2048 bits
and belong to the leaf, the leaf must carry the AMT provisioning usage (OID
2.16.840.1.113741.1.2.3), and the chain must reach a self-signed root.

The PFX password is read from --password-file (one trailing newline removed),
else from a hidden prompt on a terminal, else from standard input; it is never
a flag value. The private key is sealed under the tenant's data key; the PFX
file can be deleted afterwards. A warning is printed when the chain expires
within 30 days.` + exitCodes,
		Example: `  $ keysmith amt cert add intel-prov --pfx provisioning.pfx
  $ keysmith amt cert add intel-prov --pfx provisioning.pfx --password-file pfx.pass
  $ keysmith amt cert add intel-prov --cert-chain chain.pem --key key.pem`,
		Args: cmdutil.ExactArgs(1, "name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			switch {
			case opts.PFX != "" && (opts.ChainPEM != "" || opts.KeyPEM != ""):
				return cmdutil.Usagef("--pfx and --cert-chain/--key exclude each other")
			case opts.PFX == "" && (opts.ChainPEM == "") != (opts.KeyPEM == ""):
				return cmdutil.Usagef("--cert-chain and --key go together")
			case opts.PFX == "" && opts.ChainPEM == "":
				return cmdutil.Usagef("give --pfx FILE, or --cert-chain FILE and --key FILE")
			case opts.PasswordFile != "" && opts.PFX == "":
				return cmdutil.Usagef("--password-file is for --pfx")
			}
			if runF != nil {
				return runF(opts)
			}
			return certAddRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.PFX, "pfx", "", "PKCS#12 file with the chain and key")
	fl.StringVar(&opts.PasswordFile, "password-file", "", "file holding the PFX password")
	fl.StringVar(&opts.ChainPEM, "cert-chain", "", "PEM file with the certificate chain")
	fl.StringVar(&opts.KeyPEM, "key", "", "PEM file with the leaf's private key")
	return cmd
}

func readInput(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", flag, path, err)
	}
	return b, nil
}

func certAddRun(opts *CertAddOptions) error {
	f := opts.F
	var cert *amt.Cert
	if opts.PFX != "" {
		data, err := readInput("--pfx", opts.PFX)
		if err != nil {
			return err
		}
		var pw []byte
		if opts.PasswordFile != "" {
			if pw, err = readInput("--password-file", opts.PasswordFile); err != nil {
				return err
			}
			pw = bytes.TrimSuffix(bytes.TrimSuffix(pw, []byte("\n")), []byte("\r"))
		} else {
			pw, err = f.IO.ReadSecret(fmt.Sprintf("PFX password for %s: ", opts.PFX))
			if errors.Is(err, cmdutil.ErrNoInput) {
				return cmdutil.WithHint(&cmdutil.UsageError{Err: fmt.Errorf("the PFX password: %w", err)},
					"give it with --password-file FILE, or pipe it in: keysmith amt cert add NAME --pfx FILE < pfx.pass")
			}
			if err != nil {
				return err
			}
		}
		cert, err = amt.ParsePFX(data, string(pw))
		clear(pw)
		if err != nil {
			return importHint(err)
		}
	} else {
		chain, err := readInput("--cert-chain", opts.ChainPEM)
		if err != nil {
			return err
		}
		key, err := readInput("--key", opts.KeyPEM)
		if err != nil {
			return err
		}
		cert, err = amt.ParsePEM(chain, key)
		clear(key)
		if err != nil {
			return importHint(err)
		}
	}
	v, err := f.Vault()
	if err != nil {
		return err
	}
	defer v.Close()
	info, err := v.AddAMTCert(f.Ctx(), f.Config.Tenant, opts.Name, cert)
	if err != nil {
		return amtHint(err, f)
	}
	warnExpiry(f, *info)
	if f.JSON() {
		return f.PrintJSON(info)
	}
	f.IO.Infof("stored AMT certificate %s in tenant %s: %s, root fingerprint %s, expires %s",
		info.Name, info.Tenant, info.Subject, info.RootFingerprint, info.NotAfter)
	return nil
}

// importHint turns what pkg/amt refuses into an error with its exit code.
func importHint(err error) error {
	switch {
	case errors.Is(err, amt.ErrPassword):
		return cmdutil.WithHint(&cmdutil.Error{Err: err, Code: cmdutil.ExitAuth}, "check the password; openssl pkcs12 -info -in FILE -noout tests it")
	case errors.Is(err, amt.ErrNoAMTUsage):
		return cmdutil.WithHint(&cmdutil.UsageError{Err: err}, "AMT accepts only certificates issued for AMT provisioning; ask the CA for one")
	case errors.Is(err, amt.ErrChain):
		return cmdutil.WithHint(&cmdutil.UsageError{Err: err}, "include the intermediate and root certificates in the file")
	}
	return &cmdutil.UsageError{Err: err}
}
