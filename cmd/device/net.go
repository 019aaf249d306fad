package device

// What the device commands that talk to "keysmith serve" share: --key (a
// PEM, or the .pem.age file "device provision" wrote, opened with its
// passphrase) presented as the TLS client certificate, and the server
// flags of every client command (docs/device.md, "On the device").

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/devicecred"
)

// NetFlags are the flags of a device command that calls the server.
type NetFlags struct {
	cmdutil.ServerFlags
	Key            string // --key
	PassphraseFile string // --passphrase-file
}

// addNetFlags registers --server, --server-fingerprint, --ca-file, --key
// and --passphrase-file.
func addNetFlags(cmd *cobra.Command, nf *NetFlags) {
	cmdutil.AddServerFlags(cmd, &nf.ServerFlags)
	cmd.Flags().StringVar(&nf.Key, "key", "", "the device's private key: a PEM file, or the .pem.age file from device provision")
	cmd.Flags().StringVar(&nf.PassphraseFile, "passphrase-file", "", "read the passphrase of a .pem.age --key from this file (else KEYSMITH_PASSPHRASE, else a prompt)")
}

// check validates the flags before anything is read.
func (nf *NetFlags) check(f *cmdutil.Factory) error {
	if !nf.Fill(f) {
		return cmdutil.WithHint(cmdutil.Usagef("--server is required"), "give --server HOST:PORT or set KEYSMITH_SERVER")
	}
	if nf.Key == "" {
		return cmdutil.WithHint(cmdutil.Usagef("--key is required"), "give the device's key: KEY.pem, or the .pem.age file from keysmith device provision")
	}
	if nf.Fingerprint != "" && nf.CAFile != "" {
		return cmdutil.Usagef("--server-fingerprint and --ca-file: choose one way to trust the server")
	}
	return nil
}

// loadKey reads --key: a PEM private key, or an age file opened with the
// passphrase from --passphrase-file, KEYSMITH_PASSPHRASE or a prompt.
func (nf *NetFlags) loadKey(f *cmdutil.Factory) (*ecdsa.PrivateKey, error) {
	data, err := readInput(f, nf.Key, "key file", devicecred.MaxSealedSize)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	if cmdutil.IsAge(data) {
		pass, err := readPassphrase(f, nf.PassphraseFile, nf.Key)
		if err != nil {
			return nil, err
		}
		pem, err := devicecred.RevealPEM(bytes.NewReader(data), pass)
		if err != nil {
			switch {
			case errors.Is(err, devicecred.ErrWrongPassphrase):
				return nil, cmdutil.WithHint(fmt.Errorf("--key %q: %w", nf.Key, err), "the passphrase is the one shown once when the key was provisioned; words are joined with -")
			case errors.Is(err, devicecred.ErrNotAgeFile):
				return nil, cmdutil.WithHint(fmt.Errorf("--key %q: %w", nf.Key, err), "give the .pem.age file written by: keysmith device provision")
			}
			return nil, fmt.Errorf("--key %q: %w", nf.Key, err)
		}
		defer clear(pem)
		data = append(data[:0], pem...)
	}
	priv, err := devicecred.ParsePrivatePEM(data)
	if err != nil {
		return nil, cmdutil.WithHint(&cmdutil.UsageError{Err: fmt.Errorf("--key %q: %w", nf.Key, err)}, "give the device's P-256 private key (PEM) or its .pem.age file")
	}
	return priv, nil
}

// client returns a client of the server presenting the device's key as its
// TLS client certificate.
func (nf *NetFlags) client(f *cmdutil.Factory) (*client.Client, error) {
	priv, err := nf.loadKey(f)
	if err != nil {
		return nil, err
	}
	cert, err := devicecred.ClientCertificate(priv, "keysmith device")
	if err != nil {
		return nil, err
	}
	c, err := client.New(nf.Server, client.Options{Fingerprint: nf.Fingerprint, CAFile: nf.CAFile, Certificate: &cert, UserAgent: "keysmith/" + f.Version + " (device)"})
	if err != nil {
		return nil, cmdutil.ServerError(err, nf.Server)
	}
	return c, nil
}

// netError adds the exit code and hints of a refused device call.
func netError(err error, server string) error {
	var ce *client.Error
	if errors.As(err, &ce) && errors.Is(err, client.ErrPermissionDenied) {
		return &cmdutil.Error{Err: err, Code: cmdutil.ExitPermission,
			Hints: []string{"the server knows no active key at the device's role with this --key: an operator checks it with: keysmith device show DEVICE"}}
	}
	if errors.As(err, &ce) && errors.Is(err, client.ErrNotFound) {
		return &cmdutil.Error{Err: err, Code: cmdutil.ExitNotFound}
	}
	return cmdutil.ServerError(err, server)
}
