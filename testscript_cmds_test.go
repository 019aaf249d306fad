package main

import (
	"errors"
	"os/exec"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
)

// exitcode N PROG [ARG...] runs PROG like exec does (its stdout and stderr
// are kept for the stdout and stderr commands that follow) and fails unless
// PROG exits with status N. testscript's "! exec" only says that a command
// failed; the scripts use exitcode wherever the status itself is part of the
// contract (cmd/cmdutil/errors.go):
//
//	# a tampered value is exit 3 and prints no plaintext
//	exitcode 3 keysmith secrets decrypt $TAMPERED
//	stderr '^keysmith: error: wrong key or tampered data'
//	! stdout .
//
// "! exitcode" is not supported: name the status that is expected.
func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode (name the expected status instead)")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil || want < 0 || want > 255 {
		ts.Fatalf("exitcode: bad status %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
