package cmd

import (
	"bytes"
	"slices"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// TestTopLevelNames checks topLevel against the commands it builds: Main
// picks the one to build by these names.
func TestTopLevelNames(t *testing.T) {
	f := cmdutil.New("test")
	var names []string
	for _, c := range NewCmdRoot(f).Commands() {
		if c.Name() != "completion" && c.Name() != "help" {
			names = append(names, c.Name())
		}
	}
	var want []string
	for _, tc := range topLevel() {
		want = append(want, tc.name)
		if got := tc.build(f).Name(); got != tc.name {
			t.Errorf("topLevel entry %q builds command %q", tc.name, got)
		}
	}
	slices.Sort(want) // Commands() is sorted
	if !slices.Equal(names, want) {
		t.Errorf("root commands %v, topLevel %v", names, want)
	}
}

// TestOneCommandTree checks that the tree Main builds for one command gives
// every command under it the same help as the whole tree.
func TestOneCommandTree(t *testing.T) {
	f := cmdutil.New("test")
	full := NewCmdRoot(f)
	help := func(c *cobra.Command) string {
		var b bytes.Buffer
		c.SetOut(&b)
		if err := c.Help(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	var walk func(a, b *cobra.Command)
	walk = func(a, b *cobra.Command) {
		if ha, hb := help(a), help(b); ha != hb {
			t.Errorf("%s: help differs with one command built:\n%s\n---\n%s", a.CommandPath(), ha, hb)
		}
		if len(a.Commands()) != len(b.Commands()) {
			t.Fatalf("%s: %d subcommands, %d with one command built", a.CommandPath(), len(a.Commands()), len(b.Commands()))
		}
		for i := range a.Commands() {
			walk(a.Commands()[i], b.Commands()[i])
		}
	}
	for _, tc := range topLevel() {
		one := newRoot(f, tc.name)
		if len(one.Commands()) != 1 {
			t.Fatalf("newRoot(%q) has %d commands", tc.name, len(one.Commands()))
		}
		a, _, err := full.Find([]string{tc.name})
		if err != nil {
			t.Fatal(err)
		}
		walk(a, one.Commands()[0])
	}
}

func TestCommandName(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"version"}, "version"},
		{[]string{"secrets", "decrypt", "x"}, "secrets"},
		{[]string{"-e", "prod", "run", "--", "env"}, "run"},
		{[]string{"-eprod", "-q", "--output", "json", "vault", "ls"}, "vault"},
		{[]string{"--env=prod", "--key-file", "k", "--key-command", "c", "--quiet", "key", "list"}, "key"},
		{[]string{"-e", "version"}, ""}, // "version" is the flag's value
		{[]string{"help", "secrets"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "secrets", ""}, ""},
		{[]string{"--help"}, ""},
		{[]string{"--version"}, ""},
		{[]string{"--vault", "x", "vault", "ls"}, ""},
		{[]string{"secret"}, ""},
		{[]string{"--", "version"}, ""},
	} {
		if got := commandName(tt.args); got != tt.want {
			t.Errorf("commandName(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
