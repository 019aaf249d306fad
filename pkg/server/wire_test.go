package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/keyring"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

// recorder is a TCP proxy keeping every byte the server sends.
type recorder struct {
	mu   sync.Mutex
	sent bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sent.Write(p)
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.sent.Bytes())
}

// proxy accepts on a new loopback port and relays to addr, recording
// what comes back.
func proxy(t *testing.T, addr string, rec *recorder) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(io.MultiWriter(rec, c), s); c.Close() }() // recorded before the client can see it
		}
	}()
	return ln.Addr().String()
}

// TestNothingSecretOnTheWire: every byte the server sends over TCP (here
// h2c through a recording proxy, so the bytes can be read; on TCP the
// server always adds TLS) to a second service trying every RPC on the
// first service's secret, and to the first service reading it, holds no
// master key, no data key and no plaintext of a secret not granted to the
// caller. The granted value read is seen, so the recording would show one.
func TestNothingSecretOnTheWire(t *testing.T) {
	fx := start(t, server.Options{}, nil)
	fx.stop(t) // serve the same vault again, in clear, for the recording
	v := openVault(t, fx.path, fx.key, "server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.New(server.Options{Backend: server.NewVaultBackend(v, "server", nil)}).Serve(ctx, ln, nil)
	}()
	t.Cleanup(func() { cancel(); <-done; v.Close() })

	tokA := fx.grant(t, "orders", "ORDERS_DB", "orders-plaintext-granted")
	fx.op.Put(context.Background(), vault.DefaultTenant, "PAYMENTS_KEY", []byte("payments-plaintext-never-sent"), "")
	tokB := fx.grant(t, "billing", "BILLING_DB", "billing-plaintext")

	rec := &recorder{}
	conn, err := grpc.NewClient(proxy(t, ln.Addr().String(), rec), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	call := func(method string, req, res any) { conn.Invoke(context.Background(), method, req, res) }
	// billing tries the ungranted names every way it can.
	for _, n := range []string{"ORDERS_DB", "PAYMENTS_KEY"} {
		call(rpcGetSecret, &keysmithv1.GetSecretRequest{SecretName: n, Token: tokB}, &keysmithv1.GetSecretResponse{})
		call(rpcGetSecrets, &keysmithv1.GetSecretsRequest{Token: tokB, Secrets: []*keysmithv1.SecretRef{{SecretName: "BILLING_DB"}, {SecretName: n}}}, &keysmithv1.GetSecretsResponse{})
	}
	call(rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "orders", Token: tokB}, &keysmithv1.RegisterTokenResponse{})
	call(rpcRegisterToken, &keysmithv1.RegisterTokenRequest{ServiceName: "billing", Token: tokB}, &keysmithv1.RegisterTokenResponse{})
	grpc_health_v1.NewHealthClient(conn).Check(context.Background(), &grpc_health_v1.HealthCheckRequest{})
	// orders reads its own, and asks for PAYMENTS_KEY with it (all or nothing).
	call(rpcGetSecrets, &keysmithv1.GetSecretsRequest{Token: tokA, Secrets: []*keysmithv1.SecretRef{{SecretName: "ORDERS_DB"}, {SecretName: "PAYMENTS_KEY"}}}, &keysmithv1.GetSecretsResponse{})
	res := &keysmithv1.GetSecretResponse{}
	if err := conn.Invoke(context.Background(), rpcGetSecret, &keysmithv1.GetSecretRequest{SecretName: "ORDERS_DB", Token: tokA}, res); err != nil || res.Value != "orders-plaintext-granted" {
		t.Fatalf("orders' own read: %v %v", res, err)
	}
	conn.Close()

	sent := rec.bytes()
	if !bytes.Contains(sent, []byte("orders-plaintext-granted")) {
		t.Fatal("the recording does not show the value that was read")
	}
	if bytes.Count(sent, []byte("orders-plaintext-granted")) != 1 {
		t.Error("orders' value sent more than once: its ungranted GetSecrets returned it")
	}
	kb := fx.key.Bytes()
	never := map[string][]byte{
		"the master key":             kb,
		"the master key (text)":      []byte(fx.key.Text()),
		"the master key (hex)":       []byte(hex.EncodeToString(kb)),
		"the master key (base64)":    []byte(base64.StdEncoding.EncodeToString(kb)),
		"the master key (base64url)": []byte(base64.RawURLEncoding.EncodeToString(kb)),
		"an ungranted value":         []byte("payments-plaintext-never-sent"),
		"billing's own token":        []byte(tokB),
		"orders' token":              []byte(tokA),
	}
	for i, dek := range dataKeys(t, fx) {
		never[fmt.Sprintf("data key %d", i)] = dek
		never[fmt.Sprintf("data key %d (hex)", i)] = []byte(hex.EncodeToString(dek))
		never[fmt.Sprintf("data key %d (base64)", i)] = []byte(base64.StdEncoding.EncodeToString(dek))
	}
	for what, b := range never {
		if bytes.Contains(sent, b) {
			t.Errorf("the server sent %s", what)
		}
	}
}

// dataKeys are the vault's unwrapped data keys, read from the SQLite file
// and unwrapped with the vault's own keyring.
func dataKeys(t *testing.T, fx *fixture) [][]byte {
	t.Helper()
	in, err := fx.op.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vid, _ := hex.DecodeString(in.VaultID)
	keys, err := keyring.Derive(fx.key, in.Env, vid, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.OpenDB(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT tenant_id, version, wrapped FROM deks")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var tid int64
		var ver int
		var wrapped []byte
		if err := rows.Scan(&tid, &ver, &wrapped); err != nil {
			t.Fatal(err)
		}
		dek, err := keys.UnwrapDEKBytes(tid, ver, wrapped)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dek, wrapped)
	}
	if len(out) == 0 {
		t.Fatal("no data keys")
	}
	return out
}
