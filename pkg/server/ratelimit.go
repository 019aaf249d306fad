package server

import (
	"sync"
	"time"
)

// limiter counts failed authentications per remote address: a token
// bucket of burst failures refilled at burst per window. An address with
// an empty bucket is refused before its token is looked at.
type limiter struct {
	mu     sync.Mutex
	burst  float64
	per    time.Duration
	now    func() time.Time
	addrs  map[string]*bucket
	pruned time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(burst int, per time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), per: per, now: now, addrs: map[string]*bucket{}}
}

func (l *limiter) refill(addr string, now time.Time) *bucket {
	b := l.addrs[addr]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.addrs[addr] = b
		return b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.burst/l.per.Seconds())
	b.at = now
	return b
}

// take reserves one failed authentication for addr before its token is
// looked at, and reports whether addr had one left. Reserving up front
// makes the limit exact under concurrency: calls in flight cannot all pass
// the check before any failure is counted. refund gives it back when the
// authentication succeeds.
func (l *limiter) take(addr string) bool {
	if l == nil || l.burst <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.refill(addr, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	if now.Sub(l.pruned) > l.per {
		// Forget addresses whose bucket is full again.
		for a, b := range l.addrs {
			if now.Sub(b.at) > l.per {
				delete(l.addrs, a)
			}
		}
		l.pruned = now
	}
	return true
}

// refund returns a reservation of take: the authentication succeeded.
func (l *limiter) refund(addr string) {
	if l == nil || l.burst <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(addr, l.now())
	b.tokens = min(l.burst, b.tokens+1)
}
