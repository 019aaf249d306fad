package server_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

// BenchmarkDeviceVsToken compares, on one warm TLS connection each, an
// audited read by a device over mutual TLS (GetDeviceSecret: the key looked
// up by SPKI on every call) with an audited read by a service token
// (GetSecret). docs/benchmarks.md, "Devices over the network": the device
// call must cost at most 2x the token call.
//
//	go test ./pkg/server -run '^$' -bench DeviceVsToken -benchtime 2s
func BenchmarkDeviceVsToken(b *testing.B) {
	fx := start(b, server.Options{AuthFailures: -1}, nil)
	ctx := context.Background()
	a := provision(b, fx, "amt-01", uuidA, "server")
	if _, err := fx.op.SetDeviceSecret(ctx, vault.DefaultTenant, a.id, "WIFI_PSK", []byte("wifi-secret-value"), "bench"); err != nil {
		b.Fatal(err)
	}
	tok, id := newToken(b)
	if _, _, err := fx.op.RegisterToken(ctx, tok, "orders", ""); err != nil {
		b.Fatal(err)
	}
	if _, err := fx.op.ApproveToken(ctx, id); err != nil {
		b.Fatal(err)
	}
	if _, err := fx.op.Put(ctx, vault.DefaultTenant, "DB_URL", []byte("postgres://x"), ""); err != nil {
		b.Fatal(err)
	}
	if _, err := fx.op.GrantAccess(ctx, vault.DefaultTenant, "orders", "DB_URL"); err != nil {
		b.Fatal(err)
	}
	dc := fx.devClient(b, &a.cert)
	tc := fx.client(b, tok)
	// Warm both connections.
	if _, err := dc.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "WIFI_PSK"})); err != nil {
		b.Fatal(err)
	}
	if _, err := tc.GetSecret(ctx, "", "DB_URL", ""); err != nil {
		b.Fatal(err)
	}
	b.Run("token/GetSecret", func(b *testing.B) {
		for b.Loop() {
			if _, err := tc.GetSecret(ctx, "", "DB_URL", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mtls/GetDeviceSecret", func(b *testing.B) {
		for b.Loop() {
			if _, err := dc.GetDeviceSecret(ctx, connect.NewRequest(&keysmithv1.GetDeviceSecretRequest{Name: "WIFI_PSK"})); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mtls/Login", func(b *testing.B) {
		for b.Loop() {
			if _, err := dc.Login(ctx, connect.NewRequest(&keysmithv1.LoginRequest{})); err != nil {
				b.Fatal(err)
			}
		}
	})
}
