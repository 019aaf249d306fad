package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
)

// selfAsKeysmith returns a path that runs this test binary as keysmith
// (testscript.Main dispatches on the name it is started as).
func selfAsKeysmith(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "keysmith")
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// killEnv is an environment with its own HOME and a dev key, without the
// caller's keysmith variables.
func killEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYSMITH_") && !strings.HasPrefix(kv, "APP_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "XDG_DATA_HOME="+filepath.Join(home, ".local/share"),
		"KEYSMITH_MASTER_KEY="+strings.Repeat("ab", 32), "KEYSMITH_ENV=dev")
}

func runKS(t *testing.T, bin string, env []string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// killDuring starts keysmith with args, kills it with SIGKILL after a
// random moment within about the time one run takes, and waits for it.
func killDuring(t *testing.T, bin string, env []string, max time.Duration, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(rand.Int64N(int64(max) + 1)))
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
}

// TestVaultCreateSurvivesKill (issue 10 item 8): "vault init" and "vault
// restore" (of a complete and of a v1 backup) into a new file, killed with SIGKILL at random moments, leave
// either no vault file (and init works again) or a complete vault that
// opens; never a file every command rejects.
func TestVaultCreateSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts keysmith many times; skipped with -short")
	}
	bin := selfAsKeysmith(t)
	home := t.TempDir()
	env := killEnv(home)

	// A backup to restore, for an age identity (no passphrase KDF).
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(home, "id.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(home, "src.db")
	backup := filepath.Join(home, "b.age")
	if out, err := runKS(t, bin, env, nil, "vault", "init", "--vault", src); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	for _, name := range []string{"A", "B", "C"} {
		if out, err := runKS(t, bin, env, []byte("value-"+name), "vault", "put", name, "--vault", src); err != nil {
			t.Fatalf("put: %v\n%s", err, out)
		}
	}
	backupV1 := backup + ".v1"
	for _, b := range [][]string{{"-o", backup}, {"-o", backupV1, "--format", "v1"}} {
		if out, err := runKS(t, bin, env, nil, append([]string{"vault", "export", "--vault", src, "-r", id.Recipient().String()}, b...)...); err != nil {
			t.Fatalf("export: %v\n%s", err, out)
		}
	}

	for _, verb := range []string{"init", "restore", "restore-v1"} {
		args := func(v string) []string {
			switch verb {
			case "init":
				return []string{"vault", "init", "--vault", v}
			case "restore-v1":
				return []string{"vault", "restore", "--vault", v, "-i", idFile, backupV1}
			}
			return []string{"vault", "restore", "--vault", v, "-i", idFile, backup}
		}
		// How long one run takes here: the kills land within it.
		probe := filepath.Join(t.TempDir(), "probe.db")
		start := time.Now()
		if out, err := runKS(t, bin, env, nil, args(probe)...); err != nil {
			t.Fatalf("%s: %v\n%s", verb, err, out)
		}
		took := time.Since(start)

		iterations, complete := 20, 0
		for i := range iterations {
			dir := t.TempDir()
			v := filepath.Join(dir, "v.db")
			killDuring(t, bin, env, took*5/4, args(v)...)
			if _, err := os.Stat(v); err == nil {
				complete++
				if out, err := runKS(t, bin, env, nil, "vault", "ls", "--vault", v); err != nil {
					t.Fatalf("%s killed (run %d): the vault left behind does not open: %v\n%s", verb, i, err, out)
				}
				for _, s := range []string{"-wal", "-shm"} {
					if _, err := os.Stat(v + s); err == nil {
						t.Errorf("%s killed (run %d): %s left beside a closed vault", verb, i, s)
					}
				}
				continue
			}
			if out, err := runKS(t, bin, env, nil, args(v)...); err != nil {
				t.Fatalf("%s killed (run %d), then %s again: %v\n%s", verb, i, verb, err, out)
			}
			if out, err := runKS(t, bin, env, nil, "vault", "ls", "--vault", v); err != nil {
				t.Fatalf("%s again (run %d): %v\n%s", verb, i, err, out)
			}
		}
		t.Logf("%s: one run %v; %d of %d killed runs had completed", verb, took, complete, iterations)
	}
}

// zeros is an endless reader of "x" bytes that allocates nothing.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	for i := range p {
		p[i] = 'x'
	}
	z.n -= int64(len(p))
	return len(p), nil
}

// TestVaultPutRefusesHugeValue (issue 10 item 21): a 100 MB "vault put" on
// standard input is refused with the limit named, after reading about the
// limit (1 MiB) and not the whole input (a 100 MB put peaked at 575 MB).
func TestVaultPutRefusesHugeValue(t *testing.T) {
	if testing.Short() {
		t.Skip("starts keysmith; skipped with -short")
	}
	bin := selfAsKeysmith(t)
	home := t.TempDir()
	env := killEnv(home)
	v := filepath.Join(home, "v.db")
	if out, err := runKS(t, bin, env, nil, "vault", "init", "--vault", v); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	hwm := filepath.Join(home, "hwm")
	cmd := exec.Command(bin, "vault", "put", "BIG", "--vault", v)
	cmd.Env = append(env, "KEYSMITH_TEST_HWM_FILE="+hwm)
	cmd.Stdin = &zeros{n: 100 << 20}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit %d (%v), want 2\n%s", code, err, out)
	}
	if !strings.Contains(string(out), "the value on standard input is larger than the 1048576-byte limit for a secret value") {
		t.Errorf("message:\n%s", out)
	}
	// The child's own peak (main_test.go's writeHWM), not wait4's rusage,
	// which carries this test process's peak across the child's exec.
	b, err := os.ReadFile(hwm)
	if err != nil {
		t.Skipf("no peak memory from the child (%v): not Linux?", err)
	}
	kb, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("peak memory %q: %v", b, err)
	}
	rssMB := kb / 1024
	t.Logf("peak RSS of the refused 100 MB put: %d MiB", rssMB)
	if rssMB > 80 {
		t.Errorf("peak RSS %d MiB: the input was read whole", rssMB)
	}
	if out, err := runKS(t, bin, env, nil, "vault", "ls", "--vault", v); err != nil || strings.Contains(out, "BIG") {
		t.Errorf("after the refused put: %v\n%s", err, out)
	}

	// The limit is configurable, and applies to --from-file and import-env.
	big := filepath.Join(home, "big")
	os.WriteFile(big, bytes.Repeat([]byte("y"), 2000), 0o600)
	env2 := append(env, "KEYSMITH_MAX_VALUE_SIZE=1000")
	if out, err := runKS(t, bin, env2, nil, "vault", "put", "F", "--from-file", big, "--vault", v); err == nil || !strings.Contains(out, "larger than the 1000-byte limit") {
		t.Errorf("--from-file over the limit: %v\n%s", err, out)
	}
	envFile := filepath.Join(home, "x.env")
	os.WriteFile(envFile, []byte("OK=1\nBIG="+strings.Repeat("z", 2000)+"\n"), 0o600)
	if out, err := runKS(t, bin, env2, nil, "vault", "import-env", envFile, "--vault", v); err == nil || !strings.Contains(out, "the value of BIG is larger than the 1000-byte limit") {
		t.Errorf("import-env over the limit: %v\n%s", err, out)
	}
	if out, err := runKS(t, bin, env2, []byte(strings.Repeat("w", 1000)+"\n"), "vault", "put", "EXACT", "--vault", v); err != nil {
		t.Errorf("a value of exactly the limit: %v\n%s", err, out)
	}
}
