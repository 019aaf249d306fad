package main

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The build flags of the shipped binary (README, .ci/run, scripts/bench*.sh):
// no cgo, so no dynamic loader and nothing resolved through libc (user
// lookup, DNS); no build paths in the binary.
const staticEnv, staticFlag = "CGO_ENABLED=0", "-trimpath"

// TestBuildCommandsAreStatic checks that every command that builds keysmith
// or a bench floor uses the static flags: a bench that compared a dynamic
// keysmith with a static floor would be wrong.
func TestBuildCommandsAreStatic(t *testing.T) {
	files := []string{"README.md", ".ci/run"}
	bench, _ := filepath.Glob("scripts/bench*.sh")
	if len(bench) == 0 {
		t.Fatal("no scripts/bench*.sh")
	}
	for _, f := range append(files, bench...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i, line := range strings.Split(string(data), "\n") {
			if !strings.Contains(line, "go build") || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			n++
			if !strings.Contains(line, staticEnv) || !strings.Contains(line, staticFlag) {
				t.Errorf("%s:%d builds without %s %s: %s", f, i+1, staticEnv, staticFlag, strings.TrimSpace(line))
			}
		}
		if n == 0 {
			t.Errorf("%s: no go build command found", f)
		}
	}
}

// buildStatic builds keysmith as the README says, into a temporary directory.
func buildStatic(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := filepath.Join(t.TempDir(), "keysmith")
	cmd := exec.Command(gobin, "build", staticFlag, "-o", bin, ".")
	cmd.Env = append(os.Environ(), staticEnv)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestStaticBinary builds keysmith as the README says (once) and checks the
// binary: static, and no work at package init.
func TestStaticBinary(t *testing.T) {
	bin := buildStatic(t)
	t.Run("static", func(t *testing.T) { checkStatic(t, bin) })
	t.Run("init", func(t *testing.T) { checkInit(t, bin) })
}

// checkStatic: no dynamic loader, no shared libraries, built without cgo
// and build paths.
func checkStatic(t *testing.T, bin string) {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q, want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}
}

// initLine is one line of GODEBUG=inittrace=1:
// "init <package> @<start> ms, <clock> ms clock, <bytes> bytes, <allocs> allocs".
var initLine = regexp.MustCompile(`^init (\S+) @\S+ ms, \S+ ms clock, (\d+) bytes, (\d+) allocs$`)

type initCost struct {
	pkg           string
	bytes, allocs int
}

func initTrace(t *testing.T, bin string, args ...string) []initCost {
	t.Helper()
	cmd := exec.Command(bin, args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", bin, args, err, stderr.Bytes())
	}
	var costs []initCost
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		m := initLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		b, _ := strconv.Atoi(m[2])
		a, _ := strconv.Atoi(m[3])
		costs = append(costs, initCost{m[1], b, a})
	}
	if len(costs) == 0 {
		t.Fatalf("no inittrace lines in:\n%s", stderr.Bytes())
	}
	return costs
}

// Our packages do no work at init: regular expressions, tables and
// templates are built on first use (sync.OnceValue). One package-level
// regexp.MustCompile of a short pattern costs about 2.6 KiB in 37
// allocations at init, so these limits catch it. Allocation counts and
// bytes are deterministic, unlike the clock.
const (
	maxOwnInitBytes  = 4096
	maxOwnInitAllocs = 36
	// All packages together, third-party and generated code included
	// (viper's codecs, pgx's types, protobuf's registry and our .proto
	// descriptors, the SQLite driver's libc, ...): 247 KiB when
	// docs/benchmarks.md was written. A new dependency that does real work
	// at init fails here.
	maxTotalInitBytes = 288 << 10
)

// generated reports packages of generated code: protobuf's generated code
// registers its descriptors at init by design (counted in the total).
func generated(pkg string) bool {
	return strings.HasPrefix(pkg, "github.com/keysmith/keysmith/pkg/api/")
}

