// Command loadgen drives a keysmith server for scripts/bench-serve.sh: N
// concurrent clients, each with its own TLS connection, calling GetSecret
// (or GetSecrets of -names names) for -duration, and prints one JSON line:
// calls per second, p50 and p99 latency in milliseconds, errors. It sends
// traffic only to -server (loopback in the script) and stops by itself.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keysmith/keysmith/pkg/client"
)

func main() {
	server := flag.String("server", "", "HOST:PORT or unix:/PATH")
	fp := flag.String("fingerprint", "", "server SPKI fingerprint")
	tokenFile := flag.String("token-file", "", "service token file")
	clients := flag.Int("clients", 64, "concurrent clients")
	dur := flag.Duration("duration", 10*time.Second, "how long to run")
	names := flag.Int("names", 1, "1: GetSecret of S1; N: GetSecrets of S1..SN")
	flag.Parse()
	tok, err := os.ReadFile(*tokenFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var refs []client.Ref
	for i := 1; i <= *names; i++ {
		refs = append(refs, client.Ref{Name: fmt.Sprintf("S%d", i)})
	}
	deadline := time.Now().Add(*dur)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var firstErr string
	var wg sync.WaitGroup
	start := time.Now()
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.New(*server, client.Options{Token: strings.TrimSpace(string(tok)), Fingerprint: *fp, UserAgent: "keysmith-loadgen"})
			if err != nil {
				panic(err)
			}
			defer c.Close()
			var mine []time.Duration
			bad := 0
			var first string
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if *names == 1 {
					_, err = c.GetSecret(context.Background(), "", "S1", "")
				} else {
					_, err = c.GetSecrets(context.Background(), "", refs)
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
		"clients": *clients, "names": *names, "calls": len(lat), "errors": errs, "first_error": firstErr,
		"calls_per_s": float64(len(lat)) / elapsed.Seconds(), "p50_ms": pct(0.50), "p99_ms": pct(0.99),
	})
}
