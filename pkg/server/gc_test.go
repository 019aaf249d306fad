package server_test

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/keysmith/keysmith/pkg/server"
)

// TestTuneGC: the server's collector defaults apply when GOGC and
// GOMEMLIMIT are unset, and an operator's own setting of either is left
// alone.
func TestTuneGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	server.TuneGC(env(nil))
	if p, l := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); p != server.GCPercent || l != server.MemoryLimit {
		t.Errorf("unset: GOGC %d, limit %d; want %d, %d", p, l, server.GCPercent, server.MemoryLimit)
	}
	server.TuneGC(env(map[string]string{"GOGC": "50", "GOMEMLIMIT": "1GiB"}))
	if p, l := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); p != 100 || l != math.MaxInt64 {
		t.Errorf("both set: GOGC %d, limit %d changed", p, l)
	}
	server.TuneGC(env(map[string]string{"GOMEMLIMIT": "1GiB"}))
	if p, l := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); p != server.GCPercent || l != math.MaxInt64 {
		t.Errorf("GOMEMLIMIT set: GOGC %d, limit %d", p, l)
	}
}
