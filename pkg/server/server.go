package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/keysmith/keysmith/pkg/api/keysmith/v1/keysmithv1connect"
	"github.com/keysmith/keysmith/pkg/vault"
)

// Defaults of Options.
const (
	DefaultAuthFailures    = 10          // failed authentications per address ...
	DefaultAuthWindow      = time.Minute // ... per this window
	DefaultMaxRequestBytes = 1 << 20     // one request message
	DefaultMaxCallTime     = 30 * time.Second
	DefaultDrainTime       = 30 * time.Second
)

// Options configure a Server. Zero fields get the defaults.
type Options struct {
	Backend Backend
	Tenant  string       // the tenant of requests that name none
	Log     *slog.Logger // one JSON line per decision (NewLogger)

	AuthFailures    int           // failed authentications allowed per address per AuthWindow; < 0: no limit
	AuthWindow      time.Duration //
	MaxRequestBytes int           // largest request message
	MaxCallTime     time.Duration // a call's deadline is at most this
	DrainTime       time.Duration // how long Serve waits for in-flight calls on shutdown
	Now             func() time.Time
}

// Server serves the services in Services (keysmith.v1.SecretsService,
// keysmith.v1.DeviceService) and grpc.health.v1.Health, which reports each
// of them by name.
type Server struct {
	opts   Options
	lim    *limiter
	health *grpchealth.StaticChecker
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Tenant == "" {
		opts.Tenant = vault.DefaultTenant
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if opts.AuthFailures == 0 {
		opts.AuthFailures = DefaultAuthFailures
	}
	if opts.AuthWindow == 0 {
		opts.AuthWindow = DefaultAuthWindow
	}
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.MaxCallTime == 0 {
		opts.MaxCallTime = DefaultMaxCallTime
	}
	if opts.DrainTime == 0 {
		opts.DrainTime = DefaultDrainTime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{
		opts:   opts,
		lim:    newLimiter(opts.AuthFailures, opts.AuthWindow, opts.Now),
		health: grpchealth.NewStaticChecker(ServiceNames()...),
	}
}

// NewLogger returns the decision log: JSON lines on w in seed 003's shape
// (timestamp, level, service, secret_id, service_name, success, ip_address,
// user_agent, plus msg, rpc and code).
func NewLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.String("timestamp", a.Value.Time().UTC().Format(time.RFC3339Nano))
		}
		return a
	}}))
}

// Service is one service of the server: its full protobuf name (what the
// health service and the start-up line report) and how to build its
// handler with the server's shared handler options (the caller-identity and
// deadline interceptors, the request size limit). Every service is in
// Services, so a new one (the device service) gets the same limits, a
// health status and a place in the start-up line by being added there.
type Service struct {
	Name  string
	Mount func(s *Server, opts ...connect.HandlerOption) (path string, h http.Handler)
}

// Services are the keysmith services Handler serves, beside
// grpc.health.v1.Health.
var Services = []Service{{
	Name: keysmithv1connect.SecretsServiceName,
	Mount: func(s *Server, opts ...connect.HandlerOption) (string, http.Handler) {
		return keysmithv1connect.NewSecretsServiceHandler(secretsService{s}, opts...)
	},
}}

// HealthServiceName is grpc.health.v1's service, served beside Services.
const HealthServiceName = grpchealth.HealthV1ServiceName

// ServiceNames returns the names of Services, in order.
func ServiceNames() []string {
	names := make([]string, len(Services))
	for i, sv := range Services {
		names[i] = sv.Name
	}
	return names
}

// HandlerOptions are the options every mounted service gets.
//
// Responses are never compressed, whatever the client accepts: the values
// are secrets, random and incompressible, and compressing a secret beside
// content the caller chooses (a secret name, a description) leaks the
// secret through the compressed length (CRIME, BREACH). gzip requests are
// still read.
func (s *Server) HandlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithInterceptors(callerInterceptor{}, deadlineInterceptor{s.opts.MaxCallTime}),
		connect.WithReadMaxBytes(s.opts.MaxRequestBytes),
		connect.WithCompressMinBytes(math.MaxInt),
	}
}

