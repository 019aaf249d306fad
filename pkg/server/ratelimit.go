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

// allowed reports whether addr may try to authenticate now. It reserves
// nothing: reserving a slot for every call in flight would cap the
// concurrent calls of a legitimate service at the burst. Failures are
// counted when they are known (failed), so calls already in flight when an
// address runs out can still be looked at: the overshoot is bounded by the
// calls in flight from that address, and each is audited.
func (l *limiter) allowed(addr string) bool {
	if l == nil || l.burst <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refill(addr, l.now()).tokens >= 1
}

// failed records a failed authentication from addr.
func (l *limiter) failed(addr string) {
	if l == nil || l.burst <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.refill(addr, now)
	b.tokens = max(0, b.tokens-1)
	if now.Sub(l.pruned) > l.per {
		// Forget addresses whose bucket is full again.
		for a, b := range l.addrs {
			if now.Sub(b.at) > l.per {
				delete(l.addrs, a)
			}
		}
		l.pruned = now
	}
}
