//go:build unix

package keysource

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func needSh(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh")
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil && !strings.Contains(err.Error(), "no such")
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// stillAlive reports whether pid is still running 2 s after it was sent
// SIGKILL: the signal is delivered asynchronously, so a check right after
// the kill can see the process before it dies.
func stillAlive(pid int) bool {
	for i := 0; i < 200 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return alive(pid)
}

func waitPid(t *testing.T, path string) int {
	t.Helper()
	for i := 0; i < 500; i++ {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the key command did not start")
	return 0
}

// A key command that outlives its timeout is killed, with its children, and
// the error says "timed out after", not "signal: killed".
func TestCommandTimeout(t *testing.T) {
	needSh(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := &Resolver{KeyCommand: []string{"sh", "-c", `sleep 30 & echo $! > "$0"; wait`, pidFile}, CommandTimeout: 300 * time.Millisecond}
	_, err := r.Resolve("dev")
	if !errors.Is(err, ErrCommandTimeout) || err.Error() != "key command sh: timed out after 300ms: key command timed out" {
		t.Fatalf("err = %v", err)
	}
	if pid := waitPid(t, pidFile); stillAlive(pid) {
		t.Errorf("the key command's child %d still runs", pid)
	}
}

// SIGTERM to keysmith while a key command runs stops the command (and its
// children) instead of leaving it running.
func TestCommandSignal(t *testing.T) {
	needSh(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := &Resolver{KeyCommand: []string{"sh", "-c", `sleep 30 & echo $! > "$0"; wait`, pidFile}}
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := r.Resolve("dev"); done <- err }()
	pid := waitPid(t, pidFile)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrInterrupted) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Resolve did not return after SIGTERM")
	}
	if time.Since(start) > 10*time.Second || stillAlive(pid) {
		t.Errorf("the key command's child %d still runs", pid)
	}
}
