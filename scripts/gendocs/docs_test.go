package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestCLIReferenceIsCurrent fails when docs/cli differs from what the
// command tree generates. Fix: go run ./scripts/gendocs docs/cli
func TestCLIReferenceIsCurrent(t *testing.T) {
	want, err := RenderDocs()
	if err != nil {
		t.Fatal(err)
	}
	have, _ := filepath.Glob("../../docs/cli/keysmith*.md")
	var stale []string
	for _, p := range have {
		name := filepath.Base(p)
		got, _ := os.ReadFile(p)
		if w, ok := want[name]; !ok {
			stale = append(stale, name+" (no such command)")
		} else if !bytes.Equal(got, w) {
			stale = append(stale, name+" (differs)")
		}
		delete(want, name)
	}
	for name := range want {
		stale = append(stale, name+" (missing)")
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("docs/cli is out of date; run: go run ./scripts/gendocs docs/cli\n%v", stale)
	}
}
