package client

import (
	"context"
	"time"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
)

// DeviceIdentity is who the server takes the caller to be.
type DeviceIdentity struct {
	DeviceID, Name, Role, Tenant, UUID string
	KeyFingerprint                     string
	AuthMethod                         string // "mtls" or "session"
}

// Login asks the server who the caller is: the device whose key the TLS
// client certificate (Options.Certificate) or the session (Options.Token,
// "ksd1_...") carries.
func (c *Client) Login(ctx context.Context) (*DeviceIdentity, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.dev.Login(ctx, request(c, &keysmithv1.LoginRequest{}))
	if err != nil {
		return nil, c.wrap(err)
	}
	m := res.Msg
	return &DeviceIdentity{DeviceID: m.DeviceId, Name: m.Name, Role: m.Role, Tenant: m.Tenant, UUID: m.DeviceUuid,
		KeyFingerprint: m.KeyFingerprint, AuthMethod: m.AuthMethod}, nil
}

// Challenge is a nonce issued by BeginChallenge.
type Challenge struct {
	Nonce        []byte
	Expires      time.Time
	ChannelBound bool // sign with devicecred.SignChallengeBound
}

// BeginChallenge asks for a single-use nonce for deviceID.
func (c *Client) BeginChallenge(ctx context.Context, tenant, deviceID string) (*Challenge, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.dev.BeginChallenge(ctx, request(c, &keysmithv1.BeginChallengeRequest{DeviceId: deviceID, Tenant: tenant}))
	if err != nil {
		return nil, c.wrap(err)
	}
	return &Challenge{Nonce: res.Msg.Nonce, Expires: time.Unix(res.Msg.ExpiresUnix, 0), ChannelBound: res.Msg.ChannelBound}, nil
}

// CompleteChallenge answers a challenge and returns the device session
// token ("ksd1_...") for later calls, with its expiry.
func (c *Client) CompleteChallenge(ctx context.Context, tenant, deviceID string, nonce, sig []byte) (string, time.Time, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.dev.CompleteChallenge(ctx, request(c, &keysmithv1.CompleteChallengeRequest{DeviceId: deviceID, Tenant: tenant, Nonce: nonce, Signature: sig}))
	if err != nil {
		return "", time.Time{}, c.wrap(err)
	}
	return res.Msg.SessionToken, time.Unix(res.Msg.ExpiresUnix, 0), nil
}

// ReportResult is the outcome of ReportProvisioning.
type ReportResult struct {
	Status    string // "applied" or "already_applied"
	RequestID string
	Secrets   map[string]int // name -> version stored
}

// ReportProvisioning sends a provisioning report (the JSON "keysmith device
// report apply" reads) for the caller's own device.
func (c *Client) ReportProvisioning(ctx context.Context, report []byte) (*ReportResult, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.dev.ReportProvisioning(ctx, request(c, &keysmithv1.ReportProvisioningRequest{ReportJson: report}))
	if err != nil {
		return nil, c.wrap(err)
	}
	out := &ReportResult{Status: res.Msg.Status, RequestID: res.Msg.RequestId, Secrets: map[string]int{}}
	for _, s := range res.Msg.Secrets {
		out.Secrets[s.Name] = int(s.Version)
	}
	return out, nil
}

// DeviceSecret is one of the caller's device secrets.
type DeviceSecret struct {
	Name    string
	Version int
	Source  string
	Value   []byte
}

// GetDeviceSecret reads one of the caller's own device secrets.
func (c *Client) GetDeviceSecret(ctx context.Context, name string) (*DeviceSecret, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.dev.GetDeviceSecret(ctx, request(c, &keysmithv1.GetDeviceSecretRequest{Name: name}))
	if err != nil {
		return nil, c.wrap(err)
	}
	return &DeviceSecret{Name: name, Version: int(res.Msg.Version), Source: res.Msg.Source, Value: res.Msg.Value}, nil
}

// Activation is an AMT activation signature (docs/amt.md).
type Activation struct {
	Nonce           []byte
	Signature       []byte
	Chain           [][]byte // DER, leaf first
	RootFingerprint []byte
}

// SignActivation asks the server to sign fwNonce with the provisioning
// certificate certName.
func (c *Client) SignActivation(ctx context.Context, certName string, fwNonce []byte) (*Activation, error) {
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	res, err := c.dev.SignActivation(ctx, request(c, &keysmithv1.SignActivationRequest{CertName: certName, FwNonce: fwNonce}))
	if err != nil {
		return nil, c.wrap(err)
	}
	m := res.Msg
	return &Activation{Nonce: m.Nonce, Signature: m.Signature, Chain: m.CertificateChain, RootFingerprint: m.RootFingerprint}, nil
}
