package cmdutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPasswdName(t *testing.T) {
	p := filepath.Join(t.TempDir(), "passwd")
	data := "root:x:0:0:root:/root:/bin/bash\n#c:x:7:7::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbad\n"
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[int]string{0: "root", 1000: "alice", 7: "", 54321: ""} {
		if got := passwdName(p, uid); got != want {
			t.Errorf("passwdName(%d) = %q, want %q", uid, got, want)
		}
	}
	if got := passwdName(filepath.Join(t.TempDir(), "none"), 0); got != "" {
		t.Errorf("missing file: %q", got)
	}
}
