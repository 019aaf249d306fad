package server

import (
	"sync"
	"testing"
	"time"
)

// TestLimiter: 200 concurrent failures from one address leave it limited;
// allowed reserves nothing (64 concurrent checks of a good caller all
// pass); another address has its own bucket; a minute refills it.
func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := newLimiter(10, time.Minute, clock)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !l.allowed("10.0.0.1") {
				t.Error("a check reserved a slot")
			}
		}()
	}
	wg.Wait()
	for range 200 {
		wg.Add(1)
		go func() { defer wg.Done(); l.failed("10.0.0.1") }()
	}
	wg.Wait()
	if l.allowed("10.0.0.1") {
		t.Fatal("200 failures: still allowed")
	}
	if !l.allowed("10.0.0.2") {
		t.Fatal("another address is limited")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	for i := range 10 {
		if !l.allowed("10.0.0.1") {
			t.Fatalf("after a minute: %d of 10", i)
		}
		l.failed("10.0.0.1")
	}
	if l.allowed("10.0.0.1") {
		t.Fatal("11th failure allowed")
	}
}
