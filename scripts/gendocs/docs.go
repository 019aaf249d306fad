package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/keysmith/keysmith/cmd"
	"github.com/keysmith/keysmith/cmd/cmdutil"
)

// GenDocs writes the CLI reference, one Markdown file per command, to dir.
// docs/cli is made with: go run ./scripts/gendocs docs/cli
func GenDocs(dir string) error {
	files, err := RenderDocs()
	if err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "keysmith*.md"))
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RenderDocs returns the CLI reference as file name → contents.
func RenderDocs() (map[string][]byte, error) {
	f := cmdutil.New("dev")
	f.IO, _, _ = cmdutil.Test("")
	root := cmd.NewCmdRoot(f)
	root.DisableAutoGenTag = true
	out := map[string][]byte{}
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() && c != root || c.IsAdditionalHelpTopicCommand() {
			return nil
		}
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		c.DisableAutoGenTag = true
		var b bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &b, func(s string) string { return s }); err != nil {
			return err
		}
		io.WriteString(&b, "\n### Exit status\n\n```"+cmdutil.ExitCodesHelp[len("\nEXIT STATUS"):]+"```\n")
		name := strings.ReplaceAll(c.CommandPath(), " ", "_") + ".md"
		out[name] = b.Bytes()
		return nil
	}
	if err := walk(root); err != nil {
		return nil, fmt.Errorf("generating docs: %w", err)
	}
	return out, nil
}
