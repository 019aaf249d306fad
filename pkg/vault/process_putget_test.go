package vault

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

const (
	putGetWorkers = 16
	putGetPuts    = 100 // puts per worker
)

func putGetName(w, i int) string  { return fmt.Sprintf("P%02d_S%03d", w, i) }
func putGetValue(w, i int) string { return fmt.Sprintf("value-%d-%d", w, i) }

// childPutGet is one worker of TestSixteenProcessesPutGet: it puts its
// putGetPuts secrets one by one and, after each, gets back one of its own
// earlier ones and the newest one another worker says has landed. Each
// worker publishes how many of its puts have committed in
// VAULT_PROGRESS/<worker> (written then renamed, so a reader sees a whole
// number); a name counted there must be readable with its value. It prints
// the number of gets it made; any failure goes to stderr with exit 1.
func childPutGet() int {
	v, err := childVault()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer v.Close()
	w, _ := strconv.Atoi(os.Getenv("WORKER"))
	dir := os.Getenv("VAULT_PROGRESS")
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "worker %d: "+format+"\n", append([]any{w}, args...)...)
		return 1
	}
	get := func(ow, oi int) error {
		s, err := v.Get(ctx, "default", putGetName(ow, oi), 0)
		if err != nil {
			return err
		}
		if string(s.Value) != putGetValue(ow, oi) {
			return fmt.Errorf("get %s = %q, want %q", putGetName(ow, oi), s.Value, putGetValue(ow, oi))
		}
		return nil
	}
	gets := 0
	for i := 0; i < putGetPuts; i++ {
		if _, err := v.Put(ctx, "default", putGetName(w, i), []byte(putGetValue(w, i)), ""); err != nil {
			return fail("put %d: %v", i, err)
		}
		tmp := filepath.Join(dir, fmt.Sprintf(".%d.tmp", w))
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(i+1)), 0o600); err != nil {
			return fail("%v", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, strconv.Itoa(w))); err != nil {
			return fail("%v", err)
		}
		if err := get(w, i/2); err != nil {
			return fail("own: %v", err)
		}
		gets++
		// The next worker round the ring whose progress file shows a put.
		for k := 1; k < putGetWorkers; k++ {
			ow := (w + k + i) % putGetWorkers
			if ow == w {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(ow)))
			if os.IsNotExist(err) {
				continue
			} else if err != nil {
				return fail("%v", err)
			}
			n, err := strconv.Atoi(string(b))
			if err != nil || n < 1 {
				return fail("progress of worker %d: %q", ow, b)
			}
			if err := get(ow, n-1); err != nil {
				return fail("other (worker %d has %d puts): %v", ow, n, err)
			}
			gets++
			break
		}
	}
	fmt.Println(gets)
	return 0
}

// TestSixteenProcessesPutGet (issue 11, faults): sixteen processes each put
// 100 secrets, interleaved with gets of their own and other workers'
// landed names, on a vault file and on a PostgreSQL schema. Nothing is
// lost, no call fails, every get sees the value written, and the vault
// verifies (audit chain with every put and get, VerifyAll clean).
func TestSixteenProcessesPutGet(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	t.Run("sqlite", func(t *testing.T) {
		v, path, k := newVault(t)
		v.Close()
		putGetRun(t, path, func() *Vault { return reopen(t, path, k) })
	})
	t.Run("postgres", func(t *testing.T) {
		u := pgtest.NewSchema(t)
		st, err := postgres.Create(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		k := testKey(t, 1)
		v, err := Create(ctx, st, "dev", k, testOpts())
		if err != nil {
			t.Fatal(err)
		}
		v.Close()
		putGetRun(t, u, func() *Vault {
			st, err := postgres.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			return openUnlocked(t, st, k)
		})
	})
}

func putGetRun(t *testing.T, where string, reopen func() *Vault) {
	start := time.Now()
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, putGetWorkers)
	outs := make([]bytes.Buffer, putGetWorkers)
	stderrs := make([]bytes.Buffer, putGetWorkers)
	for w := 0; w < putGetWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "VAULT_TEST_CHILD=put-get", "VAULT_PATH="+where,
				"VAULT_PROGRESS="+dir, "WORKER="+strconv.Itoa(w))
			cmd.Stdout, cmd.Stderr = &outs[w], &stderrs[w]
			errs[w] = cmd.Run()
		}()
	}
	wg.Wait()
	gets := 0
	for w := range errs {
		if errs[w] != nil || stderrs[w].Len() != 0 {
			t.Errorf("worker %d: %v: %s", w, errs[w], stderrs[w].Bytes())
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(outs[w].String()))
		if err != nil {
			t.Errorf("worker %d printed %q", w, outs[w].Bytes())
		}
		gets += n
	}
	t.Logf("%d processes × %d puts, %d gets: %v", putGetWorkers, putGetPuts, gets, time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.FailNow()
	}
	v := reopen()
	res, err := v.VerifyAudit(ctx)
	if err != nil || res.Unverified != 0 {
		t.Fatalf("audit: %+v %v", res, err)
	}
	if want := 1 + putGetWorkers*putGetPuts + gets; res.Rows < want {
		t.Errorf("audit rows %d, want at least %d (init, puts, gets)", res.Rows, want)
	}
	all, err := v.GetAll(ctx, "default", "P", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != putGetWorkers*putGetPuts {
		t.Fatalf("%d secrets landed, want %d", len(all), putGetWorkers*putGetPuts)
	}
	seen := map[string]bool{}
	for _, s := range all {
		var w, i int
		if _, err := fmt.Sscanf(s.Name, "P%02d_S%03d", &w, &i); err != nil || s.Name != putGetName(w, i) || w >= putGetWorkers || i >= putGetPuts {
			t.Errorf("unexpected secret %s", s.Name)
			continue
		}
		seen[s.Name] = true
		if string(s.Value) != putGetValue(w, i) {
			t.Errorf("%s = %q, want %q", s.Name, s.Value, putGetValue(w, i))
		}
		if s.Version != 1 {
			t.Errorf("%s is at version %d, want 1", s.Name, s.Version)
		}
	}
	if len(seen) != putGetWorkers*putGetPuts {
		t.Errorf("%d distinct names", len(seen))
	}
	_, probs, err := v.VerifyAll(ctx)
	if err != nil || len(probs) != 0 {
		t.Fatalf("VerifyAll: %v %+v", err, probs)
	}
}
