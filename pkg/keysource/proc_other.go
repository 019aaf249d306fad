//go:build !unix

package keysource

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
)

func killGroup(cmd *exec.Cmd) {}

func notifyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt)
}
