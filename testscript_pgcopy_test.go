package main

import (
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// TestVaultCopyPostgres runs the scripts in testdata/pgcopy, which move
// whole vaults between SQLite and PostgreSQL: $PG1 and $PG2 are URLs of
// fresh, empty schemas on the test server (KEYSMITH_TEST_POSTGRES; the
// test skips without it, and fails in CI).
func TestVaultCopyPostgres(t *testing.T) {
	server := pgtest.ServerURL(t)
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/pgcopy",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			setupEnv(env)
			for _, k := range []string{"PG1", "PG2"} {
				u, drop, err := pgtest.CreateSchema(server)
				if err != nil {
					return err
				}
				env.Defer(func() {
					if err := drop(); err != nil {
						env.T().Log(err)
					}
				})
				env.Setenv(k, u)
			}
			return nil
		},
		Condition: storeCondition(true),
		Cmds:      scriptCmds,
	})
}
