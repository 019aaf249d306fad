package server_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// The server as a child process, so that it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("KEYSMITH_TEST_SERVE_CHILD") != "" {
		os.Exit(child())
	}
	os.Exit(m.Run())
}

// child serves the vault KEYSMITH_TEST_VAULT (a SQLite file or a
// postgres:// URL) with the hex key
// KEYSMITH_TEST_KEY and writes "ADDR FINGERPRINT" to KEYSMITH_TEST_READY.
func child() int {
	kb, _ := hex.DecodeString(os.Getenv("KEYSMITH_TEST_KEY"))
	k, err := masterkey.New(kb)
	if err != nil {
		return 2
	}
	path := os.Getenv("KEYSMITH_TEST_VAULT")
	var st store.Store
	if strings.HasPrefix(path, "postgres://") {
		st, err = postgres.Open(context.Background(), path)
	} else {
		st, err = sqlite.Open(context.Background(), path)
	}
	if err != nil {
		return 2
	}
	v, err := vault.Open(context.Background(), st, vault.Options{Actor: "child"})
	if err != nil || v.Unlock(context.Background(), k) != nil {
		return 2
	}
	ready := os.Getenv("KEYSMITH_TEST_READY")
	src, _, err := server.SelfSigned(filepath.Join(filepath.Dir(ready), "serve"), []string{"127.0.0.1"}, time.Now())
	if err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 2
	}
	os.WriteFile(ready+".tmp", []byte(ln.Addr().String()+" "+src.Fingerprint()), 0o600)
	os.Rename(ready+".tmp", ready)
	srv := server.New(server.Options{Backend: server.NewVaultBackend(v, "child", nil)})
	if err := srv.Serve(context.Background(), ln, src.TLSConfig()); err != nil {
		return 1
	}
	return 0
}

func startChild(t *testing.T, path string, k masterkey.Key) (cmd *exec.Cmd, addr, fp string) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KEYSMITH_TEST_SERVE_CHILD=1", "KEYSMITH_TEST_VAULT="+path,
		"KEYSMITH_TEST_KEY="+hex.EncodeToString(k.Bytes()), "KEYSMITH_TEST_READY="+ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		b, err := os.ReadFile(ready)
		if err == nil {
			addr, fp, _ = strings.Cut(string(b), " ")
			return cmd, addr, fp
		}
		if i > 400 {
			t.Fatal("the child server did not start")
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestKill9UnderLoad: 16 clients read while the server is killed with
// SIGKILL. Every call either returns the value or fails cleanly as
// unavailable; every read that returned was committed (its audit row is
// there); the vault verifies (vault verify: chain, row MACs, every
// secret opens); a new server serves the same vault. On SQLite and on
// PostgreSQL.
func TestKill9UnderLoad(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) { kill9UnderLoad(t, kind) })
	}
}

func kill9UnderLoad(t *testing.T, kind storeKind) {
	path := newVaultURL(t, kind, t.TempDir())
	k := testKey(t)
	op, err := vault.Create(context.Background(), openStore(t, path, true), "dev", k, vault.Options{Actor: "operator"})
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	tok, id := newToken(t)
	if _, _, err := op.RegisterToken(context.Background(), tok, "orders", ""); err != nil {
		t.Fatal(err)
	}
	op.ApproveToken(context.Background(), id)
	op.Put(context.Background(), vault.DefaultTenant, "DB_URL", []byte("value-1"), "")
	op.GrantAccess(context.Background(), vault.DefaultTenant, "orders", "DB_URL")

	cmd, addr, fp := startChild(t, path, k)
	var ok, clean atomic.Int64
	var dirty []error
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.New(addr, client.Options{Token: tok, Fingerprint: fp, Timeout: 5 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := c.GetSecret(context.Background(), "", "DB_URL", "")
				switch {
				case err == nil && string(s.Value) == "value-1":
					ok.Add(1)
				case errors.Is(err, client.ErrUnavailable):
					clean.Add(1)
					time.Sleep(10 * time.Millisecond)
				default:
					mu.Lock()
					dirty = append(dirty, err)
					mu.Unlock()
				}
			}
		}()
	}
	// Kill it once reads flow, a second into the load.
	for i := 0; ok.Load() == 0; i++ {
		if i > 600 {
			t.Fatal("no read succeeded in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(dirty) > 0 {
		t.Fatalf("%d unclean client errors, first: %v", len(dirty), dirty[0])
	}
	if ok.Load() == 0 || clean.Load() == 0 {
		t.Fatalf("%d reads, %d clean failures: the kill did not happen under load", ok.Load(), clean.Load())
	}
	recs, err := op.Audit(context.Background(), vault.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var audited int64
	for _, r := range recs {
		if r.Action == "get" && r.Success {
			audited++
		}
	}
	if audited < ok.Load() {
		t.Fatalf("%d reads returned, only %d audited: a committed read was lost", ok.Load(), audited)
	}
	if _, problems, err := op.VerifyAll(context.Background()); err != nil || len(problems) > 0 {
		t.Fatalf("vault verify: %v %v", problems, err)
	}
	if err := op.CheckIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d reads, %d clean failures, %d audited reads", ok.Load(), clean.Load(), audited)
	_, addr, fp = startChild(t, path, k)
	c, _ := client.New(addr, client.Options{Token: tok, Fingerprint: fp})
	if s, err := c.GetSecret(context.Background(), "", "DB_URL", ""); err != nil || string(s.Value) != "value-1" {
		t.Fatalf("after restart: %v", err)
	}
}
