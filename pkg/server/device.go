package server

// keysmith.v1.DeviceService (docs/server.md, "Devices"): devices call with
// the P-256 key keysmith provisioned for them, presented as a TLS client
// certificate (mutual TLS: any issuer, dates ignored, the SHA-256 of the
// leaf's SPKI looked up among active device keys) or as a device session
// ("authorization: Bearer ksd1_...") from BeginChallenge/CompleteChallenge.
// A device identity never authorises SecretsService and a service token
// never authorises DeviceService.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/api/keysmith/v1/keysmithv1connect"
	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/vault"
)

// Device session lifetime and challenge lifetime.
const (
	DeviceSessionTTL   = 15 * time.Minute
	DeviceChallengeTTL = vault.DeviceChallengeTTL
)

// DeviceBackend is what DeviceService needs from the vault core. Its
// errors are the vault's kinds, mapped in errors.go. *VaultBackend
// implements it; a Backend that does not leaves DeviceService
// unimplemented. All methods are safe for concurrent use.
type DeviceBackend interface {
	// DeviceByKey returns the device whose active key at its current role
	// has SPKI fingerprint fp, in tenant ("" = any tenant). It reads only.
	DeviceByKey(ctx context.Context, c Caller, tenant string, fp [32]byte) (*vault.DeviceIdentity, error)
	// DeviceBySession is DeviceByKey for the tenant ID a session carries.
	DeviceBySession(ctx context.Context, c Caller, tenantID int64, fp [32]byte) (*vault.DeviceIdentity, error)
	// DeviceSessionKey is the key that MACs device sessions (the same
	// for every server on the store).
	DeviceSessionKey() ([]byte, error)
	// IssueDeviceChallenge stores a fresh nonce for device (ID, name or
	// UUID) in tenant.
	IssueDeviceChallenge(ctx context.Context, c Caller, tenant, device string, ttl time.Duration) (*vault.Challenge, error)
	// VerifyDeviceChallenge checks and consumes a challenge answer, bound
	// to binding when it is not nil.
	VerifyDeviceChallenge(ctx context.Context, c Caller, tenant, device string, nonce, binding, sig []byte) (*vault.DeviceIdentity, error)
	// ApplyDeviceReport applies rep for id's own device and returns the
	// version of each secret it names.
	ApplyDeviceReport(ctx context.Context, c Caller, id *vault.DeviceIdentity, rep *vault.Report) (*vault.ReportResult, map[string]int, error)
	// OwnDeviceSecret reads the latest version of id's own secret name.
	OwnDeviceSecret(ctx context.Context, c Caller, id *vault.DeviceIdentity, name string) (*vault.DeviceSecret, error)
	// AuditDeviceRefused records a refused device call.
	AuditDeviceRefused(ctx context.Context, c Caller, action, tenant, object, reason string) error
}

// deviceService implements keysmith.v1.DeviceService.
//
// SignActivation is not implemented here: pkg/server/amtsign.go adds
//
//	func (x *deviceService) SignActivation(ctx context.Context, req *connect.Request[keysmithv1.SignActivationRequest]) (*connect.Response[keysmithv1.SignActivationResponse], error)
//
// which starts with
//
//	id, c, err := x.authenticate(ctx, "SignActivation", "amt-sign", req.Header())
//	if err != nil { return nil, deviceFailure(err) }
//
// and then asks its own backend interface (asserted on x.s.opts.Backend,
// as devices() does for DeviceBackend). Until then the embedded
// UnimplementedDeviceServiceHandler answers Unimplemented.
type deviceService struct {
	keysmithv1connect.UnimplementedDeviceServiceHandler
	s *Server
	b DeviceBackend
}

var _ keysmithv1connect.DeviceServiceHandler = (*deviceService)(nil)

func init() {
	Services = append(Services, Service{
		Name: keysmithv1connect.DeviceServiceName,
		Mount: func(s *Server, opts ...connect.HandlerOption) (string, http.Handler) {
			return keysmithv1connect.NewDeviceServiceHandler(s.devices(), opts...)
		},
	})
}

// devices is the server's DeviceService.
func (s *Server) devices() *deviceService {
	b, _ := s.opts.Backend.(DeviceBackend)
	return &deviceService{s: s, b: b}
}

// Device authentication refusals (errors.go maps them).
var (
	errNoDeviceCredential = errors.New("no device credential: present the device key as the TLS client certificate, or send authorization: Bearer ksd1_... from CompleteChallenge")
	errServiceTokenDevice = errors.New("a service token does not authorise DeviceService: present the device key")
	errNoDevices          = errors.New("this server does not serve devices")
)

