package vault

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/amt/amttest"
)

// BenchmarkSignActivation16: 16 devices sign at once through the core
// (SQLite vault, audited); reports p50/p99 latency per signature.
func BenchmarkSignActivation16(b *testing.B) {
	v, _, _ := newVault(b)
	c := amttest.Shared(b)
	if _, err := v.AddAMTCert(ctx, DefaultTenant, "intel-prov", c.Cert(b)); err != nil {
		b.Fatal(err)
	}
	fw := make([]byte, 20)
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	var wg sync.WaitGroup
	per := max(b.N/16, 1)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				t0 := time.Now()
				if _, err := v.SignActivation(ctx, DefaultTenant, "intel-prov", fw, ""); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
