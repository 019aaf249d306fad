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

var _ AMTBackend = (*VaultBackend)(nil)

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

func (x *deviceService) SignActivation(ctx context.Context, req *connect.Request[keysmithv1.SignActivationRequest]) (*connect.Response[keysmithv1.SignActivationResponse], error) {
	id, c, err := x.authenticate(ctx, "SignActivation", "amt-sign", req.Header())
	if err != nil {
		return nil, deviceFailure(err)
	}
	ab, ok := x.s.opts.Backend.(AMTBackend)
	if !ok {
		return nil, deviceFailure(errNoDevices)
	}
	a, err := ab.SignActivation(ctx, c, id, req.Msg.GetCertName(), req.Msg.GetFwNonce())
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