// authenticate decides who a device call is from: the session in the
// authorization metadata, else the TLS client certificate. Each refusal is
// counted against the address's failed-authentication limit, logged and
// audited (action names the call's audit action).
func (x *deviceService) authenticate(ctx context.Context, rpc, action string, h http.Header) (*vault.DeviceIdentity, Caller, error) {
	return x.authenticateBy(ctx, rpc, action, h, nil)
}

// authenticateBy is authenticate with byKey, when not nil, in place of
// DeviceByKey for a caller identified by its TLS client key (a call that
// identifies the device and does its work in one read of the vault:
// SignActivation). byKey's error is a refusal of the identity, audited
// and logged as DeviceByKey's is.
func (x *deviceService) authenticateBy(ctx context.Context, rpc, action string, h http.Header, byKey func(ctx context.Context, c Caller, fp [32]byte) (*vault.DeviceIdentity, error)) (*vault.DeviceIdentity, Caller, error) {
	c := CallerFrom(ctx)
	if x.b == nil {
		return nil, c, errNoDevices
	}
	object, how := "", ""
	refuse := func(err error, failed bool) (*vault.DeviceIdentity, Caller, error) {
		if failed {
			x.s.lim.failed(c.RemoteAddr)
		}
		_, reason := classify(err)
		why := fmt.Sprintf("%s refused (%s): %s", rpc, how, strings.ToLower(strings.TrimPrefix(reason.String(), "ERROR_REASON_")))
		if aerr := x.b.AuditDeviceRefused(ctx, c, action, "", object, why+": "+err.Error()); aerr != nil {
			x.s.opts.Log.Error("audit failed", slog.String("service", "keysmith"), slog.String("error", aerr.Error()))
			return nil, c, aerr
		}
		x.s.logDevice(ctx, rpc, c, nil, err)
		return nil, c, err
	}
	if !x.s.lim.allowed(c.RemoteAddr) {
		how = "rate limit"
		return refuse(errRateLimited, false)
	}
	tok := token("", h)
	switch {
	case strings.HasPrefix(tok, devicecred.SessionPrefix):
		how = "session"
		key, err := x.b.DeviceSessionKey()
		if err != nil {
			return nil, c, err
		}
		sess, err := devicecred.VerifySession(key, tok, x.s.opts.Now())
		clear(key)
		if err != nil {
			return refuse(err, true)
		}
		object = fmt.Sprintf("%x", sess.Fingerprint)
		id, err := x.b.DeviceBySession(ctx, c, sess.TenantID, sess.Fingerprint)
		if err != nil {
			return refuse(err, true)
		}
		c.Token = "session"
		return id, c, nil
	case tok != "":
		how = "token"
		return refuse(errServiceTokenDevice, true)
	}
	fp, ok := devicecred.PeerSPKIFingerprint(TLSState(ctx))
	if !ok {
		how = "none"
		return refuse(errNoDeviceCredential, true)
	}
	how, object = "mtls", fmt.Sprintf("%x", fp)
	if byKey == nil {
		byKey = func(ctx context.Context, c Caller, fp [32]byte) (*vault.DeviceIdentity, error) {
			return x.b.DeviceByKey(ctx, c, "", fp)
		}
	}
	id, err := byKey(ctx, c, fp)
	if err != nil {
		return refuse(err, true)
	}
	c.Token = "mtls"
	return id, c, nil
}

// logDevice writes the decision line of a device call.
func (s *Server) logDevice(ctx context.Context, rpc string, c Caller, id *vault.DeviceIdentity, err error) {
	level, code, msg := slog.LevelInfo, "ok", "device call"
	if err != nil {
		cd, reason := classify(err)
		level, code, msg = slog.LevelWarn, cd.String(), "refused: "+strings.ToLower(strings.TrimPrefix(reason.String(), "ERROR_REASON_"))
	}
	attrs := []slog.Attr{slog.String("service", "keysmith"), slog.Bool("success", err == nil), slog.String("ip_address", c.RemoteAddr),
		slog.String("user_agent", c.UserAgent), slog.String("rpc", rpc), slog.String("code", code)}
	if id != nil {
		attrs = append(attrs, slog.String("device_id", id.DeviceID), slog.String("device_uuid", id.UUID), slog.String("tenant", id.Tenant),
			slog.String("key_id", id.KeyID), slog.String("auth", c.Token))
	}
	s.opts.Log.LogAttrs(ctx, level, msg, attrs...)
}

