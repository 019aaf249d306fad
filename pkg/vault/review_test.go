package vault

import (
	"errors"
	"strings"
	"testing"
)

// TestPutKeepsDescription: a put without a description keeps the latest
// version's; ClearDescription clears it; a new one replaces it.
func TestPutKeepsDescription(t *testing.T) {
	v, _, _ := newVault(t)
	put := func(it Item) {
		t.Helper()
		if _, err := v.PutMany(ctx, "default", []Item{it}, nil); err != nil {
			t.Fatal(err)
		}
	}
	latest := func() string {
		t.Helper()
		ls, err := v.List(ctx, "default")
		if err != nil || len(ls) != 1 {
			t.Fatalf("ls: %+v %v", ls, err)
		}
		return ls[0].Description
	}
	put(Item{Name: "DB", Value: []byte("1"), Description: "orders db"})
	put(Item{Name: "DB", Value: []byte("2")})
	if d := latest(); d != "orders db" {
		t.Fatalf("after a put without description: %q", d)
	}
	if _, err := v.Put(ctx, "default", "DB", []byte("3"), ""); err != nil {
		t.Fatal(err)
	}
	if d := latest(); d != "orders db" {
		t.Fatalf("after Put with \"\": %q", d)
	}
	put(Item{Name: "DB", Value: []byte("4"), Description: "new"})
	if d := latest(); d != "new" {
		t.Fatalf("after a new description: %q", d)
	}
	put(Item{Name: "DB", Value: []byte("5"), ClearDescription: true})
	if d := latest(); d != "" {
		t.Fatalf("after clearing: %q", d)
	}
	h, err := v.History(ctx, "default", "DB")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range h {
		got = append(got, s.Description)
	}
	if want := "orders db|orders db|orders db|new|"; strings.Join(got, "|") != want {
		t.Fatalf("history descriptions %q, want %q", strings.Join(got, "|"), want)
	}
	// A removed secret put again keeps its description too: the history is
	// the same name's.
	put(Item{Name: "OTHER", Value: []byte("x"), Description: "kept"})
	if _, err := v.Remove(ctx, "default", "OTHER", false); err != nil {
		t.Fatal(err)
	}
	put(Item{Name: "OTHER", Value: []byte("y")})
	if s, err := v.Get(ctx, "default", "OTHER", 0); err != nil || s.Description != "kept" || s.Version != 2 {
		t.Fatalf("after rm and put: %+v %v", s, err)
	}
}

// TestCheckIntegrityOneLine: a damaged file fails quick_check with
// ErrCorrupt and a one-line message naming the file, not SQLite's
// multi-line report.
func TestCheckIntegrityOneLine(t *testing.T) {
	v, path, k := newVault(t)
	for _, n := range []string{"A", "B", "C"} {
		if _, err := v.Put(ctx, "default", n, []byte("v-"+n), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.CheckIntegrity(ctx); err != nil {
		t.Fatalf("sound vault: %v", err)
	}
	v.Close()
	// Point an audit index at the secrets index's pages: the file opens,
	// and quick_check reports a page referenced twice.
	sqlExec(t, path, `PRAGMA writable_schema = ON;
		UPDATE sqlite_schema SET rootpage = (SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_autoindex_secrets_1') WHERE name = 'audit_ts'`)
	v = reopen(t, path, k)
	err := v.CheckIntegrity(ctx)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "***") || !strings.Contains(msg, path) || len(msg) > len(path)+160 {
		t.Fatalf("message is not one short line: %q", msg)
	}
}

// TestNotInBackup counts what Export leaves out: nothing in a vault with
// secrets only; tokens, grants, requests and open stubs once a service
// has asked.
func TestNotInBackup(t *testing.T) {
	v, _, _ := newVault(t)
	if _, err := v.Put(ctx, "default", "A", []byte("a"), ""); err != nil {
		t.Fatal(err)
	}
	if om, err := v.NotInBackup(ctx); err != nil || len(om) != 0 {
		t.Fatalf("secrets only: %+v %v", om, err)
	}
	tok, _ := approvedToken(t, v, "orders")
	if _, err := v.ServiceGet(ctx, tok, "default", "MISSING", 0); !errors.Is(err, ErrAccessPending) {
		t.Fatalf("service get of a missing secret: %v", err)
	}
	om, err := v.NotInBackup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, o := range om {
		got[o.What] = o.Count
	}
	if got["service token"] != 1 || got["stub"] != 1 || got["access request"] != 1 || got["device"] != 0 {
		t.Fatalf("not in backup: %+v", om)
	}
	// A filled stub is not left out: the secret it stood for is exported.
	if _, err := v.Put(ctx, "default", "MISSING", []byte("m"), ""); err != nil {
		t.Fatal(err)
	}
	om, _ = v.NotInBackup(ctx)
	for _, o := range om {
		if o.What == "stub" {
			t.Fatalf("filled stub counted: %+v", om)
		}
	}
}

// TestAuditWrongEnvironment: a refused open for another environment leaves
// an unkeyed failed "unlock" row, which the chain accepts as such.
func TestAuditWrongEnvironment(t *testing.T) {
	_, path, k := newVault(t)
	v, err := openFile(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	v.AuditWrongEnvironment(ctx, "prod", "-e/--env")
	v.Close()
	v = reopen(t, path, k)
	recs, err := v.Audit(ctx, AuditFilter{Action: "unlock"})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit: %+v %v", recs, err)
	}
	r := recs[0]
	if r.Keyed || r.Success || r.Detail != "environment prod selected by -e/--env, vault is dev" {
		t.Fatalf("row: %+v", r)
	}
	res, err := v.VerifyAudit(ctx)
	if err != nil || res.Unverified != 1 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}
