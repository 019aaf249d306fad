package secretfile

import (
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/dotenv"
	"github.com/keysmith/keysmith/pkg/masterkey"
	"github.com/keysmith/keysmith/pkg/value"
)

var (
	keyDev, _  = masterkey.Parse("0000000000000000000000000000000000000000000000000000000000000001")
	keyNew, _  = masterkey.Parse("0000000000000000000000000000000000000000000000000000000000000002")
	devRing    = value.NewKeyring("dev", keyDev)
	prodRing   = value.NewKeyring("prod", keyDev)
	matcher, _ = NewMatcher([]string{"*_SECRET", "*_PASSWORD"})
)

const sample = "# app config\r\nexport API_KEY_SECRET=\"abc def\" # trailing\r\nLOG_LEVEL=debug\r\nDB_PASSWORD='p#w'\r\nEMPTY_SECRET=\r\n"

func parse(t *testing.T, s string) *dotenv.File {
	t.Helper()
	f, err := dotenv.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEncryptKeepsOtherBytes(t *testing.T) {
	f := parse(t, sample)
	changes, _, err := Encrypt(f, devRing, matcher, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Name != "API_KEY_SECRET" || changes[1].Name != "DB_PASSWORD" {
		t.Fatalf("changes = %+v", changes)
	}
	out := string(f.Bytes())
	for _, keep := range []string{"# app config\r\n", "export API_KEY_SECRET=\"DEV_ENC:", "\" # trailing\r\n", "LOG_LEVEL=debug\r\n", "DB_PASSWORD='DEV_ENC:", "EMPTY_SECRET=\r\n"} {
		if !strings.Contains(out, keep) {
			t.Errorf("output lost %q:\n%s", keep, out)
		}
	}
	// Second run: nothing to do, no byte changes.
	again, _, _ := Encrypt(f, devRing, matcher, false)
	if len(again) != 0 {
		t.Fatalf("second run changed %v", again)
	}
	vars, err := Open(parse(t, out), devRing)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range vars {
		got[v.Name] = v.Value
	}
	if got["API_KEY_SECRET"] != "abc def" || got["DB_PASSWORD"] != "p#w" || got["LOG_LEVEL"] != "debug" {
		t.Fatalf("opened %v", got)
	}
}

func TestOpenNamesTheEntry(t *testing.T) {
	v, _ := devRing.Seal("A_SECRET", []byte("x"))
	// Pasted under another name: fails and names the line, not the value.
	f := parse(t, "OK=1\nB_SECRET="+v+"\n")
	_, err := Open(f, devRing)
	if err == nil || !strings.HasPrefix(err.Error(), "line 2: B_SECRET: ") || strings.Contains(err.Error(), v) {
		t.Fatalf("err = %v", err)
	}
}

func TestResealAllOrNothing(t *testing.T) {
	a, _ := devRing.Seal("A_SECRET", []byte("a"))
	bad := "DEV_ENC:" + strings.Repeat("A", 60)
	f := parse(t, "A_SECRET="+a+"\nB_SECRET="+bad+"\n")
	before := string(f.Bytes())
	rotated := value.NewKeyring("dev", keyNew, keyDev)
	if _, err := Reseal(f, rotated, NotCurrent(rotated)); err == nil {
		t.Fatal("reseal with a bad value succeeded")
	}
	if string(f.Bytes()) != before {
		t.Fatal("a failed reseal changed the file")
	}
	f = parse(t, "A_SECRET="+a+"\n")
	changes, err := Reseal(f, rotated, NotCurrent(rotated))
	if err != nil || len(changes) != 1 {
		t.Fatalf("reseal: %v %v", changes, err)
	}
	if uses := UsesKey(f, "dev", keyDev.ID()); len(uses) != 0 {
		t.Fatalf("old key still used: %v", uses)
	}
	if uses := UsesKey(f, "dev", keyNew.ID()); len(uses) != 1 {
		t.Fatalf("new key not used: %v", uses)
	}
}

func TestCheck(t *testing.T) {
	good, _ := devRing.Seal("GOOD_SECRET", []byte("g"))
	prod, _ := prodRing.Seal("P_SECRET", []byte("p"))
	moved, _ := devRing.Seal("OTHER_SECRET", []byte("m"))
	f := parse(t, strings.Join([]string{
		"GOOD_SECRET=" + good,
		"PLAIN_SECRET=oops",
		"P_SECRET=" + prod,
		"MAL_SECRET=DEV_ENC:!!",
		"MOVED_SECRET=" + moved,
		"NOTE=not a secret",
		"EMPTY_SECRET=",
		"LOWER=dev_enc:abc",
	}, "\n")+"\n")
	probs := Check(f, "dev", matcher, devRing)
	want := []struct {
		line int
		kind string
	}{{2, KindPlaintext}, {3, KindWrongEnv}, {4, KindMalformed}, {5, KindNoOpen}, {8, KindMalformed}}
	if len(probs) != len(want) {
		t.Fatalf("problems = %+v", probs)
	}
	for i, w := range want {
		if probs[i].Line != w.line || probs[i].Kind != w.kind {
			t.Errorf("problem %d = %+v, want line %d %s", i, probs[i], w.line, w.kind)
		}
		if strings.Contains(probs[i].Reason, "oops") {
			t.Errorf("reason echoes a value: %s", probs[i].Reason)
		}
	}
	// Without a key, values are not opened.
	if n := len(Check(f, "dev", matcher, nil)); n != 4 {
		t.Fatalf("without key: %d problems", n)
	}
}

func TestEnvFromFilename(t *testing.T) {
	for in, want := range map[string]string{
		"env_prod.env": "prod", "dir/.env.int": "int", "env_dev.env": "dev",
		".env": "", ".env.example": "", "env_prod.env.sample": "",
		// issue 8 item 10: any word of the name, any case
		"prod.env": "prod", "env_PROD.env": "prod", "env_prod.env.bak": "prod", ".env.prod.local": "prod",
		"svc-int.env": "int", "products.env": "", "dev-to-prod.env": "", "env_staging.env": "",
	} {
		got, _ := EnvFromFilename(in)
		if got != want {
			t.Errorf("EnvFromFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
