package key

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// A plain key never goes to a terminal; an age file may.
func TestExportRefusesTerminal(t *testing.T) {
	const key = "a92a3b68c6427d55659cf20d6d202fcbb4dcebfd56b90028c759011d4be9cf76"
	env := map[string]string{"KEYSMITH_MASTER_KEY": key, "KEYSMITH_PASSPHRASE": "correct horse battery staple"}
	run := func(o ExportOptions) (string, error) {
		io, out, _ := cmdutil.Test("")
		io.OutTTY = true
		f := &cmdutil.Factory{IO: io, Rand: rand.Reader, Getenv: func(k string) string { return env[k] },
			Config: &cmdutil.Config{Env: "dev", Output: "text", ConfigDir: t.TempDir()}}
		o.F, o.Env = f, "dev"
		err := exportRun(&o)
		return out.String(), err
	}
	for _, o := range []ExportOptions{{}, {Bare: true}} {
		out, err := run(o)
		var u *cmdutil.UsageError
		if !errors.As(err, &u) || out != "" || !strings.Contains(err.Error(), "refusing to print a master key to a terminal") {
			t.Errorf("%+v: out %q, err %v", o, out, err)
		}
	}
	out, err := run(ExportOptions{Age: cmdutil.AgeSecretOptions{Passphrase: true}})
	if err != nil || !strings.HasPrefix(out, "-----BEGIN AGE ENCRYPTED FILE-----\n") || strings.Contains(out, key) {
		t.Errorf("age to a terminal: %q, %v", out, err)
	}
}
