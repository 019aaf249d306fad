//go:build unix

package atomicfile

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Files being written (temporary files, and files CreateExclusive has not
// finished) are removed when the process is asked to stop (SIGINT, SIGTERM,
// SIGHUP) before the write completes; the process then dies of that signal
// as it would have. A temporary key file holds the old and the new keys:
// it must not outlive an interrupted rewrite.
var pending struct {
	sync.Mutex
	files map[string]struct{}
	sigs  chan os.Signal
}

var stopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// track creates a file with create and registers it for removal on a stop
// signal until the returned untrack is called. The handler is installed
// before the file exists and the registration is atomic with the creation,
// so no signal finds the file unregistered.
func track(create func() (string, error)) (untrack func(), err error) {
	pending.Lock()
	defer pending.Unlock()
	if pending.files == nil {
		pending.files = map[string]struct{}{}
	}
	if len(pending.files) == 0 && pending.sigs == nil {
		pending.sigs = make(chan os.Signal, 1)
		signal.Notify(pending.sigs, caught()...)
		go onSignal(pending.sigs)
	}
	name, err := create()
	if err != nil {
		release()
		return nil, err
	}
	pending.files[name] = struct{}{}
	return func() {
		pending.Lock()
		defer pending.Unlock()
		delete(pending.files, name)
		release()
	}, nil
}

// caught is the stop signals the process does not ignore: a signal ignored
// when the process started (SIGHUP under nohup) must stay ignored, or the
// re-raise in onSignal would not end the process.
func caught() []os.Signal {
	var sigs []os.Signal
	for _, s := range stopSignals {
		if !signal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	return sigs
}

// release stops catching signals once nothing is being written (called with
// the lock held), so a process's own handling of them is unaffected outside
// writes.
func release() {
	if len(pending.files) == 0 && pending.sigs != nil {
		signal.Stop(pending.sigs)
		close(pending.sigs)
		pending.sigs = nil
	}
}

func onSignal(c chan os.Signal) {
	sig, ok := <-c
	if !ok {
		return
	}
	pending.Lock() // held until the process dies: no new file is created
	for name := range pending.files {
		os.Remove(name)
	}
	signal.Reset(stopSignals...)
	if s, ok := sig.(syscall.Signal); ok {
		syscall.Kill(os.Getpid(), s)
	}
	// The signal's default action ends the process; should it not (a
	// disposition changed behind Go's back), exit as a shell reports a
	// death by that signal rather than hang holding the lock.
	time.Sleep(time.Second)
	if s, ok := sig.(syscall.Signal); ok {
		os.Exit(128 + int(s))
	}
	os.Exit(1)
}
