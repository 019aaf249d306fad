// Command vaultload drives the vault core for scripts/bench-vault.sh: N
// goroutines of one process (as "keysmith serve" runs them) calling
// Vault.Get (an audited read: one audit row each) or Vault.Put of S1..S20
// on one vault for -duration, and prints one JSON line: calls per second,
// p50 and p99 latency in milliseconds, errors. The vault (a SQLite path or
// a postgres:// URL) is unlocked with KEYSMITH_MASTER_KEY.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/sqlite"
)

func main() {
	where := flag.String("vault", "", "SQLite path or postgres:// URL")
	clients := flag.Int("clients", 1, "concurrent goroutines")
	dur := flag.Duration("duration", 5*time.Second, "how long to run")
	op := flag.String("op", "get", "get or put")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "vaultload:", err)
		os.Exit(1)
	}
	var st store.Store
	var err error
	if strings.HasPrefix(*where, "postgres://") || strings.HasPrefix(*where, "postgresql://") {
		st, err = postgres.OpenWith(ctx, *where, postgres.Options{Server: true}) // as keysmith serve opens it
	} else {
		st, err = sqlite.Open(ctx, *where)
	}
	if err != nil {
		fail(err)
	}
	v, err := vault.Open(ctx, st, vault.Options{})
	if err != nil {
		fail(err)
	}
	defer v.Close()
	k, err := masterkey.Parse(os.Getenv("KEYSMITH_MASTER_KEY"))
	if err != nil {
		fail(err)
	}
	if err := v.Unlock(ctx, k); err != nil {
		fail(err)
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	deadline := time.Now().Add(*dur)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	firstErr := ""
	var wg sync.WaitGroup
	start := time.Now()
	for c := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad, first := 0, ""
			for i := 0; time.Now().Before(deadline); i++ {
				name := fmt.Sprintf("S%d", 1+(c+i)%20)
				t0 := time.Now()
				var err error
				if *op == "put" {
					_, err = v.Put(ctx, "default", name, []byte("value-"+name), "")
				} else {
					_, err = v.Get(ctx, "default", name, 0)
				}
				if err != nil {
					bad++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			if firstErr == "" {
				firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"op": *op, "clients": *clients, "calls": len(lat), "errors": errs, "first_error": firstErr,
		"calls_per_s": float64(len(lat)) / elapsed.Seconds(), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
	})
}
