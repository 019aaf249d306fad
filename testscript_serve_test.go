package main

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// freeport VAR sets VAR to a TCP port on 127.0.0.1 that was free a moment
// ago, for "keysmith serve --listen 127.0.0.1:$VAR".
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ts.Setenv(args[0], strconv.Itoa(port))
}

// waitserver ADDR waits (at most 20s) until something accepts connections
// at ADDR: HOST:PORT or unix:PATH.
func cmdWaitserver(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitserver ADDR")
	}
	network, addr := "tcp", args[0]
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no server at %s: %v", args[0], err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// envfrom VAR FILE [REGEXP] sets VAR to FILE's content, trimmed, or to the
// first group of REGEXP in it.
func cmdEnvfrom(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: envfrom VAR FILE [REGEXP]")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	v := strings.TrimSpace(string(b))
	if len(args) == 3 {
		m := regexp.MustCompile(args[2]).FindStringSubmatch(v)
		if len(m) < 2 {
			ts.Fatalf("envfrom: %q does not match in %s", args[2], args[1])
		}
		v = m[1]
	}
	ts.Setenv(args[0], v)
}

// TestScriptsServePostgres runs the server scripts with the vault on
// PostgreSQL (`keysmith serve --vault postgres://…` through
// KEYSMITH_VAULT): a schema of its own per script on the server named by
// KEYSMITH_TEST_POSTGRES. Skipped without it, with how to run it; a
// failure when KEYSMITH_REQUIRE_POSTGRES is set.
func TestScriptsServePostgres(t *testing.T) {
	server := pgtest.ServerURL(t)
	testscript.Run(t, testscript.Params{
		Files:               []string{"testdata/script/serve_workflow.txtar"},
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			setupEnv(env)
			u, drop, err := pgtest.CreateSchema(server)
			if err != nil {
				return err
			}
			env.Defer(func() { drop() })
			env.Setenv("KEYSMITH_VAULT", u)
			env.Setenv("VAULT", u)
			env.Setenv("VAULT_RE", `postgres://[^"]*`)
			return nil
		},
		Condition: storeCondition(true),
		Cmds:      scriptCmds,
	})
}
