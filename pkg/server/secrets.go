package server

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/api/keysmith/v1/keysmithv1connect"
	"github.com/keysmith/keysmith/pkg/vault"
)

// maxNames bounds one GetSecrets call.
const maxNames = 1000

// secretsService implements keysmith.v1.SecretsService.
type secretsService struct {
	s *Server
}

var _ keysmithv1connect.SecretsServiceHandler = secretsService{}

// token is the request's token, else the bearer token of the metadata.
func token(field string, h interface{ Get(string) string }) string {
	if field != "" {
		return strings.TrimSpace(field)
	}
	auth := h.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

func (x secretsService) GetSecret(ctx context.Context, req *connect.Request[keysmithv1.GetSecretRequest]) (*connect.Response[keysmithv1.GetSecretResponse], error) {
	m := req.Msg
	c := callerOf(ctx, token(m.Token, req.Header()))
	read, err := x.s.read(ctx, "GetSecret", c, m.Tenant, []SecretRef{{Name: m.SecretName, Description: m.Description}})
	if err != nil {
		return nil, failure(err, func(msg string, reason keysmithv1.ErrorReason) *connect.ErrorDetail {
			res := results(err, []SecretRef{{Name: m.SecretName}})
			d, _ := connect.NewErrorDetail(&keysmithv1.GetSecretResponse{Success: false, ErrorMessage: msg, Reason: reason, Status: res[0].Status})
			return d
		})
	}
	sec := read.Secrets[0]
	defer clear(sec.Value)
	out := &keysmithv1.GetSecretResponse{Success: true, Version: int32(sec.Version), Status: keysmithv1.SecretStatus_SECRET_STATUS_OK}
	out.Value, out.ValueBytes = encodeValue(sec.Value)
	return connect.NewResponse(out), nil
}

func (x secretsService) GetSecrets(ctx context.Context, req *connect.Request[keysmithv1.GetSecretsRequest]) (*connect.Response[keysmithv1.GetSecretsResponse], error) {
	m := req.Msg
	c := callerOf(ctx, token(m.Token, req.Header()))
	if len(m.Secrets) == 0 || len(m.Secrets) > maxNames {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("GetSecrets takes 1 to 1000 names"))
	}
	refs := make([]SecretRef, len(m.Secrets))
	for i, r := range m.Secrets {
		refs[i] = SecretRef{Name: r.SecretName, Description: r.Description}
	}
	read, err := x.s.read(ctx, "GetSecrets", c, m.Tenant, refs)
	if err != nil {
		return nil, failure(err, func(msg string, reason keysmithv1.ErrorReason) *connect.ErrorDetail {
			d, _ := connect.NewErrorDetail(&keysmithv1.GetSecretsResponse{Results: results(err, refs), Success: false, ErrorMessage: msg, Reason: reason})
			return d
		})
	}
	out := &keysmithv1.GetSecretsResponse{Success: true}
	for _, sec := range read.Secrets {
		r := &keysmithv1.SecretResult{SecretName: sec.Name, Status: keysmithv1.SecretStatus_SECRET_STATUS_OK, Version: int32(sec.Version)}
		r.Value, r.ValueBytes = encodeValue(sec.Value)
		clear(sec.Value)
		out.Results = append(out.Results, r)
	}
	return connect.NewResponse(out), nil
}

// encodeValue puts a value in the string field when it is UTF-8 (protobuf
// strings must be), else in the bytes field.
func encodeValue(v []byte) (string, []byte) {
	if utf8.Valid(v) {
		return string(v), nil
	}
	return "", append([]byte(nil), v...)
}

// results is the per-name status of a failed read.
func results(err error, refs []SecretRef) []*keysmithv1.SecretResult {
	out := make([]*keysmithv1.SecretResult, len(refs))
	var ae *vault.AccessError
	isAccess := errors.As(err, &ae)
	for i, r := range refs {
		res := &keysmithv1.SecretResult{SecretName: r.Name, Status: keysmithv1.SecretStatus_SECRET_STATUS_UNSPECIFIED}
		if isAccess {
			res.Status, res.Message = keysmithv1.SecretStatus_SECRET_STATUS_NOT_READ, "granted, not read: other secrets are not available"
			for _, p := range ae.Problems {
				if p.Name != r.Name {
					continue
				}
				res.Message, res.RequestId = p.Reason, p.Request
				switch {
				case p.Denied:
					res.Status = keysmithv1.SecretStatus_SECRET_STATUS_DENIED
				case strings.HasPrefix(p.Reason, "missing"):
					res.Status = keysmithv1.SecretStatus_SECRET_STATUS_MISSING
				default:
					res.Status = keysmithv1.SecretStatus_SECRET_STATUS_PENDING_APPROVAL
				}
			}
		}
		out[i] = res
	}
	return out
}

func (x secretsService) RegisterToken(ctx context.Context, req *connect.Request[keysmithv1.RegisterTokenRequest]) (*connect.Response[keysmithv1.RegisterTokenResponse], error) {
	m := req.Msg
	c := callerOf(ctx, token(m.Token, req.Header()))
	tok, created, err := x.s.register(ctx, c, m.ServiceName, m.ServiceVersion)
	if err != nil {
		return nil, failure(err, func(msg string, reason keysmithv1.ErrorReason) *connect.ErrorDetail {
			d, _ := connect.NewErrorDetail(&keysmithv1.RegisterTokenResponse{Message: msg, Reason: reason})
			return d
		})
	}
	out := &keysmithv1.RegisterTokenResponse{TokenId: tok.ID, Created: created}
	switch tok.Status {
	case vault.TokenApproved:
		out.Status, out.Message = keysmithv1.RegistrationStatus_APPROVED, "token "+tok.ID+" is approved"
	case vault.TokenDenied:
		out.Status, out.Message = keysmithv1.RegistrationStatus_DENIED, "token "+tok.ID+" was denied"
	case vault.TokenRevoked:
		out.Status, out.Message = keysmithv1.RegistrationStatus_REVOKED, "token "+tok.ID+" was revoked"
	default:
		out.Status, out.Message = keysmithv1.RegistrationStatus_PENDING_APPROVAL, "token "+tok.ID+" is pending approval: an operator approves it with: keysmith token approve "+tok.ID
	}
	return connect.NewResponse(out), nil
}
