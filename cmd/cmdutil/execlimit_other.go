//go:build !linux

package cmdutil

// SystemExecLimits returns no limits where keysmith does not know them:
// exec itself reports an environment that is too large.
func SystemExecLimits() ExecLimits { return ExecLimits{} }
