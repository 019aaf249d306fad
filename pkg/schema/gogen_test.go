package schema

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{
		"DB_URL": "DBURL", "STRIPE_API_KEY": "StripeAPIKey", "jwt_signing_key": "JWTSigningKey",
		"jwtSigningKey": "JwtSigningKey", "_X": "X", "A__B": "AB", "_1": "S1", "PASSWORD": "Password",
	} {
		if got, err := GoName(in); err != nil || got != want {
			t.Errorf("GoName(%s) = %q %v, want %q", in, got, err, want)
		}
	}
	if got, err := GoName("___"); err != nil || got != "S" {
		t.Errorf("GoName(___) = %q %v", got, err)
	}
}

func TestGenerateGoErrors(t *testing.T) {
	s := mustParse(t, `{"properties": {"DB_URL": {"type": "string"}, "db_url": {"type": "string"}}}`)
	if _, err := GenerateGo(s, GoOptions{Package: "p"}); err == nil || !strings.Contains(err.Error(), "both become the Go field DBURL") {
		t.Errorf("collision: %v", err)
	}
	ok := mustParse(t, `{"properties": {"A": {"type": "string"}}}`)
	for _, pkg := range []string{"", "1p", "my-pkg", "_"} {
		if _, err := GenerateGo(ok, GoOptions{Package: pkg}); err == nil {
			t.Errorf("package %q accepted", pkg)
		}
	}
	// A description cannot escape its comment. Parse refuses the newline;
	// GenerateGo does not rely on it.
	s = &Schema{Secrets: []Secret{{Name: "A", Description: "x\nfunc init() { panic(1) }"}}}
	out, err := GenerateGo(s, GoOptions{Package: "p", Source: "evil\nfunc init() {}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "func init") {
			t.Fatalf("code injected:\n%s", out)
		}
	}
}

// goTool returns the go command, or skips.
func goTool(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a module")
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		if p, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command")
		}
	}
	return p
}

func goCmd(t *testing.T, gobin, dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(gobin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOPROXY=off")
	return cmd.CombinedOutput()
}

// writeModule writes go.mod and go.sum of a module at dir that uses
// keysmith's packages from this repository (the generated loader imports
// pkg/client), buildable without the network.
func writeModule(t testing.TB, dir, name string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	mod := "module " + name + "\n\ngo 1.26\n\nrequire github.com/keysmith/keysmith v0.0.0\n\nreplace github.com/keysmith/keysmith => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGeneratedGoCompiles writes the generated file into a module with a
// program that uses it, vets and builds it, runs its loader against a fake
// keysmith, and checks that a misspelled secret does not compile.
func TestGeneratedGoCompiles(t *testing.T) {
	gobin := goTool(t)
	data, _ := os.ReadFile("testdata/orders.schema.json")
	s, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	src, err := GenerateGo(s, GoOptions{Package: "secrets", Source: "orders.schema.json"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	writeModule(t, dir, "example.com/app")
	write("secrets/secrets_gen.go", string(src), 0o644)
	write("main.go", `package main

import (
	"context"
	"fmt"
	"os"

	"example.com/app/secrets"
)

func main() {
	secrets.KeysmithCommand = os.Args[1]
	s, err := secrets.LoadSecrets(context.Background(), os.Args[2])
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	fmt.Printf("%s|%s|%s|%v|%#v\n", s.DBURL, s.StripeAPIKey, s.JWTSigningKey, s, *s)
}
`, 0o644)
	if out, err := goCmd(t, gobin, dir, "vet", "./..."); err != nil {
		t.Fatalf("go vet: %v\n%s\n%s", err, out, src)
	}
	if out, err := goCmd(t, gobin, dir, "build", "-o", "app", "."); err != nil {
		t.Fatalf("go build: %v\n%s\n%s", err, out, src)
	}
	if runtime.GOOS != "windows" {
		fake := filepath.Join(dir, "fake-keysmith")
		write("fake-keysmith", `#!/bin/sh
[ "$1 $2 $4 $5" = "vault get --token-file tok.file" ] || { echo "bad args: $*" >&2; exit 2; }
case "$3" in
DB_URL) printf 'postgres://db' ;;
STRIPE_API_KEY) printf 'sk_live' ;;
jwt_signing_key) if [ -n "$FAIL" ]; then echo "keysmith: error: access pending approval" >&2; exit 8; fi; printf 'jwt' ;;
esac
`, 0o755)
		run := func(env ...string) string {
			cmd := exec.Command(filepath.Join(dir, "app"), fake, "tok.file")
			cmd.Env = append(os.Environ(), env...)
			out, _ := cmd.CombinedOutput()
			return string(out)
		}
		if got := run(); got != "postgres://db|sk_live|jwt|Secrets{...}|Secrets{...}\n" {
			t.Errorf("loader: %q", got)
		}
		if got := run("FAIL=1"); !strings.Contains(got, "ERR secret jwt_signing_key: keysmith: error: access pending approval") {
			t.Errorf("loader failure: %q", got)
		}
	}
	// A typo in a secret name is a compile error.
	write("typo.go", "package main\n\nimport \"example.com/app/secrets\"\n\nvar _ = secrets.Secrets{}.DBUrl\n", 0o644)
	out, err := goCmd(t, gobin, dir, "build", "-o", "app", ".")
	if err == nil || !strings.Contains(string(out), "DBUrl") {
		t.Fatalf("a misspelled secret compiled: %v\n%s", err, out)
	}
}
