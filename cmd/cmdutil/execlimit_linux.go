package cmdutil

import (
	"os"
	"syscall"
)

// SystemExecLimits returns Linux's limits for execve (fs/exec.c): the
// arguments and environment may take a quarter of the stack limit, at most
// 6 MiB (three quarters of _STK_LIM) and at least 128 KiB (ARG_MAX), and
// one string at most MAX_ARG_STRLEN, 32 pages.
func SystemExecLimits() ExecLimits {
	const stkLim = 8 << 20
	total := stkLim / 4 * 3
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err == nil && rl.Cur/4 < uint64(total) {
		total = int(rl.Cur / 4)
	}
	total = max(total, 128<<10)
	return ExecLimits{Total: total, PerString: 32 * os.Getpagesize()}
}
