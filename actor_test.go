package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestAuditActorIgnoresUSER (issue 10 item 14): the audit actor of the CLI
// is the passwd name of the process's uid, or "uid:<n>" when the uid has no
// passwd entry; never $USER, which the caller sets. Run on the static
// (CGO_ENABLED=0) binary, whose os/user.Current falls back to $USER.
func TestAuditActorIgnoresUSER(t *testing.T) {
	bin := buildStatic(t)

	t.Run("passwd name", func(t *testing.T) {
		uid := os.Getuid()
		u, err := user.LookupId(strconv.Itoa(uid))
		if err != nil {
			t.Skipf("uid %d has no passwd entry: %v", uid, err)
		}
		checkAuditActor(t, bin, nil, u.Username)
	})

	t.Run("uid without passwd entry", func(t *testing.T) {
		const uid = 54321
		if os.Getuid() != 0 {
			t.Skip("runs keysmith as uid 54321: needs root")
		}
		if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			t.Skipf("uid %d has a passwd entry (%s)", uid, u.Username)
		}
		checkAuditActor(t, bin, &syscall.Credential{Uid: uid, Gid: uid}, "uid:54321")
	})
}

// checkAuditActor runs vault init, vault put and vault audit --output json
// with USER=root (or USER=mallory when running as root) as the given
// credential (nil: this process's) in a fresh home that credential owns,
// and checks that every audit row names want as actor.
func checkAuditActor(t *testing.T, bin string, cred *syscall.Credential, want string) {
	dir, err := os.MkdirTemp("", "keysmith-actor-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The binary and the home must be reachable by the other uid; the
	// home is its own, 0700.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "keysmith")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(home, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	spoof := "root"
	if want == "root" {
		spoof = "mallory"
	}
	env := []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"USER=" + spoof,
		"LOGNAME=" + spoof,
	}
	run := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(exe, args...)
		cmd.Dir = home
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("keysmith %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return stdout.Bytes()
	}
	run("", "vault", "init")
	run("value", "vault", "put", "A")
	out := run("", "vault", "audit", "--output", "json")

	actions := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var row struct{ Actor, Action string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("audit line %q: %v", sc.Bytes(), err)
		}
		actions[row.Action] = true
		if row.Actor != want {
			t.Errorf("audit row %s: actor %q (USER=%s), want %q", row.Action, row.Actor, spoof, want)
		}
	}
	if !actions["init"] || !actions["put"] {
		t.Fatalf("audit has no init and put rows:\n%s", out)
	}
}
