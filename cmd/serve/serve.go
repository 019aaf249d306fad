// Package serve implements "keysmith serve": the secrets service of
// pkg/server (docs/server.md).
package serve

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

// DefaultListen is where the server listens without --listen.
const DefaultListen = "127.0.0.1:7743"

// Options are the inputs of "keysmith serve".
type Options struct {
	F               *cmdutil.Factory
	Listen          string
	TLSCert, TLSKey string
	RotateEvery     time.Duration
	AuthFailures    int
	MaxRequestBytes int
	MaxCallTime     time.Duration
	DrainTime       time.Duration
	Fingerprint     bool // print the certificate's fingerprint and exit

	// Signals delivers SIGTERM/SIGINT (stop) and SIGHUP (reload); tests replace it.
	Signals func(chan<- os.Signal)
}

// NewCmdServe returns "keysmith serve".
func NewCmdServe(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f, Signals: func(c chan<- os.Signal) {
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	}}
	cmd := &cobra.Command{
		Use:   "serve [--listen <addr>] [--vault <file>] [--tls-cert <pem> --tls-key <pem>] [--rotate-every <duration>]",
		Short: "Serve the vault's secrets to services over gRPC: they hold a token, never the master key",
		Long: `Serve keysmith.v1.SecretsService (GetSecret, GetSecrets, RegisterToken),
keysmith.v1.DeviceService (devices with their provisioned key: mutual TLS
or a challenge session) and grpc.health.v1 on one port: gRPC, gRPC-Web and
Connect over HTTP/2. The master key is resolved once, at start, from the
usual key sources (key command, key file, KEYSMITH_MASTER_KEY) and never
leaves the process; services authenticate with their service token only,
devices with their key.

TCP is always TLS (1.3). With --tls-cert/--tls-key the server uses those
files and reads them again on SIGHUP. Without them it makes a P-256 key and
a self-signed certificate for the listen address in
$XDG_DATA_HOME/keysmith/serve (0600) on first start and prints the SHA-256
of its public key (SPKI): clients pin it with --server-fingerprint, or trust
a CA with --ca-file. --listen unix:/PATH serves plaintext on a unix socket
(mode 0660) for local callers.

Every decision is one audit row in the vault (with the caller's address
and user agent) and one JSON line on standard output. Failed
authentications are limited per address (--auth-failures a minute, then
ResourceExhausted; every attempt is still audited). SIGTERM or SIGINT stops
accepting calls, lets the calls in flight finish and exits 0. Error codes
and the protocol: docs/server.md.`,
		Example: `  $ keysmith serve --vault /var/lib/keysmith/vault.db --key-command 'vault kv get -field=key secret/keysmith'
  $ keysmith serve --listen 0.0.0.0:7743 --tls-cert /etc/keysmith/tls.crt --tls-key /etc/keysmith/tls.key
  $ keysmith serve --listen unix:/run/keysmith/keysmith.sock --rotate-every 720h
  $ keysmith serve --fingerprint`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return cmdutil.Usagef("--tls-cert and --tls-key go together")
			}
			if opts.RotateEvery < 0 || opts.RotateEvery > 0 && opts.RotateEvery < time.Minute {
				return cmdutil.Usagef("--rotate-every must be at least 1m (or 0: off)")
			}
			if opts.MaxRequestBytes < 1024 {
				return cmdutil.Usagef("--max-request-bytes must be at least 1024")
			}
			if runF != nil {
				return runF(opts)
			}
			return serveRun(opts)
		},
	}
	cmdutil.AddVaultFlags(cmd, true)
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", DefaultListen, "address to listen on: HOST:PORT (TLS) or unix:/PATH (plaintext, 0660)")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "PEM certificate chain of the server (reloaded on SIGHUP)")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.DurationVar(&opts.RotateEvery, "rotate-every", 0, "rotate each tenant's data key when it is this old, e.g. 720h (default off)")
	fl.IntVar(&opts.AuthFailures, "auth-failures", server.DefaultAuthFailures, "failed authentications allowed per address per minute (0: no limit)")
	fl.IntVar(&opts.MaxRequestBytes, "max-request-bytes", server.DefaultMaxRequestBytes, "largest request accepted")
	fl.DurationVar(&opts.MaxCallTime, "max-call-time", server.DefaultMaxCallTime, "deadline of every call")
	fl.DurationVar(&opts.DrainTime, "drain-time", server.DefaultDrainTime, "on SIGTERM, how long calls in flight may take to finish")
	fl.BoolVar(&opts.Fingerprint, "fingerprint", false, "print the SPKI fingerprint of the server's certificate (creating it) and exit")
	return cmd
}

