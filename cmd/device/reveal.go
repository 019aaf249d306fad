package device

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/devicecred"
)

// EnvPassphrase is the environment variable "device reveal" reads the
// passphrase from when --passphrase-file is not given.
const EnvPassphrase = "KEYSMITH_PASSPHRASE"

// RevealOptions are the inputs of "device reveal".
type RevealOptions struct {
	F              *cmdutil.Factory
	File           string
	Out            string
	PassphraseFile string
}

// NewCmdReveal returns "device reveal".
func NewCmdReveal(f *cmdutil.Factory, runF func(*RevealOptions) error) *cobra.Command {
	opts := &RevealOptions{F: f}
	cmd := &cobra.Command{
		Use:   "reveal <file.age> [-o <out>] [--passphrase-file <file>]",
		Short: "Open a sealed device key with its passphrase",
		Long: `Open a key file written by "device provision" and write the private key
(PKCS#8 PEM) to -o OUT, a new 0600 file, or to standard output when it is not
a terminal. It needs no vault: it runs on the device.

The passphrase comes from --passphrase-file (one trailing newline removed),
else from KEYSMITH_PASSPHRASE, else from a hidden prompt on a terminal.
"age -d FILE" opens the same file.

Before writing anything it checks that the file holds a P-256 private key
(PEM): an age file of anything else is refused (exit 2) and nothing is
written. A wrong passphrase or a damaged file is exit 3.`,
		Example: `  $ keysmith device reveal web-01-server-3f2a9c81d0e4.pem.age -o /etc/keysmith/device.key.pem
  Passphrase for web-01-server-3f2a9c81d0e4.pem.age:
  $ KEYSMITH_PASSPHRASE=unpaved-hazard-quartet-sprung keysmith device reveal key.age > key.pem`,
		Args: cmdutil.ExactArgs(1, "file.age"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.Out == "" && f.IO.OutTTY {
				return cmdutil.WithHint(cmdutil.Usagef("refusing to write a private key to a terminal"), "use -o FILE, or redirect standard output")
			}
			if runF != nil {
				return runF(opts)
			}
			return revealRun(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the PEM to this new 0600 file (default: standard output, not a terminal)")
	cmd.Flags().StringVar(&opts.PassphraseFile, "passphrase-file", "", "read the passphrase from this file")
	return cmd
}

func revealRun(opts *RevealOptions) error {
	f := opts.F
	sealed, err := readInput(f, opts.File, "key file", devicecred.MaxSealedSize)
	if err != nil {
		return err
	}
	if opts.Out != "" {
		if err := mustNotExist(opts.Out, "output file", nothingWritten); err != nil {
			return err
		}
	}
	pass, err := readPassphrase(f, opts.PassphraseFile, opts.File)
	if err != nil {
		return err
	}
	pem, err := devicecred.RevealPEM(bytes.NewReader(sealed), pass)
	if err != nil {
		switch {
		case errors.Is(err, devicecred.ErrWrongPassphrase):
			return cmdutil.WithHint(fmt.Errorf("%q: %w", opts.File, err), "the passphrase is the one shown once when the key was provisioned; words are joined with -")
		case errors.Is(err, devicecred.ErrNotAgeFile):
			return cmdutil.WithHint(fmt.Errorf("%q: %w", opts.File, err), "give the .pem.age file written by: keysmith device provision")
		}
		return fmt.Errorf("%q: %w", opts.File, err)
	}
	defer clear(pem)
	// The passphrase opened the file; make sure it is a device key before
	// writing anything: an age file of something else is refused, not
	// printed.
	if _, err := devicecred.ParsePrivatePEM(pem); err != nil {
		return cmdutil.WithHint(&cmdutil.UsageError{Err: fmt.Errorf("%q opened, but it does not hold a P-256 device private key: %w", opts.File, err)},
			"device reveal opens only the .pem.age files written by keysmith device provision; nothing was written")
	}
	if opts.Out != "" {
		if err := writeNew(opts.Out, pem, "output file", nothingWritten); err != nil {
			return err
		}
		f.IO.Infof("wrote the private key to %q", opts.Out)
		return nil
	}
	_, err = f.IO.Out.Write(pem)
	return err
}

// readPassphrase takes the passphrase from a file, KEYSMITH_PASSPHRASE or a
// hidden prompt on a terminal, in that order.
func readPassphrase(f *cmdutil.Factory, file, what string) (string, error) {
	if file != "" {
		b, err := readInput(f, file, "passphrase file", 4096)
		if err != nil {
			return "", err
		}
		b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
		if len(b) == 0 {
			return "", cmdutil.Usagef("passphrase file %q is empty", file)
		}
		return string(b), nil
	}
	if p := f.Getenv(EnvPassphrase); p != "" {
		return p, nil
	}
	if !f.IO.InTTY {
		return "", cmdutil.WithHint(cmdutil.Usagef("no passphrase: standard input is not a terminal"),
			"use --passphrase-file FILE or set "+EnvPassphrase)
	}
	b, err := f.IO.ReadSecret(fmt.Sprintf("Passphrase for %s: ", what))
	if err != nil {
		return "", err
	}
	return string(b), nil
}
