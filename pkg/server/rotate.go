package server

import (
	"context"
	"errors"
	"time"
)

// RotateLoop rotates every tenant's data key once it is every old
// (Backend.RotateIfOlder), checking at start and then each tick (0: a
// tenth of every, at most an hour), until ctx is done. The age is decided
// inside the rotation's transaction under the tenant's lock, so several
// servers on one PostgreSQL rotate each key once. report is called for
// each tenant rotated, and with the error of a failed round.
func RotateLoop(ctx context.Context, b Backend, every, tick time.Duration, report func(tenant string, err error)) {
	if tick <= 0 {
		tick = min(every/10, time.Hour)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		rotated, err := b.RotateIfOlder(ctx, every)
		if err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
			report("", err)
		}
		for _, name := range rotated {
			report(name, nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
