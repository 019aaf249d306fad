package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// git runs git with args in the current directory and returns its stdout.
// A failure carries git's own message.
func git(args ...string) ([]byte, error) {
	cmd := exec.Command("git", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if errors.Is(err, exec.ErrNotFound) {
		return nil, WithHint(fmt.Errorf("git is not installed: %w", ErrNotFound), "install git, or check the files by name")
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", args[0], firstLine(msg))
	}
	return out, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// ErrNotGitRepo is returned when a command that needs a git repository runs
// outside one.
var ErrNotGitRepo = errors.New("not in a git repository")

// GitCheckRepo fails with a usage error unless the current directory is in a
// git work tree; what names the flag or command that needs it.
func GitCheckRepo(what string) error {
	out, err := git("rev-parse", "--is-inside-work-tree")
	if err != nil || strings.TrimSpace(string(out)) != "true" {
		return &UsageError{Err: fmt.Errorf("%s needs a git repository: %w", what, ErrNotGitRepo)}
	}
	return nil
}

// GitPath is "git rev-parse --git-path": the path of a file in the
// repository's git directory (hooks/pre-commit honours core.hooksPath).
func GitPath(name string) (string, error) {
	out, err := git("rev-parse", "--git-path", name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// StagedFile is a file as the index holds it, for a commit that adds or
// changes it.
type StagedFile struct {
	Path string // relative to the repository's top level, as git prints it
	Mode string // 100644, 100755 (a file), 120000 (a symbolic link), 160000 (a submodule)
	Blob string // the object name of its staged content
}

// GitStaged lists the files the next commit adds, changes or renames
// (deletions are not listed: a deleted file has nothing to check), limited to
// pathspecs when any are given. It works before the first commit too.
func GitStaged(pathspecs ...string) ([]StagedFile, error) {
	args := append([]string{"diff", "--cached", "--raw", "--no-abbrev", "-z", "--no-renames", "--no-ext-diff", "--diff-filter=d", "--"}, pathspecs...)
	out, err := git(args...)
	if err != nil {
		return nil, err
	}
	// ":<old mode> <new mode> <old blob> <new blob> <status>\0<path>\0" ...
	var files []StagedFile
	fields := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	for i := 0; i+1 < len(fields); i += 2 {
		meta := strings.Fields(strings.TrimPrefix(fields[i], ":"))
		if len(meta) < 5 {
			return nil, fmt.Errorf("git diff: unexpected output %q", fields[i])
		}
		files = append(files, StagedFile{Path: fields[i+1], Mode: meta[1], Blob: meta[3]})
	}
	return files, nil
}

// GitBlobs returns the staged content of files, in order, read with one
// "git cat-file --batch" (a git process per file costs ~20 ms each).
func GitBlobs(files []StagedFile) ([][]byte, error) {
	if len(files) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, f := range files {
		in.WriteString(f.Blob + "\n")
	}
	cmd := exec.Command("git", "cat-file", "--batch")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %s", firstLine(strings.TrimSpace(stderr.String()+" "+err.Error())))
	}
	// "<blob> blob <size>\n<content>\n" per file.
	blobs := make([][]byte, len(files))
	for i, f := range files {
		header, rest, ok := bytes.Cut(out, []byte("\n"))
		fields := strings.Fields(string(header))
		if !ok || len(fields) != 3 || fields[0] != f.Blob || fields[1] != "blob" {
			return nil, fmt.Errorf("git cat-file: unexpected output for %s: %q", f.Path, firstLine(string(header)))
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil || size < 0 || size+1 > len(rest) {
			return nil, fmt.Errorf("git cat-file: bad size for %s", f.Path)
		}
		blobs[i] = rest[:size]
		out = rest[size+1:]
	}
	return blobs, nil
}
