package cmdutil

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams and whether each is a terminal.
// Data goes to Out; everything else (warnings, progress, prompts) to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inFd           int
	InTTY, OutTTY  bool
	ErrTTY         bool
	Quiet          bool
	readPassword   func(fd int, errOut io.Writer, multiline bool) ([]byte, error)
	stdinExhausted bool
}

// System returns the process's streams.
func System() *IOStreams {
	return &IOStreams{
		In:           os.Stdin,
		Out:          os.Stdout,
		ErrOut:       os.Stderr,
		inFd:         int(os.Stdin.Fd()),
		InTTY:        term.IsTerminal(int(os.Stdin.Fd())),
		OutTTY:       term.IsTerminal(int(os.Stdout.Fd())),
		ErrTTY:       term.IsTerminal(int(os.Stderr.Fd())),
		readPassword: readHidden,
	}
}

// Test returns streams backed by buffers, none a terminal.
func Test(stdin string) (*IOStreams, *bytes.Buffer, *bytes.Buffer) {
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: bytes.NewBufferString(stdin), Out: out, ErrOut: errOut}, out, errOut
}

// Warnf prints "keysmith: warning: ..." on stderr unless quiet.
func (s *IOStreams) Warnf(format string, a ...any) {
	if s.Quiet {
		return
	}
	fmt.Fprintf(s.ErrOut, "keysmith: warning: "+format+"\n", a...)
}

// Infof prints a note on stderr unless quiet.
func (s *IOStreams) Infof(format string, a ...any) {
	if s.Quiet {
		return
	}
	fmt.Fprintf(s.ErrOut, "keysmith: "+format+"\n", a...)
}

// ErrNoInput is returned when a secret is needed, stdin is not a terminal and
// it is empty.
var ErrNoInput = errors.New("no input on standard input")

// ReadSecret reads a one-line secret (a passphrase): with a hidden prompt on
// stderr when stdin is a terminal (never echoed, so it stays out of the
// scroll-back; a paste of several lines is read off the terminal and
// refused), otherwise all of stdin with one trailing newline removed. It
// never prompts when stdin is not a terminal.
func (s *IOStreams) ReadSecret(prompt string) ([]byte, error) {
	return s.readSecret(prompt, false, 0)
}

// ReadSecretLines is ReadSecret for a value that may span lines (a PEM key,
// a JSON credential): on a terminal, a paste of several lines is read whole,
// up to Ctrl-D, and nothing of it is left on the terminal.
func (s *IOStreams) ReadSecretLines(prompt string) ([]byte, error) {
	return s.readSecret(prompt, true, 0)
}

// readSecret reads a secret from the terminal or standard input; with max
// > 0, standard input longer than max bytes is ErrTooLarge after reading at
// most max+1 bytes.
func (s *IOStreams) readSecret(prompt string, multiline bool, max int64) ([]byte, error) {
	if s.InTTY && s.readPassword != nil {
		fmt.Fprint(s.ErrOut, prompt)
		b, err := s.readPassword(s.inFd, s.ErrOut, multiline)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, fmt.Errorf("reading from the terminal: %w", err)
		}
		if len(b) == 0 {
			return nil, errors.New("empty input")
		}
		return b, nil
	}
	if s.stdinExhausted {
		return nil, errors.New("standard input was already read")
	}
	s.stdinExhausted = true
	in := s.In
	if max > 0 {
		in = io.LimitReader(s.In, max+3) // the value, a trailing "\r\n", one byte more
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	if max > 0 && int64(len(b)) > max+2 {
		return nil, ErrTooLarge
	}
	b = trimNewline(b)
	if max > 0 && int64(len(b)) > max {
		return nil, ErrTooLarge
	}
	if len(b) == 0 {
		return nil, ErrNoInput
	}
	return b, nil
}

// ReadLine reads one line from stdin (for non-secret answers).
func (s *IOStreams) ReadLine() (string, error) {
	line, err := bufio.NewReader(s.In).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return string(trimNewline([]byte(line))), nil
}

func trimNewline(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
