package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// postgresScripts are the scripts of testdata/script that TestScriptsPostgres
// runs again with the default vault on PostgreSQL: every vault, device,
// token, access, schema and run --vault script (issue 11).
var postgresScripts = []string{
	"vault_*.txtar", "device_*.txtar", "token_*.txtar", "access_*.txtar", "schema_*.txtar", "run_vault*.txtar", "run_schema.txtar", "key_retire_vault.txtar",
}

// TestScriptsPostgres runs the vault scripts with KEYSMITH_VAULT set to a
// fresh PostgreSQL schema per script (search_path in the URL) on the server
// KEYSMITH_TEST_POSTGRES names: the same output and exit codes as on
// SQLite. $VAULT is the URL, $VAULT_RE matches how messages name it (the
// URL without a password); [postgres] is true, for the steps only SQLite
// can run (sqlite3 tampering, file modes). Skips without a server, saying
// how to start one; fails in CI (KEYSMITH_REQUIRE_POSTGRES=1).
func TestScriptsPostgres(t *testing.T) {
	server := pgtest.ServerURL(t)
	var files []string
	for _, p := range postgresScripts {
		m, err := filepath.Glob(filepath.Join("testdata", "script", p))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	testscript.Run(t, testscript.Params{
		Files:               files,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			setupEnv(env)
			u, drop, err := pgtest.CreateSchema(server)
			if err != nil {
				return err
			}
			env.Defer(func() {
				if err := drop(); err != nil {
					env.T().Log(err)
				}
			})
			env.Setenv("KEYSMITH_VAULT", u)
			env.Setenv("VAULT", u)
			env.Setenv("VAULT_RE", regexp.QuoteMeta(postgres.Redact(u)))
			if pu, err := url.Parse(u); err == nil {
				env.Setenv("PGSCHEMA", pu.Query().Get("search_path"))
			}
			return nil
		},
		Condition: storeCondition(true),
		Cmds:      scriptCmds,
	})
}

func init() { scriptCmds["vaultsql"] = cmdVaultSQL }

// vaultsql SQL [POSTGRES-SQL]: run a statement directly on the store $VAULT
// names, as an attacker with write access to it would (tampering steps
// that run on both stores); the second form, when given, is what runs on
// PostgreSQL. The rows of a query go to stdout, columns separated by "|"
// as the sqlite3 shell prints them.
func cmdVaultSQL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: vaultsql SQL [POSTGRES-SQL]")
	}
	where, q := ts.Getenv("VAULT"), args[0]
	var db *sql.DB
	var err error
	if postgres.IsURL(where) {
		if len(args) == 2 {
			q = args[1]
		}
		db, err = sql.Open("pgx", where)
	} else {
		db, err = sql.Open("sqlite", ts.MkAbs(where))
	}
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query(q)
	if err == nil {
		var out strings.Builder
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err = rows.Scan(ptrs...); err != nil {
				break
			}
			for i, v := range vals {
				if i > 0 {
					out.WriteString("|")
				}
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprint(&out, v)
			}
			out.WriteString("\n")
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
		ts.Stdout().Write([]byte(out.String()))
	}
	if neg != (err != nil) {
		ts.Fatalf("vaultsql: %v", err)
	}
}
