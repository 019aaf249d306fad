package server

import "runtime/debug"

// The collector settings keysmith serve runs with unless GOGC or
// GOMEMLIMIT say otherwise (docs/server.md, "Memory"). Go's default
// (GOGC=100, no limit) collects whenever the heap doubles: with 64
// clients the server's live heap is small and turns over fast, and the
// collector was about a tenth of its CPU. Collecting when the heap is five
// times the live data, but at the latest when the process's Go memory
// reaches MemoryLimit, trades memory the server has (peak RSS about
// 50 -> 75 MiB at 64 clients, against a budget of 100) for more audited
// reads a second (docs/benchmarks.md). With an 80 MiB limit the server on
// PostgreSQL peaked at 88 MiB.
const (
	GCPercent   = 400
	MemoryLimit = 64 << 20
)

// TuneGC applies GCPercent and MemoryLimit, each unless its environment
// variable (GOGC, GOMEMLIMIT; getenv is os.Getenv) is set: an operator's
// own setting wins.
func TuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
