package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScriptsBackup runs the scripts in testdata/backupscript, which restore
// the committed backup fixtures of testdata/backup (copied into $WORK/fixture):
// a backup written by an older release must still restore.
func TestScriptsBackup(t *testing.T) {
	fixtures, err := filepath.Abs("testdata/backup")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/backupscript",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			setupEnv(env)
			env.Setenv("VAULT", filepath.Join(env.WorkDir, ".local", "share", "keysmith", "vault.db"))
			dst := filepath.Join(env.WorkDir, "fixture")
			if err := os.MkdirAll(dst, 0o700); err != nil {
				return err
			}
			for _, name := range []string{"v1.age", "v1.passphrase"} {
				b, err := os.ReadFile(filepath.Join(fixtures, name))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
					return err
				}
			}
			return nil
		},
		Condition: storeCondition(false),
		Cmds:      scriptCmds,
	})
}
