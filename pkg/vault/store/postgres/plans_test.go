package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keysmith/keysmith/pkg/vault/store"
	"github.com/keysmith/keysmith/pkg/vault/store/postgres/pgtest"
)

// TestAuditScanGenericPlans: keysmith serve runs its statements on the
// generic plans PostgreSQL caches for prepared statements, so the scans of
// the audit chain that every read makes (the state checks) must have a
// generic plan that goes straight to the rows asked for, on a chain of
// many get rows and no restore: no walk along the primary key, no
// sequential scan, a handful of rows looked at. Each plan is forced
// generic (plan_cache_mode) and run (EXPLAIN ANALYZE).
func TestAuditScanGenericPlans(t *testing.T) {
	u := pgtest.NewSchema(t)
	mustCreate(t, u).Close()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for _, q := range []string{
		// 40,000 reads of 20 names, each name put and granted once, one
		// token approved; no restore anywhere.
		`INSERT INTO audit (seq, ts, actor, action, tenant, object, success)
			SELECT g, '2026-01-01T00:00:00Z', 'bench', 'get', 'default', 'S' || (g % 20), 1 FROM generate_series(1000, 40999) g`,
		`INSERT INTO audit (seq, ts, actor, action, tenant, object, success)
			SELECT 100 + g, '2026-01-01T00:00:00Z', 'op', 'put', 'default', 'S' || g, 1 FROM generate_series(0, 19) g`,
		`INSERT INTO audit (seq, ts, actor, action, tenant, object, success, detail)
			SELECT 200 + g, '2026-01-01T00:00:00Z', 'op', 'access-grant', 'default', 'S' || g, 1, 'service bench: granted' FROM generate_series(0, 19) g`,
		`INSERT INTO audit (seq, ts, actor, action, tenant, object, success) VALUES (300, '2026-01-01T00:00:00Z', 'op', 'token-approve', '', '0123456789abcdef', 1)`,
		`ANALYZE audit`,
		`SET plan_cache_mode = force_generic_plan`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("S%d", i)
	}
	grant := []string{"access-grant", "access-approve", "access-deny", "access-revoke"}
	latest := []string{"put", "rm", "purge"}
	for _, c1 := range []struct {
		name string
		f    store.AuditFilter
	}{
		{"token state", store.AuditFilter{Object: "0123456789abcdef", Actions: []string{"token-approve", "token-deny", "token-revoke"}, Desc: true}},
		{"one name", store.AuditFilter{Tenant: "default", Object: "S3", Actions: append(grant, latest...), OrActions: []string{"restore"}, Desc: true}},
		{"20 names", store.AuditFilter{Tenant: "default", Objects: names, Actions: append(grant, latest...), OrActions: []string{"restore"}, Desc: true}},
		{"challenge", store.AuditFilter{Tenant: "default", Object: "dev1", Actions: []string{"device-verify"}, Since: "2026-01-01T00:00:00Z", Desc: true}},
	} {
		t.Run(c1.name, func(t *testing.T) {
			b := buildAuditScan(c1.f)
			if len(b.mode) != 0 {
				t.Fatalf("the scan is not run on a cached plan (exec mode %v)", b.mode)
			}
			b.args[0], b.args[1] = b.cursor, b.size
			stmt := "s_" + strings.ReplaceAll(c1.name, " ", "_")
			if _, err := c.Prepare(ctx, stmt, b.q); err != nil {
				t.Fatal(err)
			}
			// EXECUTE takes no parameters of its own: the arguments as literals.
			lits := make([]string, len(b.args))
			quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
			for i, a := range b.args {
				switch a := a.(type) {
				case int64, int:
					lits[i] = fmt.Sprint(a)
				case string:
					lits[i] = quote(a)
				case []string:
					q := make([]string, len(a))
					for j := range a {
						q[j] = quote(a[j])
					}
					lits[i] = "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
				default:
					t.Fatalf("argument %d: %T", i+1, a)
				}
			}
			var out string
			if err := c.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE "+stmt+"("+strings.Join(lits, ", ")+")").Scan(&out); err != nil {
				t.Fatal(err)
			}
			var plan []struct{ Plan map[string]any }
			if err := json.Unmarshal([]byte(out), &plan); err != nil || len(plan) != 1 {
				t.Fatalf("plan %s: %v", out, err)
			}
			removed := 0.0
			var walk func(n map[string]any)
			walk = func(n map[string]any) {
				if n["Relation Name"] == "audit" && (n["Node Type"] == "Seq Scan" || n["Index Name"] == "audit_pkey") {
					t.Errorf("%s of the audit chain (%v)", n["Node Type"], n["Index Name"])
				}
				if r, ok := n["Rows Removed by Filter"].(float64); ok {
					removed += r
				}
				subs, _ := n["Plans"].([]any)
				for _, s := range subs {
					if m, ok := s.(map[string]any); ok {
						walk(m)
					}
				}
			}
			walk(plan[0].Plan)
			if removed > 100 {
				t.Errorf("%v rows looked at and dropped", removed)
			}
			if t.Failed() {
				t.Logf("statement: %s\nplan: %s", b.q, out)
			}
		})
	}
}