// checkInit runs "keysmith version" with GODEBUG=inittrace=1.
func checkInit(t *testing.T, bin string) {
	total := 0
	for _, c := range initTrace(t, bin, "version") {
		total += c.bytes
		if strings.HasPrefix(c.pkg, "github.com/keysmith/keysmith") && !generated(c.pkg) && (c.bytes > maxOwnInitBytes || c.allocs > maxOwnInitAllocs) {
			t.Errorf("init of %s allocates %d bytes in %d allocs (limit %d bytes, %d allocs): build it on first use (sync.OnceValue)",
				c.pkg, c.bytes, c.allocs, maxOwnInitBytes, maxOwnInitAllocs)
		}
	}
	if total > maxTotalInitBytes {
		t.Errorf("package inits allocate %d bytes in total (limit %d): which dependency is new?", total, maxTotalInitBytes)
	}
}

// TestBenchFloorIsOneStretch: scripts/floor/pbkdf2, the floor of the file
// and vault commands in scripts/bench.sh, does what masterkey.Stretch does
// (same package, same iteration count, same key size), no more and no less.
func TestBenchFloorIsOneStretch(t *testing.T) {
	src, err := os.ReadFile("scripts/floor/pbkdf2/main.go")
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile("pkg/masterkey/masterkey.go")
	if err != nil {
		t.Fatal(err)
	}
	iter := regexp.MustCompile(`(?m)^\s*Iterations\s*=\s*([0-9_]+)`).FindSubmatch(mk)
	if iter == nil {
		t.Fatal("pkg/masterkey: no Iterations constant")
	}
	for _, want := range []string{
		`"golang.org/x/crypto/pbkdf2"`, // the package Stretch uses
		"pbkdf2.Key(key, []byte(\"keysmith-bench-floor\"), " + string(iter[1]) + ", 32, sha256.New)",
	} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("scripts/floor/pbkdf2/main.go does not contain %s", want)
		}
	}
	if !bytes.Contains(mk, []byte(`"golang.org/x/crypto/pbkdf2"`)) || !bytes.Contains(mk, []byte("pbkdf2.Key(k.b[:], []byte(salt), Iterations, Size, sha256.New)")) {
		t.Error("pkg/masterkey.Stretch changed: update scripts/floor/pbkdf2 to do the same derivation")
	}
}

// TestBenchMergeKeepsOtherSections: scripts/bench.sh rewrites only its own
// sections of docs/benchmarks.md; the sections other benchmarks and people
// write (Vault, Server, Devices, hand-written notes) survive a re-run.
func TestBenchMergeKeepsOtherSections(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	dir := t.TempDir()
	old := "# Benchmarks\n\nold preamble\n\n## Start-up\n\nold start-up 3.7\n\n## Vault\n\nvault table\n\n" +
		"<!-- notes: kept by scripts/bench.sh -->\n## Against the targets\n\nold targets\n\n" +
		"## Server (`keysmith serve`)\n\nserver figures\n\n### sub\n\nkept too\n\n## 1000 secrets\n\nold 1000\n"
	gen := "# Benchmarks\n\nnew preamble\n\n## Start-up\n\nnew start-up\n\n## 1000 secrets\n\nnew 1000\n\n## Against the targets\n\nnew targets\n"
	out, genf := filepath.Join(dir, "benchmarks.md"), filepath.Join(dir, "gen.md")
	if err := os.WriteFile(out, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(genf, []byte(gen), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a second run changes nothing more
		if b, err := exec.Command(py, "scripts/bench-merge.py", genf, out).CombinedOutput(); err != nil {
			t.Fatalf("bench-merge.py: %v\n%s", err, b)
		}
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := gen + "\n## Vault\n\nvault table\n\n## Server (`keysmith serve`)\n\nserver figures\n\n### sub\n\nkept too\n"
	if string(got) != want {
		t.Errorf("merged file:\n%s\nwant:\n%s", got, want)
	}
	// The sections bench.sh writes are the ones bench-merge.py replaces.
	sh, err := os.ReadFile("scripts/bench.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{"## Start-up", "## {n} secrets", "## vault get on {n_fmt} secrets", "## Peak memory", "## Go benchmarks", "## Against the targets"} {
		if !bytes.Contains(sh, []byte(`"`+sec)) {
			t.Errorf("scripts/bench.sh does not write %q", sec)
		}
	}
}
