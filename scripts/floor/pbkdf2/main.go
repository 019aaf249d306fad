// Command pbkdf2 is scripts/bench.sh's floor for the file and vault
// commands: a process that does exactly one PBKDF2-HMAC-SHA256 of 100,000
// iterations, the derivation every keysmith value needs (pkg/masterkey
// Stretch, same package and iteration count), and prints 4 bytes of it.
package main

import (
	"crypto/sha256"
	"fmt"
	"os"

	"golang.org/x/crypto/pbkdf2"
)

func main() {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	dk := pbkdf2.Key(key, []byte("keysmith-bench-floor"), 100_000, 32, sha256.New)
	fmt.Fprintf(os.Stdout, "%x\n", dk[:4])
}
