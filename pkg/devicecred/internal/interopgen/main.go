// Command interopgen drives pkg/devicecred for scripts/interop-age.sh. It is a
// test tool, not part of keysmith.
//
//	interopgen seal -o FILE [-work-factor N] [-words N]
//	    Generates a device key, seals it to a fresh passphrase and writes the
//	    age file to FILE. Prints "passphrase <p>", "spki <hex>" and
//	    "fingerprint <hex>" lines on stdout.
//
//	interopgen reveal -i FILE
//	    Opens FILE with the passphrase in $AGE_PASSPHRASE and prints the
//	    "spki <hex>" and "fingerprint <hex>" of the key inside.
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"github.com/keysmith/keysmith/pkg/devicecred"
	"github.com/keysmith/keysmith/pkg/passphrase"
)

func main() {
	if len(os.Args) < 2 {
		fatalf("usage: interopgen {seal | reveal} [flags]")
	}
	var err error
	switch os.Args[1] {
	case "seal":
		err = seal(os.Args[2:])
	case "reveal":
		err = reveal(os.Args[2:])
	default:
		fatalf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func seal(args []string) error {
	fs := flag.NewFlagSet("seal", flag.ExitOnError)
	out := fs.String("o", "", "write the sealed key to `file` (must not exist)")
	wf := fs.Int("work-factor", devicecred.DefaultWorkFactor, "scrypt work factor")
	words := fs.Int("words", passphrase.DefaultWords, "passphrase words")
	fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("-o is required")
	}

	priv, err := devicecred.Generate()
	if err != nil {
		return err
	}
	spki, err := devicecred.SPKI(&priv.PublicKey)
	if err != nil {
		return err
	}
	pem, err := devicecred.PrivatePEM(priv)
	if err != nil {
		return err
	}
	pass, err := passphrase.Generate(*words)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := devicecred.SealPEM(f, pem, pass, *wf); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("passphrase %s\nspki %s\nfingerprint %s\n", pass, hex.EncodeToString(spki), devicecred.Fingerprint(spki))
	return nil
}

func reveal(args []string) error {
	fs := flag.NewFlagSet("reveal", flag.ExitOnError)
	in := fs.String("i", "", "read the sealed key from `file`")
	fs.Parse(args)
	pass := os.Getenv("AGE_PASSPHRASE")
	if *in == "" || pass == "" {
		return fmt.Errorf("-i and $AGE_PASSPHRASE are required")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	pem, err := devicecred.RevealPEM(f, pass)
	if err != nil {
		return err
	}
	priv, err := devicecred.ParsePrivatePEM(pem)
	if err != nil {
		return err
	}
	spki, err := devicecred.SPKI(&priv.PublicKey)
	if err != nil {
		return err
	}
	fmt.Printf("spki %s\nfingerprint %s\n", hex.EncodeToString(spki), devicecred.Fingerprint(spki))
	return nil
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "interopgen: error: "+format+"\n", a...)
	os.Exit(1)
}
