//go:build linux

package cmdutil

import (
	"bytes"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/term"
)

// openPTY opens a real pseudo-terminal (posix_openpt, unlockpt, ptsname by
// hand, so no dependency): the hidden prompt is tested against the kernel's
// terminal, not a buffer.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// pending reports how many bytes wait to be read on the terminal (FIONREAD),
// after switching it to non-canonical mode so that a partial line counts too.
func pending(t *testing.T, f *os.File) int {
	t.Helper()
	st, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer term.Restore(int(f.Fd()), st)
	time.Sleep(50 * time.Millisecond)
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("FIONREAD: %v", e)
	}
	return int(n)
}

func ptyStreams(slave *os.File) (*IOStreams, *bytes.Buffer) {
	errOut := &bytes.Buffer{}
	s := System()
	s.In, s.ErrOut, s.inFd, s.InTTY = slave, errOut, int(slave.Fd()), true
	return s, errOut
}

// typeInto writes to the terminal as a keyboard or a paste would, in chunks
// with pauses between them.
func typeInto(t *testing.T, master *os.File, chunks ...string) {
	go func() {
		for _, c := range chunks {
			time.Sleep(150 * time.Millisecond)
			master.Write([]byte(c))
		}
	}()
}

const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"

// A pasted PEM key (terminals send a paste's newlines as CR) is read whole,
// up to Ctrl-D, and nothing of it is left on the terminal for the shell.
func TestPromptMultiLinePaste(t *testing.T) {
	master, slave := openPTY(t)
	s, errOut := ptyStreams(slave)
	paste := bytes.ReplaceAll([]byte(pem+"\n"), []byte("\n"), []byte("\r"))
	typeInto(t, master, string(paste), "\x04")
	f := &Factory{IO: s}
	got, err := f.ReadSecretInput(SecretInput{Prompt: "Value for TLS_KEY_SECRET: "})
	if err != nil {
		t.Fatalf("ReadSecretInput: %v (stderr %q)", err, errOut)
	}
	if !bytes.Contains(errOut.Bytes(), []byte("Ctrl-D")) {
		t.Errorf("the prompt does not say how a value of several lines ends: %q", errOut)
	}
	if string(got) != pem {
		t.Errorf("got %q, want the whole key %q", got, pem)
	}
	if n := pending(t, slave); n != 0 {
		t.Errorf("%d bytes of the secret were left unread on the terminal", n)
	}
	if bytes.Contains(errOut.Bytes(), []byte("MIIE")) {
		t.Errorf("the secret was echoed: %q", errOut)
	}
}

// A paste without a final newline is read whole too.
func TestPromptMultiLinePasteNoFinalNewline(t *testing.T) {
	master, slave := openPTY(t)
	s, _ := ptyStreams(slave)
	typeInto(t, master, "{\r  \"private_key\": \"abc\"\r}", "\x04")
	got, err := (&Factory{IO: s}).ReadSecretInput(SecretInput{Prompt: "Value: "})
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"private_key\": \"abc\"\n}"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if n := pending(t, slave); n != 0 {
		t.Errorf("%d bytes left on the terminal", n)
	}
}

// A typed one-line value still ends with Enter, with backspace working.
func TestPromptOneLine(t *testing.T) {
	master, slave := openPTY(t)
	s, _ := ptyStreams(slave)
	typeInto(t, master, "hunter", "3\x7f2", "\r")
	got, err := s.ReadSecret("Value: ")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hunter2" {
		t.Errorf("got %q, want hunter2", got)
	}
	if n := pending(t, slave); n != 0 {
		t.Errorf("%d bytes left on the terminal", n)
	}
}

// A passphrase is one line: a pasted block is read off the terminal and
// refused, never cut to its first line.
func TestPromptPassphraseRefusesPaste(t *testing.T) {
	master, slave := openPTY(t)
	s, _ := ptyStreams(slave)
	typeInto(t, master, "first\rsecond\rthird\r")
	got, err := s.ReadSecret("Passphrase: ")
	if err == nil {
		t.Fatalf("got %q, want an error", got)
	}
	if n := pending(t, slave); n != 0 {
		t.Errorf("%d bytes left on the terminal", n)
	}
}

// Input that arrives after Ctrl-D is read off the terminal and the value is
// refused: nothing is left for the shell, nothing cut short is kept.
func TestPromptInputAfterEnd(t *testing.T) {
	master, slave := openPTY(t)
	s, _ := ptyStreams(slave)
	typeInto(t, master, "a\rb\r\x04rm -rf ~\r")
	got, err := s.ReadSecretLines("Value: ")
	if err == nil {
		t.Fatalf("got %q, want an error", got)
	}
	if n := pending(t, slave); n != 0 {
		t.Errorf("%d bytes left on the terminal", n)
	}
}

// Ctrl-C cancels with status 130 and restores the terminal.
func TestPromptCtrlC(t *testing.T) {
	master, slave := openPTY(t)
	s, _ := ptyStreams(slave)
	before, err := term.GetState(int(slave.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	typeInto(t, master, "abc\x03")
	_, err = s.ReadSecretLines("Value: ")
	if ExitCode(err) != 130 {
		t.Fatalf("got %v (exit %d), want exit 130", err, ExitCode(err))
	}
	after, _ := term.GetState(int(slave.Fd()))
	if *before != *after {
		t.Errorf("terminal state not restored")
	}
}

// readTypedAhead writes input to the terminal before the prompt (the
// terminal still in line mode) and reads a value, failing if the read hangs.
func readTypedAhead(t *testing.T, input string) ([]byte, error) {
	t.Helper()
	master, slave := openPTY(t)
	s, _ := ptyStreams(slave)
	master.Write([]byte(input))
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	var got []byte
	var err error
	go func() {
		got, err = s.ReadSecretLines("Value: ")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		master.Write([]byte("\x03"))
		<-done
		t.Fatalf("the read hung on typed-ahead input")
	}
	return got, err
}

// Input typed before the prompt, with Ctrl-D after it, as testscript's ttyin
// and a user typing ahead do: the value is the line, and the read does not
// hang.
func TestPromptTypedAhead(t *testing.T) {
	got, err := readTypedAhead(t, "hunter2\n\x04")
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("got %q, %v; want hunter2", got, err)
	}
}

// A multi-line value typed ahead in line mode, then Ctrl-D: read whole.
func TestPromptTypedAheadLines(t *testing.T) {
	got, err := readTypedAhead(t, pem+"\n\x04")
	if err != nil || string(got) != pem {
		t.Fatalf("got %q, %v; want the key", got, err)
	}
}
