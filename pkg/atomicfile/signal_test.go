//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The child half of TestSignalLeavesNoTemporaryFile: it starts a rewrite and
// blocks before the rename until it is killed.
func TestSignalChild(t *testing.T) {
	dir := os.Getenv("ATOMICFILE_SIGNAL_CHILD")
	if dir == "" {
		t.Skip("run by TestSignalLeavesNoTemporaryFile")
	}
	testHookBeforeRename = func() {
		os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600)
		time.Sleep(time.Minute)
	}
	WriteFile(filepath.Join(dir, "keys"), []byte("dev = new\n"), 0o600)
	t.Fatal("the rewrite was not interrupted")
}

// SIGTERM (or SIGINT, SIGHUP) during a rewrite removes the temporary file,
// which for a key file holds the old and new keys, and the process still dies
// of the signal; the file keeps its old content (issue 8).
func TestSignalLeavesNoTemporaryFile(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			if signal.Ignored(sig) {
				// Inherited by the child (nohup): it must stay ignored there.
				t.Skipf("%v is ignored by this process, so by its child", sig)
			}
			dir := t.TempDir()
			target := filepath.Join(dir, "keys")
			if err := os.WriteFile(target, []byte("dev = old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestSignalChild$")
			cmd.Env = append(os.Environ(), "ATOMICFILE_SIGNAL_CHILD="+dir)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the child never reached the rename")
				}
				time.Sleep(10 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child: %v", err)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("child exited with %v, want killed by %v", err, sig)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
			if b, _ := os.ReadFile(target); string(b) != "dev = old\n" {
				t.Errorf("target is %q, want the old content", b)
			}
		})
	}
}
