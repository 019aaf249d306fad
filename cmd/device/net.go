package device

// What the device commands that talk to "keysmith serve" share: --key (a
// PEM, or the .pem.age file "device provision" wrote, opened with its
// passphrase) presented as the TLS client certificate (--auth mtls, the
// default) or used to answer a challenge for --device-id (--auth
// challenge), and the server flags of every client command (docs/device.md,
// "On the device").

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// How a device command proves its key to the server (--auth).
const (
	authMTLS      = "mtls"
	authChallenge = "challenge"
)

// NetFlags are the flags of a device command that calls the server.
type NetFlags struct {
	cmdutil.ServerFlags
	Key            string // --key
	PassphraseFile string // --passphrase-file
	Auth           string // --auth: "mtls" or "challenge"
	DeviceID       string // --device-id, with --auth challenge
}

// addNetFlags registers --server, --server-fingerprint, --ca-file, --key,
// --passphrase-file, --auth and --device-id.
func addNetFlags(cmd *cobra.Command, nf *NetFlags) {
	cmdutil.AddServerFlags(cmd, &nf.ServerFlags)
	cmd.Flags().StringVar(&nf.Key, "key", "", "the device's private key: a PEM file, or the .pem.age file from device provision")
	cmd.Flags().StringVar(&nf.PassphraseFile, "passphrase-file", "", "read the passphrase of a .pem.age --key from this file (else KEYSMITH_PASSPHRASE, else a prompt)")
	cmd.Flags().StringVar(&nf.Auth, "auth", authMTLS, "how the key proves the device: mtls (the TLS client certificate) or challenge (sign a server challenge for --device-id, then a session)")
	cmd.Flags().StringVar(&nf.DeviceID, "device-id", "", "the device's ID (dev_ and 16 hex digits), with --auth challenge")
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
	switch nf.Auth {
	case authMTLS:
		if nf.DeviceID != "" {
			return cmdutil.WithHint(cmdutil.Usagef("--device-id is only for --auth challenge"), "with mutual TLS the server finds the device by its key")
		}
	case authChallenge:
		if nf.DeviceID == "" {
			return cmdutil.WithHint(cmdutil.Usagef("--auth challenge needs --device-id"), "the device's ID is the dev_... that keysmith device provision printed (keysmith device show DEVICE)")
		}
		if !vault.ValidDeviceID(nf.DeviceID) {
			return cmdutil.WithHint(cmdutil.Usagef("--device-id %q is not a device ID", nf.DeviceID), "a device ID is dev_ and 16 hex digits: keysmith device show DEVICE prints it")
		}
	default:
		return cmdutil.Usagef("--auth must be mtls or challenge, not %q", nf.Auth)
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
// TLS client certificate, or (--auth challenge) holding the device session
// the key's answer to a challenge obtained.
func (nf *NetFlags) client(f *cmdutil.Factory) (*client.Client, error) {
	priv, err := nf.loadKey(f)
	if err != nil {
		return nil, err
	}
	if nf.Auth == authChallenge {
		c, err := client.New(nf.Server, client.Options{Fingerprint: nf.Fingerprint, CAFile: nf.CAFile, UserAgent: "keysmith/" + f.Version + " (device)"})
		if err != nil {
			return nil, cmdutil.ServerError(err, nf.Server)
		}
		if _, err := c.ChallengeLogin(f.Ctx(), f.Config.Tenant, nf.DeviceID, priv); err != nil {
			c.Close()
			return nil, nf.fail(err)
		}
		return c, nil
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

// fail adds the exit code and hints of a refused device call, from the
// reason the server attached (docs/server.md, "Error codes").
func (nf *NetFlags) fail(err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return cmdutil.ServerError(err, nf.Server)
	}
	refused := func(code int, hint string) error {
		return &cmdutil.Error{Err: err, Code: code, Hints: []string{hint}}
	}
	switch ce.Reason {
	case keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID:
		if nf.Auth == authChallenge {
			return refused(cmdutil.ExitPermission, "the server knows no active key of device "+nf.DeviceID+" at its role that signed the challenge: check --device-id and --key; an operator checks them with: keysmith device show DEVICE")
		}
		return refused(cmdutil.ExitPermission, "the server knows no active key at the device's role with this --key: an operator checks it with: keysmith device show DEVICE")
	case keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED:
		if strings.Contains(ce.Message, "already used") {
			return refused(cmdutil.ExitPermission, "a challenge answer is accepted once: run the command again for a fresh challenge")
		}
		return refused(cmdutil.ExitPermission, "a revoked key stays revoked: an operator gives the device a new key (keysmith device enroll or provision) and checks its keys with: keysmith device show DEVICE")
	case keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED:
		return refused(cmdutil.ExitPermission, "a device acts only for its own AMT UUID, and signs only with the certificates it is allowed: an operator checks with: keysmith device show DEVICE, keysmith amt cert ls")
	case keysmithv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS:
		return refused(cmdutil.ExitPermission, "a request_id is applied once: send changed secrets in a report with a new request_id")
	case keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT:
		return refused(cmdutil.ExitNotFound, "check --tenant (or KEYSMITH_TENANT)")
	case keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND:
		if nf.Auth == authChallenge && strings.Contains(ce.Message, "device not found") {
			return refused(cmdutil.ExitNotFound, "check --device-id (and --tenant): keysmith device show DEVICE prints the device's ID")
		}
		return &cmdutil.Error{Err: err, Code: cmdutil.ExitNotFound}
	case keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT:
		return &cmdutil.Error{Err: err, Code: cmdutil.ExitUsage}
	case keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED:
		return refused(cmdutil.ExitFailure, "the server refuses this address for a while after too many failed authentications: wait, then check --key")
	case keysmithv1.ErrorReason_ERROR_REASON_INTERNAL:
		if ce.Code == connect.CodeUnimplemented {
			return refused(cmdutil.ExitFailure, "this server's backend does not serve DeviceService")
		}
	}
	// TAMPERED, the rest of INTERNAL, and transport failures: as for any
	// call to the server.
	return cmdutil.ServerError(err, nf.Server)
}
