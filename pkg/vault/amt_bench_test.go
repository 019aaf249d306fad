package vault

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/amt/amttest"
	"github.com/keysmith/keysmith/pkg/devicecred"
)

// concurrentLatency runs fn b.N times in all from 16 goroutines at once
// (fn gets the goroutine's number) and reports the p50/p99 latency of one
// call.
func concurrentLatency(b *testing.B, fn func(g int) error) {
	b.Helper()
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	per := max(b.N/16, 1)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, per)
			for range per {
				t0 := time.Now()
				if err := fn(g); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// burstLatency runs fn b.N times in all in waves of 16: the 16 calls of a
// wave start at once (fn gets the call's number in its wave), the next wave
// starts when all 16 have returned; it reports the p50/p99 latency of one
// call, from its wave's start. That is 16 devices arriving together, where
// concurrentLatency is 16 devices signing back to back forever.
func burstLatency(b *testing.B, fn func(g int) error) {
	b.Helper()
	waves := max(b.N/16, 1)
	lat := make([]time.Duration, 0, waves*16)
	var mine [16]time.Duration
	b.ResetTimer()
	for range waves {
		var wg sync.WaitGroup
		start := make(chan struct{})
		var failed sync.Once
		var t0 time.Time
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := fn(g); err != nil {
					failed.Do(func() { b.Error(err) })
				}
				mine[g] = time.Since(t0)
			}()
		}
		// The clock starts for all 16 at once: a call whose goroutine is
		// not yet running is already waiting.
		t0 = time.Now()
		close(start)
		wg.Wait()
		if b.Failed() {
			return
		}
		lat = append(lat, mine[:]...)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSignActivation16: 16 callers sign at once through the core
// (SQLite vault, every signature audited); p50/p99 latency per signature
// (docs/benchmarks.md, "AMT activation signing"). operator: SignActivation
// with no device (the benchmark's history). device: what keysmith serve
// does per mTLS call for 16 different devices, SignActivationByKey (the
// SPKI lookup, row MACs, the chain's revocation check and the signature's
// checks in one snapshot). device-two-reads: what it did before,
// DeviceByKey then SignActivation, two snapshots.
// device-burst: the device call, 16 devices arriving at once (burstLatency).
// floor: 16 goroutines doing only rsa.SignPKCS1v15 with the same key.
// floor-burst: floor in waves of 16 (burstLatency).
// floor-fifo: the same, at most GOMAXPROCS signing at a time and the rest
// waiting in arrival order, as SignActivation does.
//
//	go test ./pkg/vault -run '^$' -bench BenchmarkSignActivation16 -benchtime 800x -count 3
func BenchmarkSignActivation16(b *testing.B) {
	v, _, _ := newVault(b)
	c := amttest.Shared(b)
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "intel-prov", c.Cert(b)); err != nil {
		b.Fatal(err)
	}
	var fps [16][32]byte
	for i := range fps {
		priv, err := devicecred.Generate()
		if err != nil {
			b.Fatal(err)
		}
		spki, err := devicecred.SPKI(&priv.PublicKey)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.AddDeviceKeys(ctx, DefaultTenant, []KeyRequest{{Name: fmt.Sprintf("amt-%02d", i), Role: "server", SPKI: spki, Origin: KeyProvisioned}}); err != nil {
			b.Fatal(err)
		}
		fps[i] = sha256.Sum256(spki)
	}
	fw := make([]byte, 20)
	b.Run("operator", func(b *testing.B) {
		concurrentLatency(b, func(int) error {
			_, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, "")
			return err
		})
	})
	b.Run("device", func(b *testing.B) {
		concurrentLatency(b, func(g int) error {
			_, _, err := v.SignActivationByKey(ctx, "", fps[g], "intel-prov", fw)
			return err
		})
	})
	b.Run("device-burst", func(b *testing.B) {
		burstLatency(b, func(g int) error {
			_, _, err := v.SignActivationByKey(ctx, "", fps[g], "intel-prov", fw)
			return err
		})
	})
	b.Run("device-two-reads", func(b *testing.B) {
		concurrentLatency(b, func(g int) error {
			id, err := v.DeviceByKey(ctx, "", fps[g])
			if err != nil {
				return err
			}
			_, err = v.SignActivation(ctx, id.Tenant, "intel-prov", fw, id.DeviceID)
			return err
		})
	})
	digest := sha256.Sum256(make([]byte, 40))
	b.Run("floor", func(b *testing.B) {
		concurrentLatency(b, func(int) error {
			_, err := rsa.SignPKCS1v15(rand.Reader, c.LeafKey, crypto.SHA256, digest[:])
			return err
		})
	})
	b.Run("floor-burst", func(b *testing.B) {
		burstLatency(b, func(int) error {
			_, err := rsa.SignPKCS1v15(rand.Reader, c.LeafKey, crypto.SHA256, digest[:])
			return err
		})
	})
	b.Run("floor-fifo", func(b *testing.B) {
		gate := make(chan struct{}, runtime.GOMAXPROCS(0))
		concurrentLatency(b, func(int) error {
			gate <- struct{}{}
			defer func() { <-gate }()
			_, err := rsa.SignPKCS1v15(rand.Reader, c.LeafKey, crypto.SHA256, digest[:])
			return err
		})
	})
}
