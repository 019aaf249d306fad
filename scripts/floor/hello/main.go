// Command hello is scripts/bench.sh's start-up floor: the smallest Go
// process, built with keysmith's Go and flags, that prints one line.
package main

import "os"

func main() { os.Stdout.WriteString("hello, world\n") }
