//go:build unix

package sqlite

import "golang.org/x/sys/unix"

// canWrite asks the kernel whether this process may write path (access(2)
// with W_OK: EACCES for mode bits and ACLs, EROFS for a read-only mount).
func canWrite(path string) error { return unix.Access(path, unix.W_OK) }