func (x *deviceService) Login(ctx context.Context, req *connect.Request[keysmithv1.LoginRequest]) (*connect.Response[keysmithv1.LoginResponse], error) {
	id, c, err := x.authenticate(ctx, "Login", "device-verify", req.Header())
	if err != nil {
		return nil, deviceFailure(err)
	}
	x.s.logDevice(ctx, "Login", c, id, nil)
	return connect.NewResponse(&keysmithv1.LoginResponse{DeviceId: id.DeviceID, Name: id.Name, Role: id.Role, Tenant: id.Tenant,
		DeviceUuid: id.UUID, KeyFingerprint: id.Fingerprint, AuthMethod: c.Token}), nil
}

// binding is the call's RFC 9266 channel binding when keysmith terminates
// its TLS 1.3 connection, else nil.
func binding(ctx context.Context) []byte {
	st := TLSState(ctx)
	if st == nil {
		return nil
	}
	b, err := devicecred.ChannelBinding(st)
	if err != nil {
		return nil
	}
	return b
}

func (x *deviceService) BeginChallenge(ctx context.Context, req *connect.Request[keysmithv1.BeginChallengeRequest]) (*connect.Response[keysmithv1.BeginChallengeResponse], error) {
	c := CallerFrom(ctx)
	m := req.Msg
	if x.b == nil {
		return nil, deviceFailure(errNoDevices)
	}
	tenant := m.Tenant
	if tenant == "" {
		tenant = x.s.opts.Tenant
	}
	if !x.s.lim.allowed(c.RemoteAddr) {
		_ = x.b.AuditDeviceRefused(ctx, c, "device-challenge", tenant, sanitize(m.DeviceId, 64), "BeginChallenge refused: rate limited: too many failed authentications from "+c.RemoteAddr)
		x.s.logDevice(ctx, "BeginChallenge", c, nil, errRateLimited)
		return nil, deviceFailure(errRateLimited)
	}
	if !vault.ValidDeviceID(m.DeviceId) {
		err := fmt.Errorf("%w: device ID %q (want dev_ and 16 hex digits)", vault.ErrInvalidName, sanitize(m.DeviceId, 64))
		_ = x.b.AuditDeviceRefused(ctx, c, "device-challenge", tenant, sanitize(m.DeviceId, 64), "BeginChallenge refused: invalid device ID")
		x.s.logDevice(ctx, "BeginChallenge", c, nil, err)
		return nil, deviceFailure(err)
	}
	ch, err := x.b.IssueDeviceChallenge(ctx, c, tenant, m.DeviceId, DeviceChallengeTTL)
	if err != nil {
		if errors.Is(err, vault.ErrNoDevice) {
			x.s.lim.failed(c.RemoteAddr)
		}
		x.s.logDevice(ctx, "BeginChallenge", c, nil, err)
		return nil, deviceFailure(err)
	}
	exp, _ := time.Parse(vault.TimeLayout, ch.ExpiresAt)
	x.s.logDevice(ctx, "BeginChallenge", c, nil, nil)
	return connect.NewResponse(&keysmithv1.BeginChallengeResponse{Nonce: ch.Nonce, ExpiresUnix: exp.Unix(), ChannelBound: binding(ctx) != nil}), nil
}

