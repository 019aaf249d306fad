package vault

import (
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentCallers: one unlocked Vault shared by many goroutines,
// each with its own caller in its context, doing puts, gets, service reads
// and listings at once (run with -race). Every version is there once, every
// read sees a value that was written, each audit row names its own caller,
// and the chain verifies.
func TestConcurrentCallers(t *testing.T) {
	v, _, _ := newVault(t)
	tok, _ := rowMACService(t, v, "orders")
	const workers, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		wg.Go(func() {
			c := WithCaller(ctx, Caller{Actor: fmt.Sprintf("user%d", w), RemoteAddr: fmt.Sprintf("10.0.0.%d", w), UserAgent: "test"})
			for i := range each {
				name := fmt.Sprintf("K%d", i%3)
				if _, err := v.Put(c, DefaultTenant, name, fmt.Appendf(nil, "w%d-%d", w, i), ""); err != nil {
					errs <- err
					return
				}
				if _, err := v.Get(c, DefaultTenant, name, 0); err != nil {
					errs <- err
					return
				}
				if s, err := v.ServiceGet(c, tok, DefaultTenant, "S", 0); err != nil || string(s.Value) != "v" {
					errs <- fmt.Errorf("service read: %v, %v", s, err)
					return
				}
				if _, err := v.List(c, DefaultTenant); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range 3 {
		h, err := v.History(ctx, DefaultTenant, fmt.Sprintf("K%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != workers*each/3 || h[len(h)-1].Version != len(h) {
			t.Errorf("K%d: %d versions, last %d", i, len(h), h[len(h)-1].Version)
		}
	}
	recs, err := v.Audit(ctx, AuditFilter{Action: "put"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Actor == "tester" { // rowMACService's put
			continue
		}
		n++
		var w int
		if _, err := fmt.Sscanf(r.Actor, "user%d", &w); err != nil || r.IPAddress != fmt.Sprintf("10.0.0.%d", w) || r.UserAgent != "test" {
			t.Fatalf("row %d: actor %q from %q (%q): callers mixed up", r.Seq, r.Actor, r.IPAddress, r.UserAgent)
		}
	}
	if n != workers*each {
		t.Errorf("%d put rows", n)
	}
	if res, err := v.VerifyAudit(ctx); err != nil || res.Unverified != 0 {
		t.Fatalf("audit: %+v, %v", res, err)
	}
}
