package vault

import (
	"strconv"
	"strings"
	"testing"
)

// TestVerifyAll: a clean vault (the release fixture) has no problem; a
// deleted newest version, a flipped value and a wiped audit table are each
// listed (issue 10 items 4, 6, 7).
func TestVerifyAll(t *testing.T) {
	v, path := openFixture(t)
	if _, probs, err := v.VerifyAll(ctx); err != nil || len(probs) != 0 {
		t.Fatalf("clean vault: %+v, %v", probs, err)
	}
	// Rollback of a value: the newest version row deleted.
	sqlExec(t, path, "DELETE FROM secrets WHERE name = 'DB_PASSWORD' AND version = 2")
	if _, err := v.Get(ctx, "default", "DB_PASSWORD", 0); !errIs(err, ErrTampered) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("get after rollback: %v", err)
	}
	sqlExec(t, path, "UPDATE secrets SET sealed = zeroblob(40) WHERE name = 'API_KEY'")
	_, probs, err := v.VerifyAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var what []string
	for _, p := range probs {
		what = append(what, p.What)
	}
	if got := strings.Join(what, ","); !strings.Contains(got, "secret") || !strings.Contains(got, "state") {
		t.Fatalf("problems %q: %+v", got, probs)
	}
	// A wiped audit table does not verify.
	sqlExec(t, path, "DELETE FROM audit")
	if _, probs, err := v.VerifyAll(ctx); err != nil || len(probs) == 0 || probs[0].What != "audit chain" {
		t.Fatalf("wiped audit: %+v, %v", probs, err)
	}
}

// TestVerifiedRowCache: a long-lived Vault remembers the audit rows it
// verified, and that must not let a later change through. After reads
// that verified the newest put of a name, the same Vault still refuses a
// deleted newest version, a put row whose detail was rewritten to match
// the older version, and a put row whose MAC was replaced.
func TestVerifiedRowCache(t *testing.T) {
	v, path, _ := newVault(t)
	for _, val := range []string{"one", "two"} {
		if _, err := v.Put(ctx, "default", "A", []byte(val), ""); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if s, err := v.Get(ctx, "default", "A", 0); err != nil || string(s.Value) != "two" {
			t.Fatalf("get: %q, %v", s.Value, err)
		}
	}
	if len(v.verified.m) == 0 {
		t.Fatal("no verified row remembered: the cache is not in use")
	}
	db := rawDB(t, v)
	var seq int64
	var detail string
	if err := db.QueryRow("SELECT seq, detail FROM audit WHERE action = 'put' AND object = 'A' ORDER BY seq DESC LIMIT 1").Scan(&seq, &detail); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, path, "CREATE TABLE keep AS SELECT * FROM secrets WHERE name = 'A' AND version = 2")
	sqlExec(t, path, "DELETE FROM secrets WHERE name = 'A' AND version = 2")
	if _, err := v.Get(ctx, "default", "A", 0); !errIs(err, ErrTampered) || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("newest version deleted: %v", err)
	}
	// The put row made to record version 1: its digest changes, so its
	// MAC is checked again and fails.
	sqlExec(t, path, "UPDATE audit SET detail = replace(detail, 'version 2', 'version 1') WHERE seq = "+strconv.FormatInt(seq, 10))
	if _, err := v.Get(ctx, "default", "A", 0); !errIs(err, ErrTampered) || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("put row rewritten (%q): %v", detail, err)
	}
	sqlExec(t, path, "UPDATE audit SET detail = replace(detail, 'version 1', 'version 2'), mac = zeroblob(32) WHERE seq = "+strconv.FormatInt(seq, 10))
	sqlExec(t, path, "INSERT INTO secrets SELECT * FROM keep")
	if _, err := v.Get(ctx, "default", "A", 0); !errIs(err, ErrTampered) || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("put row's MAC replaced: %v", err)
	}
}
