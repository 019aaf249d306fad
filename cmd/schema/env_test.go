package schema

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith/cmd/cmdutil"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/vault"
)

const testMasterKey = "1111111111111111111111111111111111111111111111111111111111111111"

// TestSchemaEnvironment: what "keysmith run --token-file F --schema FILE"
// gets: exactly the schema's secrets, or an error listing every one that is
// missing or not granted.
func TestSchemaEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vault.db")
	mk, err := masterkey.Parse(testMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := createVault(path, "dev", mk)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tok, rec, err := v.CreateToken(context.Background(), "orders", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ApproveToken(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"A", "B", "OTHER"} {
		if _, err := v.Put(context.Background(), "default", n, []byte("v-"+n), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"A", "OTHER"} {
		if _, err := v.GrantAccess(context.Background(), "default", "orders", n); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tokenFile := write("orders.token", tok+"\n")
	schemaFile := write("secrets.schema.json", `{"properties": {"A": {"type": "string"}, "B": {"type": "string"}, "C": {"type": "string"}}}`)

	io, _, errOut := cmdutil.Test("")
	f := &cmdutil.Factory{IO: io, Rand: rand.Reader, Now: time.Now,
		Getenv: func(k string) string {
			if k == "KEYSMITH_MASTER_KEY" {
				return testMasterKey
			}
			return ""
		},
		Config: &cmdutil.Config{Env: "dev", EnvFrom: "default", Output: "text", Vault: path, Tenant: "default",
			ConfigDir: filepath.Join(dir, "config"), DataDir: filepath.Join(dir, "data")}}
	f.SetVaultDefaults()

	// B not granted, C missing: pending, both listed, nothing returned
	env, err := SchemaEnvironment(f, nil, tokenFile, schemaFile)
	if env != nil || !errors.Is(err, vault.ErrAccessPending) || cmdutil.ExitCode(err) != cmdutil.ExitPending {
		t.Fatalf("got %v, %v (exit %d)", env, err, cmdutil.ExitCode(err))
	}
	for _, want := range []string{"B (not granted, request 1 pending)", "C (missing, request 2 pending)", "may not read 2 secrets"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if s, _ := v.Stubs(context.Background(), "default"); len(s) != 1 || s[0].Name != "C" {
		t.Fatalf("stubs %+v", s)
	}

	// all granted and present: exactly the schema's secrets
	for _, n := range []string{"B", "C"} {
		if _, err := v.GrantAccess(context.Background(), "default", "orders", n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Put(context.Background(), "default", "C", []byte("v-C"), ""); err != nil {
		t.Fatal(err)
	}
	env, err = SchemaEnvironment(f, nil, tokenFile, schemaFile)
	if err != nil || len(env) != 3 || env["A"] != "v-A" || env["B"] != "v-B" || env["C"] != "v-C" {
		t.Fatalf("got %v, %v", env, err)
	}

	// a revoked grant: permission denied
	if err := v.RevokeAccess(context.Background(), "default", "orders", "C"); err != nil {
		t.Fatal(err)
	}
	if _, err := SchemaEnvironment(f, nil, tokenFile, schemaFile); cmdutil.ExitCode(err) != cmdutil.ExitPermission {
		t.Fatalf("revoked: %v", err)
	}
	// a wrong token: permission denied; none at all: usage
	wrong := write("wrong.token", "kst1_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	if _, err := SchemaEnvironment(f, nil, wrong, schemaFile); cmdutil.ExitCode(err) != cmdutil.ExitPermission {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := SchemaEnvironment(f, nil, "", schemaFile); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("no token: %v", err)
	}
	if errOut.Len() != 0 {
		t.Errorf("stderr: %s", errOut)
	}
}
