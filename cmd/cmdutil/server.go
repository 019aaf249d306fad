package cmdutil

import (
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
)

// ServerFlags are the flags of a command that can read through a keysmith
// server instead of the local vault (docs/server.md).
type ServerFlags struct {
	Server      string // --server or KEYSMITH_SERVER
	Fingerprint string // --server-fingerprint or KEYSMITH_SERVER_FINGERPRINT
	CAFile      string // --ca-file or KEYSMITH_CA_FILE
}

// AddServerFlags registers --server, --server-fingerprint and --ca-file.
func AddServerFlags(cmd *cobra.Command, sf *ServerFlags) {
	fl := cmd.Flags()
	fl.StringVar(&sf.Server, "server", "", "read through this keysmith server, HOST:PORT or unix:/PATH (or KEYSMITH_SERVER); never the local vault")
	fl.StringVar(&sf.Fingerprint, "server-fingerprint", "", "pin the server's key: the SHA-256 'keysmith serve' prints (or KEYSMITH_SERVER_FINGERPRINT)")
	fl.StringVar(&sf.CAFile, "ca-file", "", "trust the server certificate's CA from this PEM file (or KEYSMITH_CA_FILE)")
}

// Fill takes what the flags left empty from the environment and reports
// whether a server is selected.
func (sf *ServerFlags) Fill(f *Factory) bool {
	for _, p := range []struct {
		v   *string
		env string
	}{{&sf.Server, "KEYSMITH_SERVER"}, {&sf.Fingerprint, "KEYSMITH_SERVER_FINGERPRINT"}, {&sf.CAFile, "KEYSMITH_CA_FILE"}} {
		if *p.v == "" {
			*p.v = strings.TrimSpace(f.Getenv(p.env))
		}
	}
	return sf.Server != ""
}

// Client returns a client of the selected server that presents token.
func (sf *ServerFlags) Client(f *Factory, token string) (*client.Client, error) {
	if sf.Fingerprint != "" && sf.CAFile != "" {
		return nil, Usagef("--server-fingerprint and --ca-file: choose one way to trust the server")
	}
	c, err := client.New(sf.Server, client.Options{Token: token, Fingerprint: sf.Fingerprint, CAFile: sf.CAFile, UserAgent: "keysmith/" + f.Version})
	if err != nil {
		return nil, ServerError(err, sf.Server)
	}
	return c, nil
}

// ServerError adds the exit code and hints of a failed call to a server.
func ServerError(err error, server string) error {
	var ce *client.Error
	isCall := errors.As(err, &ce)
	if isCall {
		// Reasons that are the server's answer, not a transport failure:
		// the "is it running" hint below would mislead.
		switch ce.Reason {
		case keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED:
			return &Error{Err: err, Code: ExitFailure, Hints: []string{"the server refuses this address for a while after too many failed authentications: wait a minute, then check the token the failed calls used"}}
		case keysmithv1.ErrorReason_ERROR_REASON_TAMPERED:
			return &Error{Err: err, Code: ExitFailure, Hints: []string{"the server's stored data does not authenticate: its operator runs keysmith vault verify"}}
		case keysmithv1.ErrorReason_ERROR_REASON_INTERNAL:
			if ce.Code == connect.CodeDeadlineExceeded {
				return &Error{Err: err, Code: ExitFailure, Hints: []string{"the call took longer than the server allows (keysmith serve --max-call-time): try again"}}
			}
			return &Error{Err: err, Code: ExitFailure, Hints: []string{"the server's log says what failed"}}
		}
	}
	switch {
	case errors.Is(err, client.ErrInvalid) && !isCall:
		return &UsageError{Err: err}
	case errors.Is(err, client.ErrPermissionDenied):
		return &Error{Err: err, Code: ExitPermission, Hints: []string{"check --token-file; an operator approves tokens with: keysmith token ls, keysmith token approve ID"}}
	case errors.Is(err, client.ErrPending):
		return &Error{Err: err, Code: ExitPending, Hints: []string{"an operator acts with: keysmith access ls --pending (and vault put for a missing secret)"}}
	case errors.Is(err, client.ErrNotFound):
		return &Error{Err: err, Code: ExitNotFound}
	case errors.Is(err, client.ErrInvalid):
		return &Error{Err: err, Code: ExitUsage}
	case errors.Is(err, client.ErrUnavailable):
		hints := []string{fmt.Sprintf("is 'keysmith serve' running at %s? nothing was read from a local vault", server)}
		if strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "fingerprint") {
			hints = []string{"the server's certificate was refused: check --server-fingerprint (keysmith serve --fingerprint prints it) or --ca-file"}
		}
		return &Error{Err: err, Code: ExitFailure, Hints: hints}
	}
	return err
}
