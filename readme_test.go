package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// A README code block the test cannot run is marked on the line before its
// fence: "<!-- readme-test: skip (reason) -->" skips the block,
// "<!-- readme-test: skip-line CMD (reason) -->" skips the one line CMD.
var readmeMark = regexp.MustCompile(`^<!-- readme-test: (skip|skip-line (.+?)) \((.+)\) -->$`)

type readmeBlock struct {
	line     int    // line of the opening fence
	lang     string // after the fence
	text     string // dedented
	skip     string // reason the whole block is skipped
	skipLine string // a line not run
	lineWhy  string
}

func readmeBlocks(t *testing.T, readme string) []readmeBlock {
	var blocks []readmeBlock
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, "```") {
			continue
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		b := readmeBlock{line: i + 1, lang: strings.TrimPrefix(l, "```")}
		for j := i - 1; j >= 0; j-- {
			prev := strings.TrimSpace(lines[j])
			if prev == "" {
				continue
			}
			if m := readmeMark.FindStringSubmatch(prev); m != nil {
				if m[1] == "skip" {
					b.skip = m[3]
				} else {
					b.skipLine, b.lineWhy = m[2], m[3]
				}
			} else if strings.HasPrefix(prev, "<!-- readme-test") {
				t.Errorf("README.md:%d: malformed marker %q", j+1, prev)
			}
			break
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		b.text = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks
}

// TestREADMEBlocks runs every code block of README.md, in order, as a new
// user would on a fresh machine: a temporary HOME, the built keysmith and
// age on PATH. The first block runs in a copy of the source (it builds
// keysmith), the others in one scratch directory. A block or line the test
// cannot run carries a visible marker (readmeMark) and is listed; an
// unmarked block that is not a shell block fails the test.
func TestREADMEBlocks(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(data))
	if len(blocks) < 3 {
		t.Fatalf("README.md: %d code blocks, want the first lines, the tour and more", len(blocks))
	}
	if !strings.Contains(blocks[0].text, "go build") || !strings.Contains(blocks[0].text, "go test ./...") {
		t.Errorf("README.md's first block is not the build-and-run and test commands:\n%s", blocks[0].text)
	}
	bin := buildStatic(t)
	gobin, _ := exec.LookPath("go")

	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	src := filepath.Join(tmp, "src")
	demo := filepath.Join(home, "demo")
	binDir := filepath.Join(tmp, "bin")
	for _, d := range []string{home, src, demo, binDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(t, bin, filepath.Join(binDir, "keysmith"), 0o755)
	copySource(t, src)

	path := binDir + string(os.PathListSeparator)
	if ud, err := os.UserHomeDir(); err == nil {
		path += filepath.Join(ud, "go", "bin") + string(os.PathListSeparator)
	}
	path += filepath.Dir(gobin) + string(os.PathListSeparator) + "/usr/local/bin:/usr/bin:/bin"
	env := []string{"PATH=" + path, "HOME=" + home, "GOPROXY=off", "GOFLAGS=", "GOTOOLCHAIN=local"}
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command(gobin, "env", v).Output()
		if err == nil {
			env = append(env, v+"="+strings.TrimSpace(string(out)))
		}
	}

	var skipped []string
	ran := 0
	for i, b := range blocks {
		name := "README.md:" + itoa(b.line)
		if b.skip != "" {
			skipped = append(skipped, name+": block ("+b.skip+")")
			continue
		}
		if b.lang != "sh" && b.lang != "bash" {
			t.Errorf("%s: a %q block that is neither run nor marked <!-- readme-test: skip (reason) -->", name, b.lang)
			continue
		}
		text := b.text
		if b.skipLine != "" {
			var kept []string
			found := false
			for _, l := range strings.Split(text, "\n") {
				if strings.TrimSpace(l) == b.skipLine {
					found = true
					continue
				}
				kept = append(kept, l)
			}
			if !found {
				t.Errorf("%s: marked skip-line %q, which the block does not have", name, b.skipLine)
			}
			text = strings.Join(kept, "\n")
			skipped = append(skipped, name+": line "+b.skipLine+" ("+b.lineWhy+")")
		}
		cmd := exec.Command("sh", "-e", "-c", text)
		cmd.Dir = demo
		if i == 0 {
			cmd.Dir = src
		}
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: block failed: %v\n--- block ---\n%s--- output ---\n%s", name, err, text, out.Bytes())
		}
		ran++
		t.Logf("%s: ran\n%s", name, out.Bytes())
	}
	t.Logf("README blocks: %d run, %d skipped (marked):\n  %s", ran, len(skipped), strings.Join(skipped, "\n  "))
	if ran == 0 {
		t.Fatal("no README block ran")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, mode); err != nil {
		t.Fatal(err)
	}
}

// copySource copies the source tree (not .git, not the tests) for the
// README's build command.
func copySource(t *testing.T, dst string) {
	t.Helper()
	err := filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && p != "keysmith" && !strings.HasSuffix(p, "_test.go") {
			copyFile(t, p, filepath.Join(dst, p), 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