// certDir is where the self-signed certificate lives.
func certDir(f *cmdutil.Factory) string { return filepath.Join(f.Config.DataDir, "serve") }

func certSource(opts *Options) (*server.CertSource, error) {
	f := opts.F
	if opts.TLSCert != "" {
		return server.LoadCertFiles(opts.TLSCert, opts.TLSKey)
	}
	src, created, err := server.SelfSigned(certDir(f), server.ListenNames(opts.Listen), f.Now())
	if err != nil {
		return nil, fmt.Errorf("server certificate in %q: %w", certDir(f), err)
	}
	if created {
		f.IO.Infof("created a P-256 key and a self-signed certificate in %s", certDir(f))
	}
	return src, nil
}

func serveRun(opts *Options) error {
	f := opts.F
	unixPath, isUnix := strings.CutPrefix(opts.Listen, "unix:")
	if opts.Fingerprint {
		if isUnix {
			return cmdutil.Usagef("--fingerprint: a unix socket has no certificate")
		}
		src, err := certSource(opts)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(f.IO.Out, src.Fingerprint())
		return err
	}
	if isUnix && opts.TLSCert != "" {
		return cmdutil.Usagef("--tls-cert: a unix socket is served in plaintext")
	}
	f.Serving = true
	server.TuneGC(os.Getenv)
	v, err := f.Vault()
	if err != nil {
		return err
	}
	backend := server.NewVaultBackend(v, cmdutil.Actor(), func() (*vault.Vault, error) { return f.Vault() })
	defer backend.Close()

	var src *server.CertSource
	var ln net.Listener
	if isUnix {
		if ln, err = listenUnix(unixPath); err != nil {
			return err
		}
	} else {
		if src, err = certSource(opts); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp", opts.Listen); err != nil {
			return fmt.Errorf("--listen %s: %w", opts.Listen, err)
		}
	}
	srv := server.New(server.Options{
		Backend:         backend,
		Tenant:          f.Config.Tenant,
		Log:             server.NewLogger(f.IO.Out),
		AuthFailures:    cmp(opts.AuthFailures, 0, -1),
		MaxRequestBytes: opts.MaxRequestBytes,
		MaxCallTime:     opts.MaxCallTime,
		DrainTime:       opts.DrainTime,
		Now:             f.Now,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	opts.Signals(sigs)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s == syscall.SIGHUP {
				if src == nil {
					continue
				}
				if err := src.Reload(); err != nil {
					f.IO.Warnf("SIGHUP: %v (keeping the certificate in use)", err)
				} else {
					f.IO.Infof("SIGHUP: reloaded the certificate (SPKI sha256 %s)", src.Fingerprint())
				}
				continue
			}
			f.IO.Infof("%s: no new calls; letting the calls in flight finish", s)
			cancel()
			return
		}
	}()
	if opts.RotateEvery > 0 {
		go rotateLoop(ctx, f, backend, opts.RotateEvery)
	}
	if src != nil {
		f.IO.Infof("serving %s on %s (TLS; certificate SPKI sha256 %s)", servedNames(), ln.Addr(), src.Fingerprint())
		err = srv.Serve(ctx, ln, src.TLSConfig())
	} else {
		f.IO.Infof("serving %s on unix:%s (plaintext, local socket)", servedNames(), unixPath)
		err = srv.Serve(ctx, ln, nil)
		os.Remove(unixPath)
	}
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	f.IO.Infof("stopped")
	return nil
}

func cmp(v, zero, then int) int {
	if v == zero {
		return then
	}
	return v
}

// listenUnix listens on path with mode 0660, replacing a stale socket that
// no server answers on.
func listenUnix(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("--listen unix:%s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("--listen unix:%s: another server is listening there", path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(0o117)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("--listen unix:%s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// rotateLoop is server.RotateLoop with its reports on stderr.
func rotateLoop(ctx context.Context, f *cmdutil.Factory, b server.Backend, every time.Duration) {
	server.RotateLoop(ctx, b, every, 0, func(tenant string, err error) {
		if err != nil {
			f.IO.Warnf("--rotate-every: %v", err)
		} else {
			f.IO.Infof("rotated the data key of tenant %s (older than %s)", tenant, every)
		}
	})
}

// servedNames is the start-up line's list of services: every keysmith
// service and grpc.health.v1.Health.
func servedNames() string {
	return strings.Join(append(server.ServiceNames(), server.HealthServiceName), ", ")
}
