package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// approvedToken creates and approves a token for service.
func approvedToken(t *testing.T, v *Vault, service string) (string, *Token) {
	t.Helper()
	tok, rec, err := v.CreateToken(ctx, service, "1.0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ApproveToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	return tok, rec
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func pendingRequests(t *testing.T, v *Vault) []AccessRequest {
	t.Helper()
	rs, err := v.AccessRequests(ctx, "default", true)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestTokenFormat(t *testing.T) {
	v, path, _ := newVault(t)
	tok, rec, err := v.CreateToken(ctx, "orders", "2.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) != tokenLen {
		t.Fatalf("token %q", tok)
	}
	id, err := ParseToken(tok)
	if err != nil || id != rec.ID {
		t.Fatalf("ParseToken: %q %v, want %q", id, err, rec.ID)
	}
	secret := tok[len(TokenPrefix)+2*tokenIDBytes+1:]
	if b, err := base64.RawURLEncoding.DecodeString(secret); err != nil || len(b) < 32 {
		t.Fatalf("secret part has %d bytes: %v", len(b), err)
	}
	// Only the SHA-256 is stored.
	var stored []byte
	if err := rawDB(t, v).QueryRow("SELECT hash FROM service_tokens WHERE id = ?", id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256([]byte(tok)); !bytes.Equal(stored, h[:]) {
		t.Fatal("stored hash is not SHA-256 of the token")
	}
	v.Close()
	for _, p := range []string{path, path + "-wal"} {
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte(secret[:16])) {
			t.Fatalf("%s contains the token", p)
		}
	}
	// Two tokens never collide.
	v2, _, _ := newVault(t)
	a, _, _ := v2.CreateToken(ctx, "orders", "")
	b, _, _ := v2.CreateToken(ctx, "orders", "")
	if a == b {
		t.Fatal("two tokens are equal")
	}
	if _, _, err := v2.CreateToken(ctx, "Bad Name", ""); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad service name: %v", err)
	}
}

func TestParseToken(t *testing.T) {
	good := TokenPrefix + "0123456789abcdef_" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	if _, err := ParseToken(good); err != nil {
		t.Fatalf("good token: %v", err)
	}
	for _, bad := range []string{
		"", "kst1_", good[1:], good + "A", strings.Replace(good, "kst1_", "kst2_", 1),
		strings.Replace(good, "0123456789abcdef", "0123456789ABCDEF", 1),
		strings.Replace(good, "0123456789abcdef", "0123456789abcdeg", 1),
		strings.Replace(good, "0123456789abcdef_", "0123456789abcdef-", 1),
		good[:len(good)-1] + "=", good[:len(good)-1] + "+",
	} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("ParseToken(%q) = %v, want ErrAccessDenied", bad, err)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(TokenPrefix + "0123456789abcdef_" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	f.Add("kst1_x_y")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseToken(s)
		if err != nil {
			return
		}
		if len(id) != 16 || !strings.HasPrefix(s, TokenPrefix+id+"_") || len(s) != tokenLen {
			t.Fatalf("accepted %q with ID %q", s, id)
		}
	})
}

// TestWorkflow walks the whole issue: create a token, read while pending,
// approve, read a missing secret (stub + request), fill it, approve the
// request, read, revoke the grant, grant again, revoke the token.
func TestWorkflow(t *testing.T) {
	v, _, _ := newVault(t)
	tok, rec, err := v.CreateToken(ctx, "orders", "1.0")
	if err != nil {
		t.Fatal(err)
	}

	// pending token: permission denied, audited, nothing recorded
	_, err = v.ServiceGet(ctx, tok, "default", "DB_URL", 0)
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrAccessDenied) || te.Service != "orders" || !strings.Contains(err.Error(), "is pending") {
		t.Fatalf("pending token: %v", err)
	}
	if s, _ := v.Stubs(ctx, "default"); len(s) != 0 {
		t.Fatalf("a pending token created stubs: %v", s)
	}
	if _, err := v.ApproveToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ApproveToken(ctx, rec.ID); !errors.Is(err, ErrDecided) {
		t.Fatalf("approving twice: %v", err)
	}

	// missing secret: a stub and one request, pending, however often asked
	for range 3 {
		_, err = v.ServiceGet(ctx, tok, "default", "DB_URL", 0)
		var ae *AccessError
		if !errors.As(err, &ae) || !errors.Is(err, ErrAccessPending) || errors.Is(err, ErrAccessDenied) {
			t.Fatalf("missing secret: %v", err)
		}
		if ae.Problems[0].Reason != "missing" || ae.Problems[0].Request == 0 {
			t.Fatalf("problem %+v", ae.Problems[0])
		}
	}
	stubs, _ := v.Stubs(ctx, "default")
	if len(stubs) != 1 || stubs[0].Name != "DB_URL" || stubs[0].RequestedBy != "orders" || fmt.Sprint(stubs[0].AskedBy) != "[orders]" {
		t.Fatalf("stubs %+v", stubs)
	}
	reqs := pendingRequests(t, v)
	if len(reqs) != 1 || reqs[0].Service != "orders" || reqs[0].Name != "DB_URL" || reqs[0].Origin != "read" {
		t.Fatalf("requests %+v", reqs)
	}

	// put fills the stub; still no grant: pending, no second request
	if _, err := v.Put(ctx, "default", "DB_URL", []byte("postgres://x"), ""); err != nil {
		t.Fatal(err)
	}
	if s, _ := v.Stubs(ctx, "default"); len(s) != 0 {
		t.Fatalf("stub not filled: %+v", s)
	}
	_, err = v.ServiceGet(ctx, tok, "default", "DB_URL", 0)
	wantErr(t, err, ErrAccessPending)
	if len(pendingRequests(t, v)) != 1 {
		t.Fatal("request duplicated")
	}

	// approve: the value, and the grant's counters move
	if _, err := v.ApproveRequest(ctx, reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.DenyRequest(ctx, reqs[0].ID); !errors.Is(err, ErrDecided) {
		t.Fatalf("deny after approve: %v", err)
	}
	for i := range 2 {
		s, err := v.ServiceGet(ctx, tok, "default", "DB_URL", 0)
		if err != nil || string(s.Value) != "postgres://x" {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	gs, _ := v.Grants(ctx, "default")
	if len(gs) != 1 || gs[0].AccessCount != 2 || gs[0].LastAccess == "" || gs[0].Status != GrantActive {
		t.Fatalf("grants %+v", gs)
	}
	toks, _ := v.Tokens(ctx)
	if toks[0].UseCount != 7 || toks[0].LastUsed == "" {
		t.Fatalf("token use: %+v", toks[0])
	}

	// another service's token reads nothing of orders'
	other, _ := approvedToken(t, v, "billing")
	_, err = v.ServiceGet(ctx, other, "default", "DB_URL", 0)
	wantErr(t, err, ErrAccessPending)

	// revoke the grant: denied, and no new request
	if err := v.RevokeAccess(ctx, "default", "orders", "DB_URL"); err != nil {
		t.Fatal(err)
	}
	if err := v.RevokeAccess(ctx, "default", "orders", "DB_URL"); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("revoking twice: %v", err)
	}
	_, err = v.ServiceGet(ctx, tok, "default", "DB_URL", 0)
	wantErr(t, err, ErrAccessDenied)
	if rs := pendingRequests(t, v); len(rs) != 1 || rs[0].Service != "billing" {
		t.Fatalf("requests after revoke: %+v", rs)
	}
	if _, err := v.GrantAccess(ctx, "default", "orders", "DB_URL"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.ServiceGet(ctx, tok, "default", "DB_URL", 0); err != nil {
		t.Fatal(err)
	}

	// revoke the token: denied
	if _, err := v.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	_, err = v.ServiceGet(ctx, tok, "default", "DB_URL", 0)
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}

	// every decision is in the audit trail, and the chain verifies
	recs, err := v.Audit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		key := r.Action
		if !r.Success {
			key += "!"
		}
		seen[key]++
		if r.Action != "put" && r.Action != "init" && r.ServiceName() == "" {
			t.Errorf("row %d (%s) names no service: %q", r.Seq, r.Action, r.Detail)
		}
	}
	for _, want := range []string{"token-create", "token-approve", "token-approve!", "token-revoke", "stub", "access-request", "access-approve", "access-deny!",
		"access-revoke", "access-revoke!", "access-grant", "get", "get!"} {
		if seen[want] == 0 {
			t.Errorf("no %q audit row (%v)", want, seen)
		}
	}
	if seen["stub"] != 1 || seen["access-request"] != 2 {
		t.Errorf("stub/request rows: %v", seen)
	}
	if res, err := v.VerifyAudit(ctx); err != nil || res.Verified != len(recs) {
		t.Fatalf("verify: %+v %v", res, err)
	}
	// service reads are audited as the service
	last := recs[len(recs)-1]
	if last.Actor != "orders" || last.Action != "get" || last.Success || last.ServiceName() != "orders" {
		t.Fatalf("last row %+v", last)
	}
}

// TestWrongTokens: 200 wrong tokens of every kind are all denied and
// audited, and none counts as a use of the real token.
func TestWrongTokens(t *testing.T) {
	v, _, _ := newVault(t)
	tok, rec := approvedToken(t, v, "orders")
	if _, err := v.Put(ctx, "default", "S", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GrantAccess(ctx, "default", "orders", "S"); err != nil {
		t.Fatal(err)
	}
	before, _ := v.Audit(ctx, AuditFilter{})
	secretPart := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	const n = 200
	for i := range n {
		var wrong string
		switch i % 5 {
		case 0: // unknown ID
			id := make([]byte, 8)
			rand.Read(id)
			wrong = TokenPrefix + hex.EncodeToString(id) + "_" + secretPart()
		case 1: // the real ID, another secret
			wrong = TokenPrefix + rec.ID + "_" + secretPart()
		case 2: // one character changed
			b := []byte(tok)
			j := len(TokenPrefix) + 17 + i%43
			b[j] = "AB"[boolInt(b[j] == 'A')]
			wrong = string(b)
		case 3: // malformed
			wrong = fmt.Sprintf("not-a-token-%d", i)
		case 4: // truncated
			wrong = tok[:len(tok)-1-i%20]
		}
		if wrong == tok {
			t.Fatal("generated the real token")
		}
		_, err := v.ServiceGet(ctx, wrong, "default", "S", 0)
		var te *TokenError
		if !errors.As(err, &te) || !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("wrong token %d (%q): %v", i, wrong, err)
		}
	}
	after, _ := v.Audit(ctx, AuditFilter{})
	denied := 0
	for _, r := range after[len(before):] {
		if r.Action == "get" && !r.Success && r.Object == "S" {
			denied++
		}
	}
	if denied != n || len(after)-len(before) != n {
		t.Fatalf("%d denied rows of %d new, want %d", denied, len(after)-len(before), n)
	}
	toks, _ := v.Tokens(ctx)
	if toks[0].UseCount != 0 {
		t.Fatalf("wrong tokens counted as uses: %d", toks[0].UseCount)
	}
	gs, _ := v.Grants(ctx, "default")
	if gs[0].AccessCount != 0 {
		t.Fatal("a wrong token read the secret")
	}
	// the real one still works
	if s, err := v.ServiceGet(ctx, tok, "default", "S", 0); err != nil || string(s.Value) != "v" {
		t.Fatalf("real token: %v", err)
	}
	if _, err := v.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRequestNeverDuplicated reads an ungranted secret from several vault
// handles at once: one pending request.
func TestRequestNeverDuplicated(t *testing.T) {
	v, path, k := newVault(t)
	tok, _ := approvedToken(t, v, "orders")
	if _, err := v.Put(ctx, "default", "S", []byte("v"), ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 4 {
		h := reopen(t, path, k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				_, err := h.ServiceGet(ctx, tok, "default", "S", 0)
				if !errors.Is(err, ErrAccessPending) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	if err := rawDB(t, v).QueryRow("SELECT count(*) FROM access_requests").Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d requests, want 1 (%v)", n, err)
	}
	// the index itself refuses a second pending request
	if _, err := rawDB(t, v).Exec("INSERT INTO access_requests (tenant_id, service, name, status, requested_by, requested_at) VALUES (1, 'orders', 'S', 'pending', 'x', 'y')"); err == nil {
		t.Fatal("a second pending request was stored")
	}
	if _, err := v.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDenyAndDeclare(t *testing.T) {
	v, _, _ := newVault(t)
	tok, _ := approvedToken(t, v, "orders")
	if _, err := v.Put(ctx, "default", "A", []byte("a"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, "default", "C", []byte("c"), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GrantAccess(ctx, "default", "orders", "C"); err != nil {
		t.Fatal(err)
	}
	res, err := v.DeclareAccess(ctx, "default", "orders", []Declared{{"A", "a"}, {"B", "the b"}, {"C", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.Stubbed, res.Requested, res.Granted) != "[B] [A B] [C]" {
		t.Fatalf("declare: %+v", res)
	}
	stubs, _ := v.Stubs(ctx, "default")
	if len(stubs) != 1 || stubs[0].Description != "the b" || stubs[0].RequestedBy != "orders" {
		t.Fatalf("stubs %+v", stubs)
	}
	// again: nothing new
	res, _ = v.DeclareAccess(ctx, "default", "orders", []Declared{{"A", "a"}, {"B", "the b"}, {"C", "c"}})
	if fmt.Sprint(res.Stubbed, res.Requested, res.Pending) != "[] [] [A B]" {
		t.Fatalf("declare again: %+v", res)
	}
	probs, err := v.CheckAccess(ctx, "default", "orders", []string{"A", "B", "C"})
	if err != nil || fmt.Sprint(probs) != "[A (not granted, request 1 pending) B (missing, not granted, request 2 pending)]" {
		t.Fatalf("check: %v %v", probs, err)
	}
	// deny A: reads of A are refused, and a declare leaves it alone
	reqs := pendingRequests(t, v)
	if _, err := v.DenyRequest(ctx, reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = v.ServiceGetMany(ctx, tok, "default", []string{"A", "B", "C"})
	var ae *AccessError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAccessDenied) || len(ae.Problems) != 2 {
		t.Fatalf("many: %v", err)
	}
	if !strings.Contains(err.Error(), "A (denied)") || !strings.Contains(err.Error(), "B (missing, request 2 pending)") {
		t.Fatalf("message: %v", err)
	}
	res, _ = v.DeclareAccess(ctx, "default", "orders", []Declared{{"A", "a"}})
	if fmt.Sprint(res.Denied, res.Requested) != "[A] []" {
		t.Fatalf("declare after deny: %+v", res)
	}
	// the granted C was not read in the failed batch
	gs, _ := v.Grants(ctx, "default")
	for _, g := range gs {
		if g.Name == "C" && g.AccessCount != 0 {
			t.Fatal("C counted as read in a refused batch")
		}
	}
	// grant everything, fill B: the batch reads
	if _, err := v.GrantAccess(ctx, "default", "orders", "A"); err != nil {
		t.Fatal(err)
	}
	if _, err := v.GrantAccess(ctx, "default", "orders", "B"); err != nil {
		t.Fatal(err)
	}
	_, err = v.ServiceGetMany(ctx, tok, "default", []string{"A", "B", "C"})
	if !errors.As(err, &ae) || ae.Problems[0].Reason != "missing: granted, no value yet" {
		t.Fatalf("granted stub: %v", err)
	}
	if _, err := v.Put(ctx, "default", "B", []byte("b"), ""); err != nil {
		t.Fatal(err)
	}
	got, err := v.ServiceGetMany(ctx, tok, "default", []string{"A", "B", "C"})
	if err != nil || len(got) != 3 || string(got[1].Value) != "b" {
		t.Fatalf("many: %v", err)
	}
	if probs, _ := v.CheckAccess(ctx, "default", "orders", []string{"A", "B", "C"}); len(probs) != 0 {
		t.Fatalf("check after grants: %v", probs)
	}
	// a removed secret is missing again: the stub reopens
	if _, err := v.Remove(ctx, "default", "B", false); err != nil {
		t.Fatal(err)
	}
	_, err = v.ServiceGet(ctx, tok, "default", "B", 0)
	wantErr(t, err, ErrAccessPending)
	if s, _ := v.Stubs(ctx, "default"); len(s) != 1 || s[0].Name != "B" {
		t.Fatalf("stub after rm: %+v", s)
	}
	if _, err := v.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTokenDecisions(t *testing.T) {
	v, _, _ := newVault(t)
	tok, rec, _ := v.CreateToken(ctx, "orders", "")
	if _, err := v.DenyToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	_, err := v.ServiceGet(ctx, tok, "default", "X", 0)
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("denied token: %v", err)
	}
	if _, err := v.ApproveToken(ctx, rec.ID); err != nil {
		t.Fatalf("approve after deny: %v", err)
	}
	if _, err := v.RevokeToken(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func(context.Context, string) (*Token, error){v.ApproveToken, v.DenyToken, v.RevokeToken} {
		if _, err := f(ctx, rec.ID); !errors.Is(err, ErrDecided) {
			t.Fatalf("decision on a revoked token: %v", err)
		}
	}
	if _, err := v.ApproveToken(ctx, "0000000000000000"); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("unknown ID: %v", err)
	}
	if _, err := v.ApproveRequest(ctx, 99); !errors.Is(err, ErrNoRecord) {
		t.Fatalf("unknown request: %v", err)
	}
	toks, _ := v.Tokens(ctx)
	if len(toks) != 1 || toks[0].Status != TokenRevoked || toks[0].UseCount != 1 {
		t.Fatalf("tokens %+v", toks)
	}
	if _, err := v.VerifyAudit(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestServiceTokenProblem: a service without an approved token reads
// nothing, so the deploy gate reports it.
func TestServiceTokenProblem(t *testing.T) {
	v, _, _ := newVault(t)
	want := func(service, reason string) {
		t.Helper()
		if got, err := v.ServiceTokenProblem(ctx, service); err != nil || got != reason {
			t.Fatalf("ServiceTokenProblem(%s) = %q, %v; want %q", service, got, err, reason)
		}
	}
	want("orders", "no approved token (none created)")
	_, t1, err := v.CreateToken(ctx, "orders", "")
	if err != nil {
		t.Fatal(err)
	}
	want("orders", "no approved token (1 pending)")
	if _, err := v.ApproveToken(ctx, t1.ID); err != nil {
		t.Fatal(err)
	}
	want("orders", "")
	want("billing", "no approved token (none created)")
	if _, err := v.RevokeToken(ctx, t1.ID); err != nil {
		t.Fatal(err)
	}
	want("orders", "no approved token (1 revoked)")
	_, t2, _ := v.CreateToken(ctx, "orders", "")
	if _, err := v.DenyToken(ctx, t2.ID); err != nil {
		t.Fatal(err)
	}
	want("orders", "no approved token (1 denied, 1 revoked)")
}
