//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cmdutil

import (
	"io"

	"golang.org/x/term"
)

// readHidden reads one line with nothing echoed (x/term). Multi-line pastes
// are read whole only on Unix systems.
func readHidden(fd int, errOut io.Writer, multiline bool) ([]byte, error) {
	return term.ReadPassword(fd)
}
