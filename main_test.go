package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keysmith/keysmith/cmd"
	devicecmd "github.com/keysmith/keysmith/cmd/device"
)

func TestMain(m *testing.M) {
	// Sealed device keys: scrypt work factor 10 in the scripts (the test binary
	// only; keysmith itself always uses 18). device_realkdf.txtar sets
	// KEYSMITH_TEST_REAL_SCRYPT=1 to run the real work factor.
	if os.Getenv("KEYSMITH_TEST_REAL_SCRYPT") == "" {
		devicecmd.TestOnlySetScryptWorkFactor(10)
	}
	testscript.Main(m, map[string]func(){
		"keysmith": func() {
			code := cmd.Main()
			writeHWM()
			os.Exit(code)
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: one .txtar per
// feature. Each script gets its own $WORK as HOME, XDG_CONFIG_HOME and
// XDG_DATA_HOME, so no test reads a real key file, config or vault.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			setupEnv(env)
			// The default vault, and a regexp for how messages name it
			// (TestScriptsPostgres sets both to its PostgreSQL schema).
			env.Setenv("VAULT", filepath.Join(env.WorkDir, ".local", "share", "keysmith", "vault.db"))
			env.Setenv("VAULT_RE", `[^"]*vault\.db`)
			return nil
		},
		Condition: storeCondition(false),
		Cmds:      scriptCmds,
	})
}

var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"chmod":    cmdChmod,
	"exitcode": cmdExitcode,
	// keysmith serve (testscript_serve_test.go)
	"freeport":   cmdFreeport,
	"waitserver": cmdWaitserver,
	"envfrom":    cmdEnvfrom,
}

// setupEnv gives a script its own HOME, XDG directories and an environment
// without keysmith's variables.
func setupEnv(env *testscript.Env) {
	work := env.WorkDir
	env.Setenv("HOME", work)
	env.Setenv("XDG_CONFIG_HOME", filepath.Join(work, ".config"))
	env.Setenv("XDG_DATA_HOME", filepath.Join(work, ".local", "share"))
	for _, k := range []string{"KEYSMITH_ENV", "KEYSMITH_KEY_FILE", "KEYSMITH_MASTER_KEY", "APP_KEY_SYSVAR", "APP_ENV_TYPE", "KEYSMITH_VAULT", "KEYSMITH_TENANT", "KEYSMITH_OUTPUT", "KEYSMITH_TOKEN", "KEYSMITH_PASSPHRASE", "KEYSMITH_SERVER", "KEYSMITH_SERVER_FINGERPRINT", "KEYSMITH_CA_FILE", "PGPASSWORD", "PGPASSFILE"} {
		env.Setenv(k, "")
	}
}

// storeCondition answers [postgres]: true in the PostgreSQL run of the
// vault scripts (TestScriptsPostgres), where the default vault is a
// PostgreSQL schema. Scripts use it for what only one store can do (a
// sqlite3 tampering step, a file's mode).
func storeCondition(postgres bool) func(cond string) (bool, error) {
	return func(cond string) (bool, error) {
		if cond == "postgres" {
			return postgres, nil
		}
		if cond == "root" { // mode bits do not stop root's writes
			return os.Geteuid() == 0, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}
}

// chmod MODE FILE: testscript has no chmod of its own.
func cmdChmod(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: chmod MODE FILE")
	}
	mode, err := strconv.ParseUint(args[0], 8, 32)
	if err != nil {
		ts.Fatalf("bad mode %q", args[0])
	}
	err = os.Chmod(ts.MkAbs(args[1]), os.FileMode(mode))
	if neg != (err != nil) {
		ts.Fatalf("chmod: %v", err)
	}
}

// writeHWM writes this process's peak resident memory (VmHWM of
// /proc/self/status, kB) to $KEYSMITH_TEST_HWM_FILE when it is set. The
// rusage a parent gets from wait4 is no measure of a child started by
// os/exec: Linux carries the forking parent's peak RSS across execve (Go
// forks with CLONE_VM), so a child of a large test process looks large.
// VmHWM belongs to the child's own address space.
func writeHWM() {
	f := os.Getenv("KEYSMITH_TEST_HWM_FILE")
	if f == "" {
		return
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			os.WriteFile(f, []byte(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))), 0o600)
		}
	}
}
