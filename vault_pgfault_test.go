package main

// Fault tests of the PostgreSQL store through the keysmith command (issue
// 11, "Faults"): clients killed with SIGKILL mid-transaction, the server
// restarted under a stream of puts, DEK rotations racing each other and
// puts and gets. Each runs on the server KEYSMITH_TEST_POSTGRES names (the
// restart test on a private cluster it starts itself with
// scripts/pg-test-cluster.sh); without it they skip saying how to run
// them, and fail in CI (KEYSMITH_REQUIRE_POSTGRES=1).

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// faultKeyHex is the master key killEnv gives keysmith.
var faultKeyHex = strings.Repeat("ab", 32)

// pgCmd runs keysmith with args against the vault at u, stdin as input,
// with a deadline: a client that hangs on a lock a killed one left behind
// fails the test instead of hanging it.
func pgCmd(t *testing.T, bin string, env []string, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%v: still running after 60 s", err)
	}
	return o.String(), e.String(), err
}

// mustKS is pgCmd that fails the test when keysmith fails.
func mustKS(t *testing.T, bin string, env []string, stdin []byte, args ...string) string {
	t.Helper()
	out, errOut, err := pgCmd(t, bin, env, stdin, args...)
	if err != nil {
		t.Fatalf("keysmith %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// cleanError reports what is wrong with the stderr of a failed command:
// it must be one "keysmith: error: ..." line (hint lines may follow), no
// panic, no stack, no driver noise.
func cleanError(stderr string) error {
	var errs, other []string
	for _, l := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "keysmith: error: "):
			errs = append(errs, l)
		case strings.HasPrefix(l, "keysmith: hint: "):
		default:
			other = append(other, l)
		}
	}
	if len(errs) != 1 || len(other) != 0 || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		return fmt.Errorf("not one clean error line:\n%s", stderr)
	}
	return nil
}

// checkVerify runs "vault verify" and fails the test unless it is clean.
func checkVerify(t *testing.T, bin string, env []string, u, when string) {
	t.Helper()
	out, errOut, err := pgCmd(t, bin, env, nil, "vault", "verify", "--vault", u)
	if err != nil || !strings.Contains(out+errOut, "vault ok") {
		t.Fatalf("%s: vault verify: %v\n%s%s", when, err, out, errOut)
	}
}

// faultState is what a test reads back from the vault at u through the
// library: every latest value of the default tenant and its DEK version.
type faultState struct {
	values map[string]string
	dek    int
}

func readState(t *testing.T, u string) faultState {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.Open(ctx, st, vault.Options{Actor: "fault-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	k, _, _, err := masterkey.ParseSingle(faultKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock(ctx, k); err != nil {
		t.Fatal(err)
	}
	all, err := v.GetAll(ctx, vault.DefaultTenant, "", "fault test")
	if err != nil {
		t.Fatalf("a secret does not open: %v", err)
	}
	s := faultState{values: map[string]string{}}
	for _, x := range all {
		s.values[x.Name] = string(x.Value)
	}
	in, err := v.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range in.Tenants {
		if tn.Name == vault.DefaultTenant {
			s.dek = tn.DEKVersion
		}
	}
	return s
}

// pgFaultVault makes a vault in a fresh schema of the test server.
func pgFaultVault(t *testing.T, bin string, env []string) string {
	t.Helper()
	u := pgtest.NewSchema(t)
	mustKS(t, bin, env, nil, "vault", "init", "--vault", u)
	return u
}

// envFile writes a .env file setting each of names to gen-<gen>-<name>.
func envFile(t *testing.T, dir string, names []string, gen int) string {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=gen-%d-%s\n", n, gen, n)
	}
	f := filepath.Join(dir, fmt.Sprintf("gen%d.env", gen))
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// killAt starts keysmith, sends SIGKILL after d and waits. finished says
// whether it had already exited on its own (successfully: anything else
// fails the test) before the signal.
func killAt(t *testing.T, bin string, env []string, stdin []byte, d time.Duration, args ...string) (finished bool) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdin)
	var e bytes.Buffer
	cmd.Stderr = &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("keysmith %s (not killed): %v\n%s", strings.Join(args, " "), err, e.String())
		}
		return true
	case <-time.After(d):
	}
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a killed keysmith did not exit")
	}
	return false
}

