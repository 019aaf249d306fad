package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/keysmith/keysmith/pkg/amt/amttest"
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

// BenchmarkSignActivationRPC16: 16 devices, each on its own warm mutual-TLS
// connection, call SignActivation on one server over SQLite on 127.0.0.1
// (the server and the 16 clients share the machine's cores); p50/p99 of
// one call (docs/benchmarks.md, "AMT activation signing"). closed: the 16
// sign back to back, each again as soon as its answer came. burst: the 16
// arrive at once, in waves (the next when all 16 have their answer), the
// clock of each call starting with its wave.
//
//	go test ./pkg/server -run '^$' -bench SignActivationRPC16 -benchtime 800x -count 3
func BenchmarkSignActivationRPC16(b *testing.B) {
	fx := start(b, server.Options{AuthFailures: -1}, nil)
	ctx := context.Background()
	if _, err := fx.op.AddAMTCert(ctx, vault.DefaultTenant, "intel-prov", amttest.Shared(b).Cert(b)); err != nil {
		b.Fatal(err)
	}
	var clients [16]*devConn
	fw := make([]byte, 20)
	sign := func(g int) error {
		_, err := clients[g].SignActivation(ctx, connect.NewRequest(&keysmithv1.SignActivationRequest{CertName: "intel-prov", FwNonce: fw}))
		return err
	}
	for g := range clients {
		d := provision(b, fx, fmt.Sprintf("amt-%02d", g), fmt.Sprintf("4c4c4544-0042-3510-8052-%012x", g), "server")
		clients[g] = fx.devClient(b, &d.cert)
		if err := sign(g); err != nil { // warm: TLS handshake, HTTP/2
			b.Fatal(err)
		}
	}
	report := func(b *testing.B, lat []time.Duration) {
		if len(lat) == 0 {
			return
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("closed", func(b *testing.B) {
		per := max(b.N/16, 1)
		var lat [16][]time.Duration
		var wg sync.WaitGroup
		b.ResetTimer()
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					t0 := time.Now()
					if err := sign(g); err != nil {
						b.Error(err)
						return
					}
					lat[g] = append(lat[g], time.Since(t0))
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		report(b, slices.Concat(lat[:]...))
	})
	b.Run("burst", func(b *testing.B) {
		var all []time.Duration
		b.ResetTimer()
		for range max(b.N/16, 1) {
			var wave [16]time.Duration
			var wg sync.WaitGroup
			start := make(chan struct{})
			var t0 time.Time
			for g := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := sign(g); err != nil {
						b.Error(err)
					}
					wave[g] = time.Since(t0)
				}()
			}
			t0 = time.Now()
			close(start)
			wg.Wait()
			if b.Failed() {
				return
			}
			all = append(all, wave[:]...)
		}
		b.StopTimer()
		report(b, all)
	})
}
