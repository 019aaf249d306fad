package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

const testMasterKey = "1111111111111111111111111111111111111111111111111111111111111111"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until buf holds s.
func waitFor(t *testing.T, buf *syncBuffer, s string) {
	t.Helper()
	for i := 0; !strings.Contains(buf.String(), s); i++ {
		if i > 400 {
			t.Fatalf("no %q in:\n%s", s, buf.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// certPair writes a new key and certificate for 127.0.0.1 under dir and
// returns the files and the SPKI fingerprint.
func certPair(t *testing.T, dir string) (certFile, keyFile, fp string) {
	t.Helper()
	src, _, err := server.SelfSigned(dir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), src.Fingerprint()
}

// connects is nil when a call pinning fp reaches the server (and is
// refused for its unknown token).
func connects(addr, fp string) error {
	tok, _ := client.NewToken(rand.Reader)
	c, err := client.New(addr, client.Options{Token: tok, Fingerprint: fp, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.GetSecret(context.Background(), "", "A", "")
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == connect.CodeUnauthenticated {
		return nil
	}
	if err == nil {
		return errors.New("read with an unknown token")
	}
	return err
}

// TestSIGHUPReloadsTLSFiles: keysmith serve --tls-cert/--tls-key reads the
// files again on SIGHUP: a client pinning the new certificate's
// fingerprint connects, one pinning the old is refused; a broken file
// keeps the certificate in use (with a warning); SIGTERM exits nil.
func TestSIGHUPReloadsTLSFiles(t *testing.T) {
	dir := t.TempDir()
	mk, err := masterkey.Parse(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "vault.db")
	st, err := sqlite.Create(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Create(context.Background(), st, "dev", mk, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	getenv := func(k string) string {
		if k == "KEYSMITH_MASTER_KEY" {
			return testMasterKey
		}
		return ""
	}
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}, Getenv: getenv, Rand: rand.Reader, Now: time.Now,
		Config: &cmdutil.Config{Env: "dev", EnvFrom: "default", Vault: path, Tenant: "default", Roles: cmdutil.DefaultRoles,
			ConfigDir: filepath.Join(dir, "config"), DataDir: filepath.Join(dir, "data")}}
	f.SetVaultDefaults()

	certFile, keyFile, fp1 := certPair(t, filepath.Join(dir, "a"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var sigs chan<- os.Signal
	got := make(chan struct{})
	opts := &Options{F: f, Listen: addr, TLSCert: certFile, TLSKey: keyFile, MaxRequestBytes: server.DefaultMaxRequestBytes,
		MaxCallTime: 5 * time.Second, DrainTime: 5 * time.Second, Signals: func(c chan<- os.Signal) { sigs = c; close(got) }}
	done := make(chan error, 1)
	go func() { done <- serveRun(opts) }()
	<-got
	waitFor(t, errOut, "serving keysmith.v1.SecretsService, keysmith.v1.DeviceService, grpc.health.v1.Health on "+addr)
	if err := connects(addr, fp1); err != nil {
		t.Fatalf("pinning the first certificate: %v", err)
	}

	// New files in place (renamed over the old, as a rotation tool does),
	// then SIGHUP.
	c2, k2, fp2 := certPair(t, filepath.Join(dir, "b"))
	for from, to := range map[string]string{c2: certFile, k2: keyFile} {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	if err := connects(addr, fp1); err != nil {
		t.Fatalf("before SIGHUP: %v", err)
	}
	sigs <- syscall.SIGHUP
	waitFor(t, errOut, "SIGHUP: reloaded the certificate (SPKI sha256 "+fp2+")")
	if err := connects(addr, fp2); err != nil {
		t.Fatalf("pinning the new certificate after SIGHUP: %v", err)
	}
	if err := connects(addr, fp1); !errors.Is(err, client.ErrUnavailable) || !strings.Contains(err.Error(), "not the pinned") {
		t.Fatalf("pinning the old certificate after SIGHUP: %v", err)
	}

	// A broken key file: warned, the certificate in use stays.
	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	sigs <- syscall.SIGHUP
	waitFor(t, errOut, "keeping the certificate in use")
	if err := connects(addr, fp2); err != nil {
		t.Fatalf("after a failed reload: %v", err)
	}

	sigs <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if strings.Contains(out.String()+errOut.String(), testMasterKey) {
		t.Fatal("the master key was printed")
	}
}