// TestPostgresKillMidTransaction: "vault put", "vault import-env" (150
// variables, one transaction) and "vault rotate-dek" on PostgreSQL,
// killed with SIGKILL at 20 random moments each within the time one run
// takes. After each kill "vault verify" is clean and every secret holds
// either its old or its new value: the put's secret one of the two, the
// import's variables all old or all new (never some of each), the DEK
// version the old or the next, every secret opening.
func TestPostgresKillMidTransaction(t *testing.T) {
	pgtest.ServerURL(t)
	if testing.Short() {
		t.Skip("starts keysmith many times; skipped with -short")
	}
	bin := selfAsKeysmith(t)
	home := t.TempDir()
	env := killEnv(home)
	u := pgFaultVault(t, bin, env)
	names := keyNames(150)
	gen := 0
	mustKS(t, bin, env, nil, "vault", "import-env", "--vault", u, envFile(t, home, names, gen))
	putVal := 0
	mustKS(t, bin, env, []byte("put-0"), "vault", "put", "A", "--vault", u)
	want := readState(t, u)

	// One run of each, timed: the kills land within 5/4 of it.
	took := map[string]time.Duration{}
	run := map[string]func(kill time.Duration) bool{
		"put": func(kill time.Duration) bool {
			return killAt(t, bin, env, []byte(fmt.Sprintf("put-%d", putVal+1)), kill, "vault", "put", "A", "--vault", u)
		},
		"import-env": func(kill time.Duration) bool {
			return killAt(t, bin, env, nil, kill, "vault", "import-env", "--vault", u, envFile(t, home, names, gen+1))
		},
		"rotate-dek": func(kill time.Duration) bool {
			return killAt(t, bin, env, nil, kill, "vault", "rotate-dek", "--vault", u)
		},
	}
	// check reads the vault back after a run of verb and advances the
	// expected state to what it finds, if that is the run's new state.
	check := func(verb string, i int) (landed bool) {
		t.Helper()
		checkVerify(t, bin, env, u, fmt.Sprintf("%s killed (run %d)", verb, i))
		got := readState(t, u)
		switch verb {
		case "put":
			old, next := fmt.Sprintf("put-%d", putVal), fmt.Sprintf("put-%d", putVal+1)
			switch got.values["A"] {
			case old:
			case next:
				landed = true
				putVal++
			default:
				t.Fatalf("put killed (run %d): A = %q, want %q or %q", i, got.values["A"], old, next)
			}
		case "import-env":
			nOld, nNew := 0, 0
			for _, n := range names {
				switch got.values[n] {
				case fmt.Sprintf("gen-%d-%s", gen, n):
					nOld++
				case fmt.Sprintf("gen-%d-%s", gen+1, n):
					nNew++
				default:
					t.Fatalf("import-env killed (run %d): %s = %q", i, n, got.values[n])
				}
			}
			if nOld != 0 && nNew != 0 {
				t.Fatalf("import-env killed (run %d): %d variables old and %d new: half an import", i, nOld, nNew)
			}
			if nNew > 0 {
				landed = true
				gen++
			}
		case "rotate-dek":
			switch got.dek {
			case want.dek:
			case want.dek + 1:
				landed = true
			default:
				t.Fatalf("rotate-dek killed (run %d): DEK version %d, was %d", i, got.dek, want.dek)
			}
		}
		for n, v := range want.values {
			if verb == "put" && n == "A" || verb == "import-env" && strings.HasPrefix(n, "K") {
				continue
			}
			if got.values[n] != v {
				t.Fatalf("%s killed (run %d): %s = %q, want %q", verb, i, n, got.values[n], v)
			}
		}
		want = got
		return landed
	}
	verbs := []string{"put", "import-env", "rotate-dek"}
	for _, verb := range verbs {
		start := time.Now()
		if !run[verb](time.Minute) {
			t.Fatalf("%s: the timing run was killed", verb)
		}
		took[verb] = time.Since(start)
		if !check(verb, -1) {
			t.Fatalf("%s: the timing run completed but its change is not there", verb)
		}
	}
	const iterations = 20
	for _, verb := range verbs {
		landed, finished := 0, 0
		for i := range iterations {
			if run[verb](time.Duration(rand.Int64N(int64(took[verb]*5/4) + 1))) {
				finished++
			}
			if check(verb, i) {
				landed++
			}
		}
		t.Logf("%s: one run %v; of %d killed at random, %d had exited, %d changes landed", verb, took[verb].Round(time.Millisecond), iterations, finished, landed)
		if landed < finished {
			t.Fatalf("%s: %d runs exited 0 but only %d changes landed", verb, finished, landed)
		}
	}
}

// putResult is one "vault put" of a stream: the name, the value and how
// it ended.
type putResult struct {
	name, value string
	err         error
	stderr      string
}

