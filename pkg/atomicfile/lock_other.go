//go:build !unix

package atomicfile

// LockDir is a no-op where flock is not available.
func LockDir(path string) (unlock func(), err error) { return func() {}, nil }