func (x *deviceService) CompleteChallenge(ctx context.Context, req *connect.Request[keysmithv1.CompleteChallengeRequest]) (*connect.Response[keysmithv1.CompleteChallengeResponse], error) {
	c := CallerFrom(ctx)
	m := req.Msg
	if x.b == nil {
		return nil, deviceFailure(errNoDevices)
	}
	tenant := m.Tenant
	if tenant == "" {
		tenant = x.s.opts.Tenant
	}
	if !x.s.lim.allowed(c.RemoteAddr) {
		_ = x.b.AuditDeviceRefused(ctx, c, "device-verify", tenant, sanitize(m.DeviceId, 64), "CompleteChallenge refused: rate limited: too many failed authentications from "+c.RemoteAddr)
		x.s.logDevice(ctx, "CompleteChallenge", c, nil, errRateLimited)
		return nil, deviceFailure(errRateLimited)
	}
	if !vault.ValidDeviceID(m.DeviceId) || len(m.Nonce) != devicecred.ChallengeSize || len(m.Signature) == 0 || len(m.Signature) > 128 {
		err := fmt.Errorf("%w: CompleteChallenge wants a device ID, the %d-byte nonce and a DER signature", vault.ErrInvalidName, devicecred.ChallengeSize)
		_ = x.b.AuditDeviceRefused(ctx, c, "device-verify", tenant, sanitize(m.DeviceId, 64), "CompleteChallenge refused: malformed answer")
		x.s.logDevice(ctx, "CompleteChallenge", c, nil, err)
		return nil, deviceFailure(err)
	}
	id, err := x.b.VerifyDeviceChallenge(ctx, c, tenant, m.DeviceId, m.Nonce, binding(ctx), m.Signature)
	if err != nil {
		x.s.lim.failed(c.RemoteAddr)
		x.s.logDevice(ctx, "CompleteChallenge", c, nil, err)
		return nil, deviceFailure(err)
	}
	key, err := x.b.DeviceSessionKey()
	if err != nil {
		return nil, deviceFailure(err)
	}
	defer clear(key)
	var fp [32]byte
	if raw, err := hex.DecodeString(id.Fingerprint); err != nil || len(raw) != len(fp) {
		return nil, deviceFailure(fmt.Errorf("%w: key fingerprint %q", vault.ErrTampered, id.Fingerprint))
	} else {
		copy(fp[:], raw)
	}
	exp := x.s.opts.Now().Add(DeviceSessionTTL)
	tok, err := devicecred.IssueSession(key, devicecred.Session{TenantID: id.TenantID, Fingerprint: fp, Expires: exp})
	if err != nil {
		return nil, deviceFailure(err)
	}
	c.Token = "challenge"
	x.s.logDevice(ctx, "CompleteChallenge", c, id, nil)
	return connect.NewResponse(&keysmithv1.CompleteChallengeResponse{SessionToken: tok, ExpiresUnix: exp.Unix(), DeviceId: id.DeviceID, Role: id.Role, Tenant: id.Tenant}), nil
}

func (x *deviceService) ReportProvisioning(ctx context.Context, req *connect.Request[keysmithv1.ReportProvisioningRequest]) (*connect.Response[keysmithv1.ReportProvisioningResponse], error) {
	id, c, err := x.authenticate(ctx, "ReportProvisioning", "device-report", req.Header())
	if err != nil {
		return nil, deviceFailure(err)
	}
	rep, err := vault.ParseReport(strings.NewReader(string(req.Msg.ReportJson)))
	if err != nil {
		_ = x.b.AuditDeviceRefused(ctx, c, "device-report", id.Tenant, id.Name, fmt.Sprintf("device %s, key %s: refused, invalid report", id.DeviceID, id.KeyID))
		x.s.logDevice(ctx, "ReportProvisioning", c, id, err)
		return nil, deviceFailure(err)
	}
	res, vers, err := x.b.ApplyDeviceReport(ctx, c, id, rep)
	if err != nil {
		x.s.logDevice(ctx, "ReportProvisioning", c, id, err)
		return nil, deviceFailure(err)
	}
	out := &keysmithv1.ReportProvisioningResponse{Status: "applied", RequestId: res.RequestID}
	if res.AlreadyApplied {
		out.Status = "already_applied"
	}
	for _, n := range res.Secrets {
		out.Secrets = append(out.Secrets, &keysmithv1.DeviceSecretVersion{Name: n, Version: int32(vers[n])})
	}
	x.s.logDevice(ctx, "ReportProvisioning", c, id, nil)
	return connect.NewResponse(out), nil
}

func (x *deviceService) GetDeviceSecret(ctx context.Context, req *connect.Request[keysmithv1.GetDeviceSecretRequest]) (*connect.Response[keysmithv1.GetDeviceSecretResponse], error) {
	id, c, err := x.authenticate(ctx, "GetDeviceSecret", "device-secret-get", req.Header())
	if err != nil {
		return nil, deviceFailure(err)
	}
	sec, err := x.b.OwnDeviceSecret(ctx, c, id, req.Msg.Name)
	if err != nil {
		x.s.logDevice(ctx, "GetDeviceSecret", c, id, err)
		return nil, deviceFailure(err)
	}
	out := &keysmithv1.GetDeviceSecretResponse{Value: append([]byte(nil), sec.Value...), Version: int32(sec.Version), Source: sec.Source}
	clear(sec.Value)
	x.s.logDevice(ctx, "GetDeviceSecret", c, id, nil)
	return connect.NewResponse(out), nil
}
