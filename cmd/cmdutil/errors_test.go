package cmdutil

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/keysmith/keysmith/pkg/keysource"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/value"
)

// TestExitCodes pins the documented exit codes (docs/exit-codes.md) for the
// errors commands return, wrapped as they are in practice.
func TestExitCodes(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	cases := []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{Usagef("bad flag"), ExitUsage},
		{WithHint(Usagef("bad"), "hint"), ExitUsage},
		{wrap(masterkey.ErrKeyFile), ExitUsage},
		{wrap(value.ErrUnauthenticated), ExitAuth},
		{wrap(value.ErrUnknownKey), ExitAuth},
		{wrap(value.ErrMalformed), ExitAuth},
		{&value.EnvError{Value: "prod", Selected: "dev"}, ExitWrongEnv},
		{&FileEnvError{Path: "env_prod.env", Named: "prod", Selected: "dev", From: "-e/--env"}, ExitWrongEnv},
		{wrap(ErrNotFound), ExitNotFound},
		{wrap(fs.ErrNotExist), ExitNotFound},
		{wrap(keysource.ErrNoKey), ExitNotFound},
		{wrap(ErrProblems), ExitProblems},
		{&keysource.InsecureError{Path: "k", Mode: 0o644}, ExitPermission},
		{wrap(ErrPermission), ExitPermission},
		{wrap(ErrPending), ExitPending},
		{&Error{Err: errors.New("x"), Code: ExitUsage}, ExitUsage},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestHintsCollected(t *testing.T) {
	err := fmt.Errorf("outer: %w", WithHint(errors.New("inner"), "do this", "or that"))
	if h := Hints(err); len(h) != 2 || h[0] != "do this" {
		t.Fatalf("hints = %v", h)
	}
}
