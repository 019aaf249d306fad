package vault

import (
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
