//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// pasteGap is how soon after an Enter more input must arrive to be part of
// the same paste. A terminal delivers a paste at once; nobody types the next
// key within 50 ms of Enter.
const pasteGap = 50 * time.Millisecond

// readHidden reads a secret from the terminal fd with nothing echoed. It reads
// the terminal byte by byte (raw mode) so that no byte of a paste is left in
// the terminal's input queue for the shell to run after keysmith exits:
//
//   - a typed value ends with Enter (backspace and Ctrl-U edit it);
//   - when more input follows an Enter at once, several lines were pasted:
//     with multiline the value is every line up to Ctrl-D (one final newline
//     removed), without it (a passphrase) the paste is read, discarded and
//     refused;
//   - anything that still arrives after the value ends is read and refused;
//   - Ctrl-C cancels.
func readHidden(fd int, errOut io.Writer, multiline bool) ([]byte, error) {
	st, err := term.MakeRaw(fd)
	if err != nil {
		return nil, err
	}
	defer term.Restore(fd, st)
	var (
		val   []byte
		line  int // where the current line starts in val
		multi bool
		prevR bool // the previous byte was CR (a CRLF is one newline)
		buf   = make([]byte, 4096)
		queue []byte
	)
	// fill reads what arrives within wait (forever if wait < 0) into the
	// queue. A NUL byte is a Ctrl-D typed before the prompt, while the
	// terminal was still in line mode (the kernel queues it as NUL).
	fill := func(wait time.Duration) error {
		ok, err := readable(fd, wait)
		if err != nil || !ok {
			return err
		}
		n, err := unix.Read(fd, buf)
		if err != nil {
			return err
		}
		if n == 0 {
			queue = append(queue, 4) // end of file: as Ctrl-D
		}
		for _, b := range buf[:n] {
			if b == 0 {
				b = 4
			}
			queue = append(queue, b)
		}
		clear(buf[:n])
		return nil
	}
	next := func() (byte, error) {
		for len(queue) == 0 {
			if err := fill(-1); err != nil {
				return 0, err
			}
		}
		c := queue[0]
		queue = queue[1:]
		return c, nil
	}
	for {
		c, err := next()
		if err != nil {
			return nil, err
		}
		if c == '\n' && prevR {
			prevR = false
			continue
		}
		prevR = c == '\r'
		switch c {
		case 3: // Ctrl-C
			drain(fd, &queue)
			fmt.Fprint(errOut, "\r\n")
			return nil, &Error{Err: errors.New("cancelled (Ctrl-C)"), Code: 130}
		case 4: // Ctrl-D
			if multi {
				val = trimNewline(val)
			}
			return finish(fd, errOut, &queue, val, multi)
		case 0x7f, 8: // backspace, within the current line
			if len(val) > line {
				_, size := utf8.DecodeLastRune(val[line:])
				val = val[:len(val)-size]
			}
		case 0x15: // Ctrl-U: the current line
			val = val[:line]
		case '\r', '\n':
			if multi {
				val = append(val, '\n')
				line = len(val)
				continue
			}
			if c == '\r' && len(queue) > 0 && queue[0] == '\n' { // CRLF
				queue, prevR = queue[1:], false
			}
			if len(queue) == 0 {
				if err := fill(pasteGap); err != nil {
					return nil, err
				}
			}
			if len(queue) > 0 && queue[0] == 4 { // the line, then Ctrl-D
				queue = queue[1:]
			}
			if len(queue) == 0 {
				return finish(fd, errOut, &queue, val, false)
			}
			if !multiline {
				drain(fd, &queue)
				clear(val)
				fmt.Fprint(errOut, "\r\n")
				return nil, errors.New("several lines were pasted, and this is one line: nothing was kept")
			}
			multi = true
			val = append(val, '\n')
			line = len(val)
			fmt.Fprint(errOut, "\r\nkeysmith: several lines pasted: reading them all, end with Ctrl-D\r\n")
		default:
			val = append(val, c)
		}
	}
}

// finish ends a value: whatever still arrives (the rest of a paste that came
// late, or typing after Ctrl-D) is read off the terminal and the value is
// refused, so nothing of a secret is left for the shell and nothing cut short
// is stored.
func finish(fd int, errOut io.Writer, queue *[]byte, val []byte, multi bool) ([]byte, error) {
	fmt.Fprint(errOut, "\r\n")
	if n := drain(fd, queue); n > 0 {
		clear(val)
		hint := "paste the value again"
		if !multi {
			hint = "for a value of several lines, paste it whole, then press Ctrl-D"
		}
		return nil, WithHint(fmt.Errorf("more input followed the value (%d bytes, read and discarded): nothing was kept", n), hint)
	}
	return val, nil
}

// drain reads and discards what is queued and what arrives within pasteGap.
func drain(fd int, queue *[]byte) int {
	n := len(*queue)
	clear(*queue)
	*queue = nil
	buf := make([]byte, 4096)
	for {
		ok, err := readable(fd, pasteGap)
		if err != nil || !ok {
			return n
		}
		m, err := unix.Read(fd, buf)
		clear(buf[:max(m, 0)])
		if err != nil || m <= 0 {
			return n
		}
		n += m
	}
}

// readable reports whether fd has input within wait.
func readable(fd int, wait time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	ms := -1
	if wait >= 0 {
		ms = int(wait / time.Millisecond)
	}
	for {
		n, err := unix.Poll(fds, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		return n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0, nil
	}
}
