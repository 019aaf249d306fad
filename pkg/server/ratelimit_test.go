package server

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLimiterConcurrent: 200 concurrent failed authentications from one
// address get exactly 10 reservations; a refund gives one back; another
// address has its own bucket; a minute refills it.
func TestLimiterConcurrent(t *testing.T) {
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := newLimiter(10, time.Minute, clock)
	var got atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if l.take("10.0.0.1") {
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	if got.Load() != 10 {
		t.Fatalf("%d reservations, want 10", got.Load())
	}
	if !l.take("10.0.0.2") {
		t.Fatal("another address is limited")
	}
	l.refund("10.0.0.1")
	if !l.take("10.0.0.1") || l.take("10.0.0.1") {
		t.Fatal("refund did not give back exactly one")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	for i := range 10 {
		if !l.take("10.0.0.1") {
			t.Fatalf("after a minute: %d of 10", i)
		}
	}
}
