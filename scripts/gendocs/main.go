// Command gendocs writes keysmith's CLI reference: go run ./scripts/gendocs docs/cli
package main

import (
	"fmt"
	"os"
)

func main() {
	dir := "docs/cli"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := GenDocs(dir); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