// putStream runs "vault put" of fresh names from worker w until stop is
// closed, and returns every outcome.
func putStream(t *testing.T, bin string, env []string, u string, w int, stop <-chan struct{}) []putResult {
	var out []putResult
	for i := 0; ; i++ {
		select {
		case <-stop:
			return out
		default:
		}
		r := putResult{name: fmt.Sprintf("W%d_%04d", w, i), value: fmt.Sprintf("value-%d-%d", w, i)}
		_, r.stderr, r.err = pgCmd(t, bin, env, []byte(r.value), "vault", "put", r.name, "--vault", u)
		out = append(out, r)
	}
}

// TestPostgresRestartDuringPuts: four clients put fresh secrets in a loop
// while the server is restarted twice, once with a fast shutdown (sessions
// terminated) and once with an immediate one (a crash: recovery from the
// WAL). Every put either succeeds or fails with one clean error line;
// every put that reported success is there with its value afterwards; the
// vault verifies. Runs on a private cluster (scripts/pg-test-cluster.sh),
// not the shared test server.
func TestPostgresRestartDuringPuts(t *testing.T) {
	pgtest.ServerURL(t)
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster; skipped with -short")
	}
	script, err := filepath.Abs(filepath.Join("scripts", "pg-test-cluster.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: as root the cluster belongs to user postgres, who
	// must reach the directory (t.TempDir's parent is 0700).
	dir, err := os.MkdirTemp("", "keysmith-pgrestart-")
	if err != nil {
		t.Fatal(err)
	}
	cluster := func(args ...string) (string, error) {
		c := exec.Command("bash", append([]string{script}, args...)...)
		var e bytes.Buffer
		c.Stderr = &e
		out, err := c.Output()
		if err != nil {
			return "", fmt.Errorf("pg-test-cluster.sh %s: %v\n%s", strings.Join(args, " "), err, e.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	u, err := cluster("start", dir)
	if err != nil {
		os.RemoveAll(dir)
		if strings.Contains(err.Error(), "binaries not found") && !pgtest.Required() {
			t.Skipf("the restart test starts its own cluster and needs the PostgreSQL server binaries (apt-get install postgresql): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster("stop", dir) })

	bin := selfAsKeysmith(t)
	env := killEnv(t.TempDir())
	mustKS(t, bin, env, nil, "vault", "init", "--vault", u)

	const workers = 4
	stop := make(chan struct{})
	results := make([][]putResult, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { results[w] = putStream(t, bin, env, u, w, stop) })
	}
	time.Sleep(700 * time.Millisecond)
	var restartErr error
	for _, mode := range []string{"fast", "immediate"} {
		start := time.Now()
		if _, err := cluster("restart", dir, mode); err != nil {
			restartErr = err
			break
		}
		t.Logf("restart (%s shutdown) took %v", mode, time.Since(start).Round(time.Millisecond))
		time.Sleep(700 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if restartErr != nil {
		t.Fatal(restartErr)
	}

	var ok, failed int
	for _, rs := range results {
		for _, r := range rs {
			if r.err == nil {
				ok++
				continue
			}
			failed++
			if err := cleanError(r.stderr); err != nil {
				t.Errorf("put %s failed (%v) without a clean error: %v", r.name, r.err, err)
			}
		}
	}
	got := readState(t, u)
	lost := 0
	for _, rs := range results {
		for _, r := range rs {
			if r.err == nil && got.values[r.name] != r.value {
				lost++
				t.Errorf("put %s reported success but reads back %q", r.name, got.values[r.name])
			}
			if r.err != nil && got.values[r.name] != "" && got.values[r.name] != r.value {
				t.Errorf("failed put %s left %q", r.name, got.values[r.name])
			}
		}
	}
	t.Logf("%d puts succeeded, %d failed cleanly, %d lost", ok, failed, lost)
	if ok < workers*4 {
		t.Fatalf("only %d puts succeeded: the stream did not run through the restarts", ok)
	}
	checkVerify(t, bin, env, u, "after the restarts")

	// A command started while the server restarts waits for it (Open
	// retries a refused connection and "the database system is shutting
	// down / starting up") instead of failing.
	restarted := make(chan error, 1)
	go func() { _, err := cluster("restart", dir, "fast"); restarted <- err }()
	time.Sleep(150 * time.Millisecond)
	start := time.Now()
	out, errOut, err := pgCmd(t, bin, env, nil, "vault", "ls", "--vault", u)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if err != nil || !strings.Contains(out, "W0_0000") {
		t.Fatalf("vault ls started during a restart: %v\n%s%s", err, out, errOut)
	}
	t.Logf("vault ls started during a restart took %v", time.Since(start).Round(time.Millisecond))
}

// TestPostgresRefusedIsOneLine: a server that is not there fails the
// command with one error line (pgx lists every address it tried, one per
// line), naming the store without its password, within Open's short
// retry of refused connections.
func TestPostgresRefusedIsOneLine(t *testing.T) {
	bin := selfAsKeysmith(t)
	env := killEnv(t.TempDir())
	start := time.Now()
	_, errOut, err := pgCmd(t, bin, env, nil, "vault", "ls", "--vault", "postgres://keysmith:hunter2@127.0.0.1:1/keysmith")
	took := time.Since(start)
	if err == nil {
		t.Fatal("vault ls on a refused port succeeded")
	}
	if e := cleanError(errOut); e != nil {
		t.Error(e)
	}
	if !strings.Contains(errOut, "vault store is unavailable") || !strings.Contains(errOut, "connection refused") || strings.Contains(errOut, "hunter2") {
		t.Errorf("stderr: %s", errOut)
	}
	if took > 10*time.Second {
		t.Errorf("took %v: a refused connection is retried for a few seconds only", took)
	}
}

// TestPostgresConcurrentRotateDEK: four processes rotate the default
// tenant's DEK three times each, all at once, while two clients put fresh
// secrets and two read existing ones. Every rotation succeeds (the losers
// of the tenant lock wait and rotate again) or fails with a clean error,
// the DEK version ends at one more per successful rotation, every put and
// get succeeds, every secret opens with its value and the vault verifies.
func TestPostgresConcurrentRotateDEK(t *testing.T) {
	pgtest.ServerURL(t)
	if testing.Short() {
		t.Skip("starts keysmith many times; skipped with -short")
	}
	bin := selfAsKeysmith(t)
	home := t.TempDir()
	env := killEnv(home)
	u := pgFaultVault(t, bin, env)
	names := keyNames(100)
	mustKS(t, bin, env, nil, "vault", "import-env", "--vault", u, envFile(t, home, names, 0))
	before := readState(t, u)

	const rotators, rounds = 4, 3
	var mu sync.Mutex
	rotated, rotFailed := 0, 0
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var rot sync.WaitGroup
	for range rotators {
		rot.Go(func() {
			for range rounds {
				_, errOut, err := pgCmd(t, bin, env, nil, "vault", "rotate-dek", "--vault", u)
				mu.Lock()
				if err == nil {
					rotated++
				} else {
					rotFailed++
				}
				mu.Unlock()
				if err != nil {
					if cerr := cleanError(errOut); cerr != nil {
						report("rotate-dek: %v: %v", err, cerr)
					}
				}
			}
		})
	}
	stop := make(chan struct{})
	var load sync.WaitGroup
	puts := make([][]putResult, 2)
	for w := range 2 {
		load.Go(func() { puts[w] = putStream(t, bin, env, u, w, stop) })
	}
	gets := 0
	for range 2 {
		load.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := names[rand.IntN(len(names))]
				out, errOut, err := pgCmd(t, bin, env, nil, "vault", "get", n, "--vault", u)
				if err != nil || out != before.values[n] {
					report("get %s during rotations: %q, %v\n%s", n, out, err, errOut)
				}
				mu.Lock()
				gets++
				mu.Unlock()
			}
		})
	}
	rot.Wait()
	close(stop)
	load.Wait()
	for _, p := range problems {
		t.Error(p)
	}
	after := readState(t, u)
	if after.dek != before.dek+rotated {
		t.Errorf("DEK version %d after %d successful rotations from %d", after.dek, rotated, before.dek)
	}
	for n, v := range before.values {
		if after.values[n] != v {
			t.Errorf("%s = %q after the rotations, want %q", n, after.values[n], v)
		}
	}
	nPuts := 0
	for _, rs := range puts {
		for _, r := range rs {
			nPuts++
			if r.err != nil {
				t.Errorf("put %s during rotations: %v\n%s", r.name, r.err, r.stderr)
			} else if after.values[r.name] != r.value {
				t.Errorf("put %s reported success but reads back %q", r.name, after.values[r.name])
			}
		}
	}
	t.Logf("%d rotations succeeded, %d failed cleanly; %d puts and %d gets ran alongside; DEK version %d -> %d",
		rotated, rotFailed, nPuts, gets, before.dek, after.dek)
	checkVerify(t, bin, env, u, "after the rotations")
}

// keyNames are n secret names K000, K001, ...
func keyNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("K%03d", i)
	}
	return names
}
