package secretfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/keysmith/keysmith/pkg/dotenv"
)

func TestEncryptKeepsValuesThatExpand(t *testing.T) {
	in := "A_SECRET=pa$$word\nB_SECRET=\"x${HOME}\"\nC_SECRET='pa$$word'\nD_SECRET=\"5\\$\"\nE_SECRET=5$\n"
	f := parse(t, in)
	changes, kept, err := Encrypt(f, devRing, matcher, false)
	if err != nil {
		t.Fatal(err)
	}
	if names(changes) != "C_SECRET,D_SECRET,E_SECRET" || names(kept) != "A_SECRET,B_SECRET" {
		t.Fatalf("changes %v kept %v", changes, kept)
	}
	if out := string(f.Bytes()); !strings.HasPrefix(out, "A_SECRET=pa$$word\nB_SECRET=\"x${HOME}\"\n") {
		t.Fatalf("kept values changed: %q", out)
	}
	// What the app sees is the same before and after.
	vars, err := Open(parse(t, string(f.Bytes())), devRing)
	if err != nil {
		t.Fatal(err)
	}
	env := func(string) (string, bool) { return "/h", true }
	before, _ := (&Resolver{Env: env}).Expand(parse(t, in), mustOpen(t, parse(t, in)))
	after, err := (&Resolver{Env: env}).Expand(parse(t, string(f.Bytes())), vars)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if before[i].Value != after[i].Value {
			t.Errorf("%s: app saw %q, now %q", before[i].Name, before[i].Value, after[i].Value)
		}
	}
	// --literal seals them as written.
	changes, kept, _ = Encrypt(f, devRing, matcher, true)
	if names(changes) != "A_SECRET,B_SECRET" || len(kept) != 0 {
		t.Fatalf("literal: changes %v kept %v", changes, kept)
	}
	vars, _ = Open(parse(t, string(f.Bytes())), devRing)
	if vars[0].Value != "pa$$word" || vars[1].Value != "x${HOME}" {
		t.Errorf("literal: sealed %q %q", vars[0].Value, vars[1].Value)
	}
}

func mustOpen(t *testing.T, f *dotenv.File) []Var {
	t.Helper()
	vars, err := Open(f, devRing)
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

func names(cs []Change) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

func TestResolver(t *testing.T) {
	// The password is sealed: its plaintext "pa$$word" is never expanded,
	// and a URL built from it gets it exactly.
	sealed, err := devRing.Seal("DB_PASSWORD_SECRET", []byte("pa$$word"))
	if err != nil {
		t.Fatal(err)
	}
	a := parse(t, "DB_PASSWORD_SECRET="+sealed+"\nHOST=${DB_HOST:-db}\nUSER=$LOGNAME\nINHERITED\nMISSING\n")
	b := parse(t, "URL=postgres://${USER}:${DB_PASSWORD_SECRET}@${HOST}/app\nHOST=other\nLIT='${HOST}'\n")
	env := map[string]string{"LOGNAME": "app", "INHERITED": "from env", "HOST": "env-host"}
	r := &Resolver{Env: func(n string) (string, bool) { v, ok := env[n]; return v, ok }}
	got := map[string]string{}
	for _, f := range []*dotenv.File{a, b} {
		vars, err := r.Expand(f, mustOpen(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			got[v.Name] = v.Value
		}
	}
	want := map[string]string{
		"DB_PASSWORD_SECRET": "pa$$word", "HOST": "other", "USER": "app", "INHERITED": "from env",
		"URL": "postgres://app:pa$$word@db/app", "LIT": "${HOST}",
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}

	// --no-expand: values as written; inherited names still come from the environment.
	r = &Resolver{Env: r.Env, NoExpand: true}
	vars, _ := r.Expand(a, mustOpen(t, a))
	if vars[1].Value != "${DB_HOST:-db}" || vars[3].Value != "from env" || len(vars) != 4 {
		t.Errorf("no-expand: %+v", vars)
	}

	// A required variable that is not set is an error naming line and variable.
	c := parse(t, "A=1\nB=${NOPE:?set NOPE}\n")
	_, err = (&Resolver{}).Expand(c, mustOpen(t, c))
	var xe *dotenv.ExpandError
	if !errors.As(err, &xe) || xe.Line != 2 || xe.Name != "B" || xe.Var != "NOPE" {
		t.Errorf("error = %v", err)
	}
}
