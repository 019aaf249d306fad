// Command keysmith keeps secrets out of plaintext: encrypted config values,
// device credentials and a local vault. See README.md.
package main

import (
	"os"

	"github.com/keysmith/keysmith/cmd"
)

func main() { os.Exit(cmd.Main()) }
