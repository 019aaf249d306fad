package keysource

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keysmith/keysmith/pkg/masterkey"
)

const (
	hexA = "0000000000000000000000000000000000000000000000000000000000000001"
	hexB = "0000000000000000000000000000000000000000000000000000000000000002"
	hexC = "0000000000000000000000000000000000000000000000000000000000000003"
	hexD = "0000000000000000000000000000000000000000000000000000000000000004"
	hexE = "0000000000000000000000000000000000000000000000000000000000000005"
)

func writeKeys(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolveOrder(t *testing.T) {
	explicit := writeKeys(t, "dev = "+hexA+"\ndev.retired = "+hexE+"\n", 0o600)
	def := writeKeys(t, "dev = "+hexD+"\n", 0o600)
	sysFile := writeKeys(t, "dev = "+hexC+"\n", 0o600)
	cmd := func(ctx context.Context, argv, env []string) ([]byte, error) {
		if len(env) != 1 || env[0] != "KEYSMITH_ENV=dev" {
			t.Errorf("command env = %v", env)
		}
		return []byte(`{"key": "` + hexB + `"}` + "\n"), nil
	}
	all := func() *Resolver {
		return &Resolver{
			KeyFile:        explicit,
			KeyCommand:     []string{"vault", "read"},
			DefaultKeyFile: def,
			RunCommand:     cmd,
			Getenv:         envMap(map[string]string{EnvMasterKey: hexB, EnvSysVar: "MY_KEY", "MY_KEY": hexC}),
		}
	}
	check := func(r *Resolver, wantHex string, kind Kind) *Resolved {
		t.Helper()
		res, err := r.Resolve("dev")
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if got := res.Current.Text(); got != wantHex || res.Source.Kind != kind {
			t.Fatalf("got key %s from %s, want %s from %s", got, res.Source, wantHex, kind)
		}
		return res
	}
	r := all()
	res := check(r, hexA, KindKeyFile)
	if len(res.Retired) != 1 || res.File == nil {
		t.Fatal("key file: retired keys or file missing")
	}
	r.KeyFile = ""
	check(r, hexB, KindMasterKey)
	r.Getenv = envMap(map[string]string{EnvSysVar: "MY_KEY", "MY_KEY": hexC})
	check(r, hexC, KindSysVar)
	r.Getenv = envMap(map[string]string{EnvSysVar: "MY_KEY", "MY_KEY": sysFile})
	res = check(r, hexC, KindSysVar)
	if res.Path != sysFile {
		t.Fatal("APP_KEY_SYSVAR path: key file not recorded")
	}
	r.Getenv = envMap(nil)
	check(r, hexB, KindCommand)
	r.KeyCommand = nil
	check(r, hexD, KindDefaultFile)
}

func TestResolveErrors(t *testing.T) {
	loose := writeKeys(t, "dev = "+hexA+"\n", 0o644)
	r := &Resolver{KeyFile: loose}
	_, err := r.Resolve("dev")
	var ie *InsecureError
	if !errors.As(err, &ie) || !errors.Is(err, ErrInsecureFile) || ie.Mode != 0o644 {
		t.Fatalf("loose key file: %v", err)
	}

	onlyDev := writeKeys(t, "dev = "+hexA+"\n", 0o600)
	if _, err := (&Resolver{KeyFile: onlyDev}).Resolve("prod"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("missing env: %v", err)
	}
	if _, err := (&Resolver{DefaultKeyFile: filepath.Join(t.TempDir(), "none")}).Resolve("dev"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no default file: %v", err)
	}
	if _, err := (&Resolver{}).Resolve("Prod"); err == nil {
		t.Fatal("invalid env accepted")
	}
	bad := &Resolver{Getenv: envMap(map[string]string{EnvMasterKey: "short"})}
	if _, err := bad.Resolve("dev"); err == nil || strings.Contains(err.Error(), "short") {
		t.Fatalf("bad master key: %v", err)
	}
	sys := &Resolver{Getenv: envMap(map[string]string{EnvSysVar: "NOPE"})}
	if _, err := sys.Resolve("dev"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("sysvar unset: %v", err)
	}
	// ... falls back to the default key file, and says so
	def := writeKeys(t, "dev = "+hexD+"\n", 0o600)
	var notes []string
	sys = &Resolver{Getenv: envMap(map[string]string{EnvSysVar: "NOPE"}), DefaultKeyFile: def,
		Notef: func(format string, a ...any) { notes = append(notes, fmt.Sprintf(format, a...)) }}
	if res, err := sys.Resolve("dev"); err != nil || res.Source.Kind != KindDefaultFile || len(notes) != 1 ||
		notes[0] != "NOPE (named by APP_KEY_SYSVAR) is not set: using the default key file "+def {
		t.Fatalf("sysvar unset, fallback: %v %v", err, notes)
	}
	// APP_KEY_SYSVAR as an absolute path to a key file
	sys = &Resolver{Getenv: envMap(map[string]string{EnvSysVar: def})}
	if res, err := sys.Resolve("dev"); err != nil || res.Source.Kind != KindSysVarFile || res.Path != def {
		t.Fatalf("sysvar path: %v", err)
	}
	sys = &Resolver{Getenv: envMap(map[string]string{EnvSysVar: def + ".nope"})}
	if _, err := sys.Resolve("dev"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("sysvar missing path: %v", err)
	}
	// APP_KEY_SYSVAR holding a key by mistake: refused, not echoed
	sys = &Resolver{Getenv: envMap(map[string]string{EnvSysVar: hexA})}
	if _, err := sys.Resolve("dev"); !errors.Is(err, masterkey.ErrInvalidKey) || strings.Contains(err.Error(), hexA) {
		t.Fatalf("sysvar holds a key: %v", err)
	}
	sys = &Resolver{Getenv: envMap(map[string]string{EnvSysVar: "V", "V": "/no/such/file-or-key"})}
	if _, err := sys.Resolve("dev"); !errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), "/no/such") {
		t.Fatalf("sysvar garbage: %v", err)
	}
	sys = &Resolver{Getenv: envMap(map[string]string{EnvSysVar: "V", "V": "short"})}
	if _, err := sys.Resolve("dev"); !errors.Is(err, masterkey.ErrInvalidKey) || strings.Contains(err.Error(), "short") {
		t.Fatalf("sysvar bad key: %v", err)
	}
	failing := &Resolver{KeyCommand: []string{"false"}, RunCommand: func(context.Context, []string, []string) ([]byte, error) {
		return nil, errors.New("exit status 1")
	}}
	if _, err := failing.Resolve("dev"); err == nil || !strings.Contains(err.Error(), "key command false") {
		t.Fatalf("failing command: %v", err)
	}
}