// Handler returns the server's one HTTP handler: gRPC, gRPC-Web and
// Connect for every mounted service.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	opts := s.HandlerOptions()
	for _, sv := range Services {
		path, h := sv.Mount(s, opts...)
		mux.Handle(path, h)
	}
	mux.Handle(grpchealth.NewHandler(s.health, opts...))
	withTLS := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			r = r.WithContext(context.WithValue(r.Context(), tlsKey{}, r.TLS))
		}
		mux.ServeHTTP(w, r)
	})
	return http.MaxBytesHandler(withTLS, int64(s.opts.MaxRequestBytes)+4096)
}

type tlsKey struct{}

// TLSState returns the TLS connection state of the call in ctx (nil on a
// unix socket): the device service reads the peer's certificate from it.
func TLSState(ctx context.Context) *tls.ConnectionState {
	st, _ := ctx.Value(tlsKey{}).(*tls.ConnectionState)
	return st
}

// Serve serves on ln until ctx is done, then stops accepting, lets the
// calls in flight finish (at most DrainTime) and returns nil. With
// tlsConf, connections are TLS (HTTP/2 by ALPN); without, ln must be a unix
// socket and HTTP/2 is spoken in clear (prior knowledge), or HTTP/1.1.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConf *tls.Config) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(&errorLog{log: s.opts.Log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if tlsConf != nil {
		protocols.SetHTTP2(true)
		srv.TLSConfig = tlsConf.Clone() // http.Server changes the one it is given
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	srv.Protocols = &protocols
	errc := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	for _, name := range ServiceNames() {
		s.health.SetStatus(name, grpchealth.StatusNotServing)
	}
	s.health.SetStatus("", grpchealth.StatusNotServing)
	dctx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTime)
	defer cancel()
	err := srv.Shutdown(dctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

// errorLog sends net/http's own complaints (TLS handshake errors, ...) to
// the decision log at level WARN.
type errorLog struct {
	mu  sync.Mutex
	log *slog.Logger
}

func (e *errorLog) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log.Warn(strings.TrimSpace(string(p)), slog.String("service", "keysmith"))
	return len(p), nil
}

type callerKey struct{}

// CallerFrom returns the identity callerInterceptor put in ctx (address
// and user agent; the token is per RPC).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

func callerOf(ctx context.Context, tok string) Caller {
	c := CallerFrom(ctx)
	c.Token = tok
	return c
}

// callerInterceptor puts the caller's address and user agent in ctx.
type callerInterceptor struct{}

func (callerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		addr := req.Peer().Addr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		if addr == "" || addr == "@" {
			addr = "unix"
		}
		ua := sanitize(req.Header().Get("User-Agent"), 200)
		return next(context.WithValue(ctx, callerKey{}, Caller{RemoteAddr: addr, UserAgent: ua}), req)
	}
}

func (callerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (callerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		addr := conn.Peer().Addr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		return next(context.WithValue(ctx, callerKey{}, Caller{RemoteAddr: addr, UserAgent: sanitize(conn.RequestHeader().Get("User-Agent"), 200)}), conn)
	}
}

// deadlineInterceptor caps every call's deadline.
type deadlineInterceptor struct{ max time.Duration }

func (d deadlineInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, cancel := context.WithTimeout(ctx, d.max)
		defer cancel()
		return next(ctx, req)
	}
}

func (d deadlineInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (d deadlineInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, cancel := context.WithTimeout(ctx, d.max)
		defer cancel()
		return next(ctx, conn)
	}
}

