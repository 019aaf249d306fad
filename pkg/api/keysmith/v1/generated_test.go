package keysmithv1_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestGeneratedCodeFresh regenerates the Go code of every .proto here with
// scripts/genproto.sh into a temporary directory and compares it with the
// committed files. Without protoc and the plugins it skips, saying how to
// install them; in CI (CI set) it fails instead.
func TestGeneratedCodeFresh(t *testing.T) {
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin")
	for _, tool := range []string{"protoc", "protoc-gen-go", "protoc-gen-connect-go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat(filepath.Join(bin, tool)); err != nil {
				msg := tool + " is not installed: apt-get install protobuf-compiler; go install the generators named in scripts/genproto.sh"
				if os.Getenv("CI") != "" {
					t.Fatal(msg)
				}
				t.Skip(msg)
			}
		}
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "genproto.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genproto.sh: %v\n%s", err, b)
	}
	n := 0
	err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, path)
		fresh, _ := os.ReadFile(path)
		committed, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Errorf("%s is generated but not committed: run scripts/genproto.sh", rel)
			return nil
		}
		if !bytes.Equal(fresh, committed) {
			t.Errorf("%s is stale: run scripts/genproto.sh", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	protos, _ := filepath.Glob(filepath.Join(root, "pkg", "api", "keysmith", "v1", "*.proto"))
	if n < 2*len(protos) {
		t.Fatalf("%d generated files for %d .proto files", n, len(protos))
	}
}