func TestParseCommandOutput(t *testing.T) {
	for in, want := range map[string]string{
		hexA + "\n":                 hexA,
		`{"key":"` + hexA + `"}`:    hexA,
		` {"key": "x", "ttl": 5}  `: "x",
	} {
		got, err := ParseCommandOutput([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParseCommandOutput(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "  \n", `{"value":"x"}`, `{"key":`} {
		if _, err := ParseCommandOutput([]byte(in)); err == nil {
			t.Errorf("ParseCommandOutput(%q) accepted", in)
		}
	}
}

func TestRealCommandWithoutShell(t *testing.T) {
	// "printf" runs directly, not through a shell: the $ is not expanded.
	r := &Resolver{KeyCommand: []string{"printf", "%s", hexA}}
	res, err := r.Resolve("dev")
	if err != nil || res.Current.Text() != hexA {
		t.Fatalf("printf key command: %v", err)
	}
}

func TestCreateKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "keys")
	// a missing directory is an error (a typo never creates a tree) ...
	if _, err := CreateKey(p, "dev", nil, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
	// ... unless made first, as for the default key file
	if err := MakeDir(p); err != nil {
		t.Fatal(err)
	}
	res, err := CreateKey(p, "dev", nil, false)
	if err != nil || !res.Created {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", st.Mode(), err)
	}
	if _, err := CreateKey(p, "dev", nil, false); !errors.Is(err, ErrKeyExists) {
		t.Fatal("second dev key created")
	}
	again, err := CreateKey(p, "dev", nil, true)
	if err != nil || again.Created || !again.Current.Equal(res.Current) {
		t.Fatalf("existingOK: %v %+v", err, again)
	}
	if _, err := CreateKey(p, "prod", nil, false); err != nil {
		t.Fatal(err)
	}
	f, _ := ReadFile(p)
	if len(f.Entries()) != 2 {
		t.Fatal("keys lost")
	}
}

// TestCreateKeyConcurrent: many processes' worth of goroutines creating keys
// at once lose none, and racing first-use creations agree on one dev key.
func TestCreateKeyConcurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	envs := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	devIDs := make(chan string, len(envs))
	var wg sync.WaitGroup
	for _, env := range envs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := CreateKey(p, env, nil, false); err != nil {
				t.Error(err)
			}
			res, err := CreateKey(p, "dev", nil, true)
			if err != nil {
				t.Error(err)
				return
			}
			devIDs <- res.Current.ID().String()
		}()
	}
	wg.Wait()
	close(devIDs)
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Entries()); n != len(envs)+1 {
		t.Fatalf("%d keys in the file, want %d", n, len(envs)+1)
	}
	first := ""
	for id := range devIDs {
		if first == "" {
			first = id
		} else if id != first {
			t.Fatalf("racing first-use creations got different dev keys: %s, %s", first, id)
		}
	}
}
