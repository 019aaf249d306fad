package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMETourIsTested: every command of the README's "A tour" block is
// run, as written, by testdata/script/readme_newcomer.txtar. The script's one
// stand-in, the prod key's /run/secrets path under $WORK, is allowed for.
func TestREADMETourIsTested(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/script/readme_newcomer.txtar")
	if err != nil {
		t.Fatal(err)
	}
	_, tour, ok := strings.Cut(string(readme), "## A tour\n\n```sh\n")
	if !ok {
		t.Fatal(`README.md has no "## A tour" shell block`)
	}
	tour, _, _ = strings.Cut(tour, "```")
	n := 0
	for _, line := range strings.Split(tour, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		want := strings.ReplaceAll(line, "/run/secrets/", "$WORK/run/secrets/")
		if !strings.Contains(string(script), want) {
			t.Errorf("README tour command not run by readme_newcomer.txtar: %s", line)
		}
	}
	if n == 0 {
		t.Fatal("no commands in the README tour")
	}
}
