package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	keysmithv1 "github.com/keysmith/keysmith/pkg/api/keysmith/v1"
	"github.com/keysmith/keysmith/pkg/client"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
	"github.com/keysmith/keysmith/pkg/vault/store"
)

// TestGetSecretsTampered (issue 12): GetSecrets batches its lookups, and
// a name whose grant row was put back after its revocation is still
// refused as GetSecret of it is (DataLoss, reason TAMPERED), the call
// whole (all or none, as before); GetSecret of each other name, and
// GetSecrets of the others, read as before. On SQLite and PostgreSQL.
func TestGetSecretsTampered(t *testing.T) {
	for _, kind := range stores {
		t.Run(string(kind), func(t *testing.T) {
			fx := startOn(t, kind, server.Options{}, nil)
			ctx := context.Background()
			tok, id := newToken(t)
			c := fx.client(t, tok)
			if _, err := c.RegisterToken(ctx, "orders", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := fx.op.ApproveToken(ctx, id); err != nil {
				t.Fatal(err)
			}
			names := []string{"A", "B", "C", "D"}
			var refs []client.Ref
			for _, n := range names {
				refs = append(refs, client.Ref{Name: n})
				if _, err := fx.op.Put(ctx, vault.DefaultTenant, n, []byte("value of "+n), ""); err != nil {
					t.Fatal(err)
				}
				if _, err := fx.op.GrantAccess(ctx, vault.DefaultTenant, "orders", n); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := c.GetSecrets(ctx, "", refs); err != nil || len(got) != 4 {
				t.Fatalf("before: %v, %v", got, err)
			}
			// C's grant row is kept, revoked, and put back.
			st := openStore(t, fx.path, false)
			defer st.Close()
			var old store.Grant
			if err := st.View(ctx, func(tx store.Tx) error {
				ten, err := tx.Tenant(ctx, vault.DefaultTenant)
				if err == nil {
					old, err = tx.Grant(ctx, ten.ID, "orders", "C")
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := fx.op.RevokeAccess(ctx, vault.DefaultTenant, "orders", "C"); err != nil {
				t.Fatal(err)
			}
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutGrant(ctx, old) }); err != nil {
				t.Fatal(err)
			}
			tampered := func(what string, err error) {
				t.Helper()
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Code != connect.CodeDataLoss || ce.Reason != keysmithv1.ErrorReason_ERROR_REASON_TAMPERED {
					t.Fatalf("%s: %v, want DataLoss / TAMPERED", what, err)
				}
			}
			_, err := c.GetSecret(ctx, "", "C", "")
			tampered("GetSecret C", err)
			got, err := c.GetSecrets(ctx, "", refs)
			tampered("GetSecrets A..D", err)
			if got != nil {
				t.Errorf("GetSecrets with a tampered name returned %d values", len(got))
			}
			for _, n := range []string{"A", "B", "D"} {
				s, err := c.GetSecret(ctx, "", n, "")
				if err != nil || string(s.Value) != "value of "+n {
					t.Errorf("GetSecret %s: %v", n, err)
				}
			}
			others := []client.Ref{{Name: "D"}, {Name: "A"}, {Name: "B"}}
			if got, err := c.GetSecrets(ctx, "", others); err != nil || len(got) != 3 || string(got[0].Value) != "value of D" {
				t.Errorf("GetSecrets D, A, B: %v, %v", got, err)
			}
			// Every refusal and read was audited, and C's refusal names C.
			recs, err := fx.op.Audit(ctx, vault.AuditFilter{Action: "get"})
			if err != nil {
				t.Fatal(err)
			}
			reads := 0
			for _, r := range recs {
				if r.Success {
					reads++
				}
			}
			if want := 4 + 3 + 3; reads != want {
				t.Errorf("%d successful get rows, want %d", reads, want)
			}
			if !strings.Contains(fx.log.String(), `"secret_id":"C"`) {
				t.Errorf("no log line about C:\n%s", fx.log.String())
			}
		})
	}
}
