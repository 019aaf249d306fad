package server

// One table from the vault's error kinds to gRPC codes and the reasons
// programs branch on (docs/server.md, "Error codes").

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// errRateLimited: too many failed authentications from one address.
var errRateLimited = errors.New("too many failed authentications from this address; try again later")

// errNoToken: no token in the request or its metadata.
var errNoToken = errors.New("no service token: set the request's token or send authorization: Bearer <token>")

// classify returns the gRPC code and reason of err.
func classify(err error) (connect.Code, keysmithv1.ErrorReason) {
	var te *vault.TokenError
	var ae *vault.AccessError
	switch {
	case errors.Is(err, errRateLimited):
		return connect.CodeResourceExhausted, keysmithv1.ErrorReason_ERROR_REASON_RATE_LIMITED
	case errors.Is(err, errNoToken):
		return connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING
	// Devices (device.go): the key or session decides.
	case errors.Is(err, errNoDevices):
		return connect.CodeUnimplemented, keysmithv1.ErrorReason_ERROR_REASON_INTERNAL
	case errors.Is(err, errNoDeviceCredential):
		return connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_MISSING
	case errors.Is(err, errServiceTokenDevice), errors.Is(err, devicecred.ErrBadSession), errors.Is(err, vault.ErrNoDeviceKey),
		errors.Is(err, devicecred.ErrBadSignature), errors.Is(err, vault.ErrNoChallenge), errors.Is(err, vault.ErrChallengeExpired):
		return connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID
	case errors.Is(err, vault.ErrKeyRevoked), errors.Is(err, vault.ErrChallengeReplayed):
		return connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED
	case errors.Is(err, vault.ErrReportConflict):
		return connect.CodeAlreadyExists, keysmithv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS
	case errors.Is(err, vault.ErrInvalidReport):
		return connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT
	case errors.Is(err, vault.ErrAMTNotAllowed):
		return connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED
	case errors.Is(err, vault.ErrAMTNonce):
		return connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT
	case errors.Is(err, vault.ErrNoAMTCert), errors.Is(err, vault.ErrNoDevice):
		return connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND
	case errors.As(err, &te):
		switch te.Status {
		case vault.TokenPending:
			return connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_PENDING
		case vault.TokenDenied:
			return connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_DENIED
		case vault.TokenRevoked:
			return connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_REVOKED
		}
		return connect.CodeUnauthenticated, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_INVALID
	case errors.As(err, &ae) && errors.Is(err, vault.ErrAccessDenied):
		return connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED
	case errors.As(err, &ae):
		for _, p := range ae.Problems {
			if strings.HasPrefix(p.Reason, "missing") {
				return connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING
			}
		}
		return connect.CodeFailedPrecondition, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_PENDING
	case errors.Is(err, vault.ErrTokenConflict):
		return connect.CodeAlreadyExists, keysmithv1.ErrorReason_ERROR_REASON_TOKEN_CONFLICT
	case errors.Is(err, vault.ErrNoTenant):
		return connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NO_TENANT
	case errors.Is(err, vault.ErrNotFound):
		// Not a missing secret of a service read (that is an AccessError
		// above, with its stub and request): an old version that is not
		// there, a device's own secret it never had. Nothing is pending.
		return connect.CodeNotFound, keysmithv1.ErrorReason_ERROR_REASON_NOT_FOUND
	case errors.Is(err, vault.ErrInvalidName):
		return connect.CodeInvalidArgument, keysmithv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT
	case errors.Is(err, vault.ErrTampered), errors.Is(err, vault.ErrCorrupt), errors.Is(err, vault.ErrAuditTampered):
		return connect.CodeDataLoss, keysmithv1.ErrorReason_ERROR_REASON_TAMPERED
	case errors.Is(err, context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, keysmithv1.ErrorReason_ERROR_REASON_INTERNAL
	case errors.Is(err, context.Canceled):
		return connect.CodeCanceled, keysmithv1.ErrorReason_ERROR_REASON_INTERNAL
	case errors.Is(err, vault.ErrAccessDenied):
		return connect.CodePermissionDenied, keysmithv1.ErrorReason_ERROR_REASON_ACCESS_DENIED
	}
	return connect.CodeInternal, keysmithv1.ErrorReason_ERROR_REASON_INTERNAL
}

// publicMessage is what the caller is told. Internal errors are not
// described (they may name paths); everything else is the vault's message,
// which never holds a value or a token.
func publicMessage(code connect.Code, err error) string {
	if code == connect.CodeInternal || code == connect.CodeDataLoss {
		return "internal error (see the server's log)"
	}
	return err.Error()
}

// failure is the connect error for err, with detail attached.
func failure(err error, detail func(msg string, reason keysmithv1.ErrorReason) *connect.ErrorDetail) *connect.Error {
	code, reason := classify(err)
	msg := publicMessage(code, err)
	ce := connect.NewError(code, errors.New(msg))
	if detail != nil {
		if d := detail(msg, reason); d != nil {
			ce.AddDetail(d)
		}
	}
	return ce
}

// deviceFailure is the connect error of a DeviceService call for err,
// with a DeviceError detail carrying the reason (docs/server.md).
func deviceFailure(err error) *connect.Error {
	return failure(err, func(msg string, reason keysmithv1.ErrorReason) *connect.ErrorDetail {
		d, _ := connect.NewErrorDetail(&keysmithv1.DeviceError{Reason: reason, ErrorMessage: msg})
		return d
	})
}
