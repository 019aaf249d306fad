package server

// DeviceService.SignActivation (docs/amt.md, "RPC"): an authenticated
// device gets an Intel AMT activation signature made with a provisioning
// key that never leaves the vault.

import (
	"context"
	"encoding/hex"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/vault"
)

// AMTBackend is what SignActivation needs from the vault core. *VaultBackend
// implements it; without it the call fails as Unimplemented.
type AMTBackend interface {
	// SignActivation signs fwNonce ‖ fresh nonce with id's tenant's
	// certificate certName, if id's device may use it. Audited.
	SignActivation(ctx context.Context, c Caller, id *vault.DeviceIdentity, certName string, fwNonce []byte) (*vault.AMTActivation, error)
}

// AMTKeyBackend is an AMTBackend that also identifies the device by its
// TLS client key and signs in one read of the vault. *VaultBackend
// implements it; SignActivation over mTLS uses it when the backend has it.
type AMTKeyBackend interface {
	AMTBackend
	// SignActivationByKey is DeviceBackend.DeviceByKey (any tenant) and
	// SignActivation for the device found. When the key identifies no
	// device, id is nil and err is DeviceByKey's refusal (the caller
	// audits it); else id is the device and err the signature's refusal
	// (audited by the vault).
	SignActivationByKey(ctx context.Context, c Caller, fp [32]byte, certName string, fwNonce []byte) (*vault.DeviceIdentity, *vault.AMTActivation, error)
}

var _ AMTKeyBackend = (*VaultBackend)(nil)

// SignActivation implements AMTBackend.
func (b *VaultBackend) SignActivation(ctx context.Context, c Caller, id *vault.DeviceIdentity, certName string, fwNonce []byte) (*vault.AMTActivation, error) {
	var out *vault.AMTActivation
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		out, err = v.SignActivation(ctx, id.Tenant, certName, fwNonce, id.DeviceID)
		return err
	})
	return out, err
}

// SignActivationByKey implements AMTKeyBackend.
func (b *VaultBackend) SignActivationByKey(ctx context.Context, c Caller, fp [32]byte, certName string, fwNonce []byte) (*vault.DeviceIdentity, *vault.AMTActivation, error) {
	var id *vault.DeviceIdentity
	var out *vault.AMTActivation
	err := b.call(ctx, c, func(ctx context.Context, v *vault.Vault) error {
		var err error
		id, out, err = v.SignActivationByKey(ctx, "", fp, certName, fwNonce)
		return err
	})
	return id, out, err
}

func (x *deviceService) SignActivation(ctx context.Context, req *connect.Request[keysmithv1.SignActivationRequest]) (*connect.Response[keysmithv1.SignActivationResponse], error) {
	var byKey func(ctx context.Context, c Caller, fp [32]byte) (*vault.DeviceIdentity, error)
	var a *vault.AMTActivation
	var signErr error
	signed := false
	if kb, ok := x.s.opts.Backend.(AMTKeyBackend); ok {
		// Over mTLS: the device found and its signature in one read.
		byKey = func(ctx context.Context, c Caller, fp [32]byte) (*vault.DeviceIdentity, error) {
			id, act, err := kb.SignActivationByKey(ctx, c, fp, req.Msg.GetCertName(), req.Msg.GetFwNonce())
			if id == nil {
				return nil, err
			}
			a, signErr, signed = act, err, true
			return id, nil
		}
	}
	id, c, err := x.authenticateBy(ctx, "SignActivation", "amt-sign", req.Header(), byKey)
	if err != nil {
		return nil, deviceFailure(err)
	}
	if signed {
		err = signErr
	} else {
		ab, ok := x.s.opts.Backend.(AMTBackend)
		if !ok {
			return nil, deviceFailure(errNoDevices)
		}
		a, err = ab.SignActivation(ctx, c, id, req.Msg.GetCertName(), req.Msg.GetFwNonce())
	}
	x.s.logDevice(ctx, "SignActivation", c, id, err)
	if err != nil {
		return nil, deviceFailure(err)
	}
	fp, err := hex.DecodeString(a.RootFingerprint)
	if err != nil {
		return nil, deviceFailure(err)
	}
	return connect.NewResponse(&keysmithv1.SignActivationResponse{Nonce: a.Nonce, Signature: a.Signature,
		CertificateChain: a.Chain, RootFingerprint: fp}), nil
}
