package vault

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	v, path, k := newVault(t)
	for i, val := range []string{"one", "two\n"} {
		ver, err := v.Put(ctx, "default", "DB_PASSWORD", []byte(val), "db")
		if err != nil || ver != i+1 {
			t.Fatalf("put %d: %d, %v", i, ver, err)
		}
	}
	v.Close()
	v = reopen(t, path, k)
	s, err := v.Get(ctx, "default", "DB_PASSWORD", 0)
	if err != nil || string(s.Value) != "two\n" || s.Version != 2 {
		t.Fatalf("get: %+v, %v", s, err)
	}
	s, err = v.Get(ctx, "default", "DB_PASSWORD", 1)
	if err != nil || string(s.Value) != "one" {
		t.Fatalf("get v1: %+v, %v", s, err)
	}
	if _, err := v.Get(ctx, "default", "NOPE", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := v.Get(ctx, "other", "DB_PASSWORD", 0); !errors.Is(err, ErrNoTenant) {
		t.Fatalf("no tenant: %v", err)
	}
	ls, err := v.List(ctx, "default")
	if err != nil || len(ls) != 1 || ls[0].Version != 2 {
		t.Fatalf("ls: %+v %v", ls, err)
	}
	if n, err := v.Remove(ctx, "default", "DB_PASSWORD", false); err != nil || n != 2 {
		t.Fatalf("rm: %d %v", n, err)
	}
	if _, err := v.Get(ctx, "default", "DB_PASSWORD", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed: %v", err)
	}
	if h, err := v.History(ctx, "default", "DB_PASSWORD"); err != nil || len(h) != 2 {
		t.Fatalf("history: %v %v", h, err)
	}
	if ls, _ := v.List(ctx, "default"); len(ls) != 0 {
		t.Fatalf("ls after rm: %+v", ls)
	}
	res, err := v.VerifyAudit(ctx)
	if err != nil || res.Unverified != 0 || res.Verified != res.Rows {
		t.Fatalf("verify: %+v %v", res, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", st.Mode(), err)
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", dst.Mode())
	}
}

func TestWrongKey(t *testing.T) {
	_, path, _ := newVault(t)
	v, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	err = v.Unlock(ctx, testKey(t, 2))
	var wk *WrongKeyError
	if !errors.Is(err, ErrWrongKey) || !errors.As(err, &wk) {
		t.Fatalf("got %v", err)
	}
	recs, _ := v.Audit(ctx, AuditFilter{Action: "unlock"})
	if len(recs) != 1 || recs[0].Keyed || recs[0].Success {
		t.Fatalf("audit: %+v", recs)
	}
}
