package vault

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/keysmith/keysmith/pkg/vault/store/postgres"
)

// The test binary re-executes itself as a child process for the tests
// below: VAULT_TEST_CHILD names what the child does.
func TestMain(m *testing.M) {
	switch os.Getenv("VAULT_TEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "put":
		os.Exit(childPut())
	case "rotate-dek":
		os.Exit(childRotate())
	case "put-get":
		os.Exit(childPutGet())
	}
	os.Exit(2)
}

// childVault opens VAULT_PATH: a vault file, or a PostgreSQL URL.
func childVault() (*Vault, error) {
	opts := Options{Actor: "child-" + os.Getenv("WORKER")}
	var v *Vault
	var err error
	if u := os.Getenv("VAULT_PATH"); postgres.IsURL(u) {
		var st *postgres.Store
		if st, err = postgres.Open(ctx, u); err == nil {
			v, err = Open(ctx, st, opts)
		}
	} else {
		v, err = openFile(u, opts)
	}
	if err != nil {
		return nil, err
	}
	k, _ := testKeyBytes(1)
	if err := v.Unlock(ctx, k); err != nil {
		return nil, err
	}
	return v, nil
}

func testKeyBytes(b byte) (Key, error) {
	buf := make([]byte, 32)
	for i := range buf {
		buf[i] = b
	}
	return newMasterKey(buf)
}

func childPut() int {
	v, err := childVault()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer v.Close()
	w := os.Getenv("WORKER")
	for i := 0; i < 50; i++ {
		if _, err := v.Put(ctx, "default", fmt.Sprintf("W%s_S%02d", w, i), []byte(fmt.Sprintf("value-%s-%d", w, i)), ""); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func childRotate() int {
	v, err := childVault()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	at, _ := strconv.Atoi(os.Getenv("SIGNAL_AT"))
	_, err = v.RotateDEK(ctx, "default", func(done, total int) {
		if done == at {
			fmt.Println("reached")
			os.Stdout.Sync()
			select {} // wait to be killed
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("committed")
	select {}
}

// TestConcurrentWriters: eight processes each put 50 secrets at once; all
// 400 land and none fails with "database is locked".
func TestConcurrentWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	v, path, k := newVault(t)
	v.Close()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	outs := make([][]byte, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "VAULT_TEST_CHILD=put", "VAULT_PATH="+path, "WORKER="+strconv.Itoa(w))
			outs[w], errs[w] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for w := range errs {
		if errs[w] != nil {
			t.Errorf("worker %d: %v: %s", w, errs[w], outs[w])
		}
	}
	v = reopen(t, path, k)
	all, err := v.GetAll(ctx, "default", "W", "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 400 {
		t.Fatalf("%d secrets landed, want 400", len(all))
	}
	for _, s := range all {
		var w, i int
		fmt.Sscanf(s.Name, "W%d_S%d", &w, &i)
		if string(s.Value) != fmt.Sprintf("value-%d-%d", w, i) {
			t.Errorf("%s = %q", s.Name, s.Value)
		}
	}
	res, err := v.VerifyAudit(ctx)
	if err != nil || res.Unverified != 0 {
		t.Fatalf("audit: %+v %v", res, err)
	}
	if res.Rows < 1+400+400 {
		t.Fatalf("audit rows %d", res.Rows)
	}
}

// TestKillDuringRotateDEK kills -9 a process in the middle of a large
// rotate-dek (and once right after it commits); every secret still opens.
func TestKillDuringRotateDEK(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	const n = 5000
	v, path, k := newVault(t)
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Name: fmt.Sprintf("S%05d", i), Value: []byte(fmt.Sprintf("value-%d", i))}
	}
	if _, err := v.PutMany(ctx, "default", items, nil); err != nil {
		t.Fatal(err)
	}
	v.Close()
	for round, at := range []int{1, n / 2, n, -1} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "VAULT_TEST_CHILD=rotate-dek", "VAULT_PATH="+path, "SIGNAL_AT="+strconv.Itoa(at))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		want := "reached\n"
		if at < 0 {
			want = "committed\n"
		}
		if line != want {
			t.Fatalf("round %d: child said %q", round, line)
		}
		if _, err := os.Stat(path + "-wal"); err != nil {
			t.Logf("round %d: no WAL left (%v)", round, err)
		}
		v := reopen(t, path, k)
		all, err := v.GetAll(ctx, "default", "", "check")
		if err != nil {
			t.Fatalf("round %d (killed at %d): %v", round, at, err)
		}
		if len(all) != n {
			t.Fatalf("round %d: %d secrets", round, len(all))
		}
		for i, s := range all {
			if string(s.Value) != fmt.Sprintf("value-%d", i) {
				t.Fatalf("round %d: %s = %q", round, s.Name, s.Value)
			}
		}
		in, _ := v.Info(ctx)
		t.Logf("round %d (kill at %d): DEK version %d", round, at, in.Tenants[0].DEKVersion)
		if _, err := v.VerifyAudit(ctx); err != nil {
			t.Fatal(err)
		}
		v.Close()
	}
}
