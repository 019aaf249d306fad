package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync"
	"time"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/devicecred"
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

// Session is a device session ChallengeLogin obtained.
type Session struct {
	Token            string // "ksd1_...": a bearer credential, never print or log it
	Expires          time.Time
	DeviceID         string
	Role, Tenant     string
	ChannelBound     bool // the answer was bound to the TLS connection (RFC 9266)
	ChallengeExpires time.Time
}

// connTrace records the connection a call went over.
type connTrace struct {
	mu   sync.Mutex
	conn net.Conn
}

func (t *connTrace) ctx(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		t.mu.Lock()
		t.conn = i.Conn
		t.mu.Unlock()
	}})
}

func (t *connTrace) get() net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn
}

// ChallengeLogin proves possession of the device key priv without mutual
// TLS: it asks for a challenge for deviceID in tenant ("" = the server's
// default), signs it, and keeps the device session the server returns for
// every later call of c (instead of Options.Token; Options.Certificate is
// not needed). When the server terminates TLS itself it asks for a
// channel-bound answer: the signature then covers the RFC 9266
// tls-exporter value of the connection the challenge came over, so the
// answer is good on that connection only. Call it before using c from
// several goroutines.
func (c *Client) ChallengeLogin(ctx context.Context, tenant, deviceID string, priv *ecdsa.PrivateKey) (*Session, error) {
	if priv == nil {
		return nil, fmt.Errorf("%w: no device key", ErrInvalid)
	}
	s, redialed, err := c.challengeOnce(ctx, tenant, deviceID, priv)
	if err != nil && redialed {
		// The connection changed between the challenge and the answer
		// (an idle connection closed): the bound answer cannot verify on
		// the new one. Once more, on the new connection.
		s, _, err = c.challengeOnce(ctx, tenant, deviceID, priv)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.session = s.Token
	c.mu.Unlock()
	return s, nil
}

// challengeOnce runs one challenge; redialed says the answer went over
// another connection than the challenge.
func (c *Client) challengeOnce(ctx context.Context, tenant, deviceID string, priv *ecdsa.PrivateKey) (*Session, bool, error) {
	var t1, t2 connTrace
	ch, err := c.BeginChallenge(t1.ctx(ctx), tenant, deviceID)
	if err != nil {
		return nil, false, err
	}
	defer clear(ch.Nonce)
	var sig []byte
	if ch.ChannelBound {
		tc, ok := t1.get().(*tls.Conn)
		if !ok {
			return nil, false, fmt.Errorf("%w: the server asks for a channel-bound answer, but the challenge did not come over TLS", ErrUnavailable)
		}
		st := tc.ConnectionState()
		b, err := devicecred.ChannelBinding(&st)
		if err != nil {
			return nil, false, fmt.Errorf("%w: channel binding: %v", ErrUnavailable, err)
		}
		sig, err = devicecred.SignChallengeBound(priv, deviceID, ch.Nonce, b)
		if err != nil {
			return nil, false, err
		}
	} else {
		sig, err = devicecred.SignChallenge(priv, deviceID, ch.Nonce)
		if err != nil {
			return nil, false, err
		}
	}
	ctx2, cancel := c.ctx(t2.ctx(ctx))
	defer cancel()
	res, err := c.dev.CompleteChallenge(ctx2, request(c, &keysmithv1.CompleteChallengeRequest{DeviceId: deviceID, Tenant: tenant, Nonce: ch.Nonce, Signature: sig}))
	if err != nil {
		redialed := ch.ChannelBound && t2.get() != nil && t2.get() != t1.get()
		return nil, redialed, c.wrap(err)
	}
	m := res.Msg
	return &Session{Token: m.SessionToken, Expires: time.Unix(m.ExpiresUnix, 0), DeviceID: m.DeviceId, Role: m.Role, Tenant: m.Tenant,
		ChannelBound: ch.ChannelBound, ChallengeExpires: ch.Expires}, false, nil
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