// sanitize keeps printable ASCII of s, at most n bytes.
func sanitize(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			break
		}
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// read is every read RPC's decision: the rate limit, the backend, the
// log line per name.
func (s *Server) read(ctx context.Context, rpc string, c Caller, tenant string, refs []SecretRef) (*Read, error) {
	if tenant == "" {
		tenant = s.opts.Tenant
	}
	objs := names(refs)
	refuse := func(err error, why string) (*Read, error) {
		if aerr := s.opts.Backend.AuditRefused(ctx, c, "get", tenant, objs, why); aerr != nil {
			s.opts.Log.Error("audit failed", slog.String("service", "keysmith"), slog.String("error", aerr.Error()))
			return nil, aerr
		}
		s.logDecisions(ctx, rpc, c, "", objs, nil, err)
		return nil, err
	}
	if !s.lim.allowed(c.RemoteAddr) {
		return refuse(errRateLimited, "rate limited: too many failed authentications from "+c.RemoteAddr)
	}
	if c.Token == "" {
		s.lim.failed(c.RemoteAddr)
		return refuse(errNoToken, "no token")
	}
	read, err := s.opts.Backend.GetSecrets(ctx, c, tenant, refs)
	if err != nil {
		var te *vault.TokenError
		var ae *vault.AccessError
		svc := ""
		switch {
		case errors.As(err, &te):
			svc = te.Service
			if te.Service == "" { // malformed or unknown: a failed authentication
				s.lim.failed(c.RemoteAddr)
			}
		case errors.As(err, &ae):
			svc = ae.Service
		}
		s.logDecisions(ctx, rpc, c, svc, objs, nil, err)
		return nil, err
	}
	s.logDecisions(ctx, rpc, c, read.Service, objs, read, nil)
	return read, nil
}

// register is RegisterToken's decision.
func (s *Server) register(ctx context.Context, c Caller, service, version string) (*vault.Token, bool, error) {
	log := func(err error) {
		level, code := slog.LevelInfo, "ok"
		if err != nil {
			level = slog.LevelWarn
			cd, _ := classify(err)
			code = cd.String()
		}
		s.opts.Log.LogAttrs(ctx, level, "register token", slog.String("service", "keysmith"), slog.String("secret_id", ""),
			slog.String("service_name", sanitize(service, 64)), slog.Bool("success", err == nil), slog.String("ip_address", c.RemoteAddr),
			slog.String("user_agent", c.UserAgent), slog.String("rpc", "RegisterToken"), slog.String("code", code))
	}
	if !s.lim.allowed(c.RemoteAddr) {
		if aerr := s.opts.Backend.AuditRefused(ctx, c, "token-create", "", []string{""}, "rate limited: too many failed authentications from "+c.RemoteAddr); aerr != nil {
			return nil, false, aerr
		}
		log(errRateLimited)
		return nil, false, errRateLimited
	}
	if c.Token == "" {
		s.lim.failed(c.RemoteAddr)
		log(errNoToken)
		return nil, false, errNoToken
	}
	tok, created, err := s.opts.Backend.RegisterToken(ctx, c, service, version)
	if errors.Is(err, vault.ErrTokenConflict) {
		s.lim.failed(c.RemoteAddr)
	}
	log(err)
	return tok, created, err
}

// logDecisions writes one line per name.
func (s *Server) logDecisions(ctx context.Context, rpc string, c Caller, service string, objs []string, read *Read, err error) {
	level, code, msg := slog.LevelInfo, "ok", "read"
	if err != nil {
		cd, reason := classify(err)
		level, code, msg = slog.LevelWarn, cd.String(), "refused: "+strings.ToLower(strings.TrimPrefix(reason.String(), "ERROR_REASON_"))
	}
	for _, o := range objs {
		s.opts.Log.LogAttrs(ctx, level, msg, slog.String("service", "keysmith"), slog.String("secret_id", sanitize(o, 255)),
			slog.String("service_name", service), slog.Bool("success", err == nil), slog.String("ip_address", c.RemoteAddr),
			slog.String("user_agent", c.UserAgent), slog.String("rpc", rpc), slog.String("code", code))
	}
}
