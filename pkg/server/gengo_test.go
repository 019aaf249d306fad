package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/schema"
	"github.com/keysmith/keysmith/pkg/server"
	"github.com/keysmith/keysmith/pkg/vault"
)

// TestGeneratedLoaderAgainstServer compiles the code "keysmith schema
// gen-go" writes into a program and runs its LoadSecretsFromServer against
// a live server: one gRPC call, no keysmith binary, no master key.
func TestGeneratedLoaderAgainstServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	s, err := schema.Parse([]byte(`{"properties": {"DB_URL": {"type": "string", "description": "orders database"}, "STRIPE_API_KEY": {"type": "string"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	src, err := schema.GenerateGo(s, schema.GoOptions{Package: "secrets", Source: "orders.schema.json"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	sum, _ := os.ReadFile(filepath.Join(root, "go.sum"))
	files := map[string]string{
		"go.mod":                 "module example.com/app\n\ngo 1.26\n\nrequire github.com/keysmith/keysmith v0.0.0\n\nreplace github.com/keysmith/keysmith => " + root + "\n",
		"go.sum":                 string(sum),
		"secrets/secrets_gen.go": string(src),
		"main.go": `package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"example.com/app/secrets"
	"github.com/keysmith/keysmith/pkg/client"
)

func main() {
	s, err := secrets.LoadSecretsFromServer(context.Background(), "", os.Args[1], client.Options{})
	if err != nil {
		fmt.Println("ERR", errors.Is(err, client.ErrPending), err)
		os.Exit(3)
	}
	fmt.Printf("%s|%s|%v\n", s.DBURL, s.StripeAPIKey, s)
}
`,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command(gobin, "build", "-o", "app", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	fx := start(t, server.Options{}, nil)
	tok, id := newToken(t)
	fx.op.RegisterToken(context.Background(), tok, "orders", "")
	fx.op.ApproveToken(context.Background(), id)
	tokFile := filepath.Join(dir, "orders.token")
	os.WriteFile(tokFile, []byte(tok+"\n"), 0o600)
	run := func() string {
		cmd := exec.Command(filepath.Join(dir, "app"), tokFile)
		// No keysmith on PATH, no key: only the server and the token.
		cmd.Env = []string{"PATH=/nonexistent", "KEYSMITH_SERVER=" + fx.addr, "KEYSMITH_SERVER_FINGERPRINT=" + fx.fp}
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	if got := run(); !strings.HasPrefix(got, "ERR true ") || !strings.Contains(got, "DB_URL") {
		t.Fatalf("before the grants: %q", got)
	}
	stubs, _ := fx.op.Stubs(context.Background(), vault.DefaultTenant)
	if len(stubs) != 2 || stubs[0].Description != "orders database" {
		t.Fatalf("stubs: %+v", stubs)
	}
	for _, n := range []string{"DB_URL", "STRIPE_API_KEY"} {
		fx.op.Put(context.Background(), vault.DefaultTenant, n, []byte(strings.ToLower(n)+"-value"), "")
		fx.op.GrantAccess(context.Background(), vault.DefaultTenant, "orders", n)
	}
	if got := run(); got != "db_url-value|stripe_api_key-value|Secrets{...}\n" {
		t.Fatalf("loader: %q", got)
	}
}
