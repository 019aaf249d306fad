package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// AgeSecretOptions say how a command seals something small and secret (a
// key) for a person: for age recipients, or under a passphrase.
type AgeSecretOptions struct {
	Recipients []string // -r/--recipient
	Passphrase bool     // --passphrase
}

// minAgePassphrase is the fewest characters accepted for a passphrase that
// protects key material in a file exposed to offline guessing.
const minAgePassphrase = 12

// SealAge encrypts data as an ASCII-armored age file (safe to paste) for the
// recipients, or for a passphrase read from KEYSMITH_PASSPHRASE, a hidden
// prompt (asked twice) or standard input.
func (f *Factory) SealAge(data []byte, o AgeSecretOptions) ([]byte, error) {
	var recips []age.Recipient
	if len(o.Recipients) > 0 {
		parsed, err := age.ParseRecipients(strings.NewReader(strings.Join(o.Recipients, "\n")))
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("-r/--recipient: %w", err)}
		}
		recips = parsed
	} else {
		pass, err := f.agePassphrase(true)
		if err != nil {
			return nil, err
		}
		if len([]rune(pass)) < minAgePassphrase {
			return nil, WithHint(Usagef("the passphrase has %d characters; at least %d are needed", len([]rune(pass)), minAgePassphrase),
				"use four or more random words")
		}
		r, err := age.NewScryptRecipient(pass)
		if err != nil {
			return nil, err
		}
		recips = []age.Recipient{r}
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recips...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// IsAge reports whether data is an age file, binary or armored.
func IsAge(data []byte) bool {
	return bytes.HasPrefix(data, []byte("age-encryption.org/")) || bytes.HasPrefix(bytes.TrimSpace(data), []byte(armor.Header))
}

// NotAgeError is the error for a file that should be age-encrypted (a
// noun: "backup", "key file") but does not start like an age file, binary
// or armored: no passphrase or identity could open it, so the hint must not
// send the user to retype one. Exit 2: the argument names the wrong file.
func NotAgeError(name, noun, want string) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf("%q is not an age-encrypted %s", name, noun),
		Hints: []string{fmt.Sprintf("give %s (a binary age file starts with \"age-encryption.org/v1\", an armored one with %q)", want, armor.Header)}}
}

// AgeDecryptError describes a failed age.Decrypt of an age file: no
// identity matched (a wrong passphrase or identity: wrongKeyHint), else a
// header that does not parse (a damaged file). Both are ErrAuth.
func AgeDecryptError(name string, err error, wrongKeyHint string) error {
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		return WithHint(fmt.Errorf("%q does not decrypt: %w: %v", name, ErrAuth, err), wrongKeyHint)
	}
	return WithHint(fmt.Errorf("%q does not decrypt: %w: %v", name, ErrAuth, err), "the age header does not parse: the file is damaged or cut short")
}

// OpenAge decrypts an age file (binary or armored) with the identities in
// identityFile, or else with a passphrase (KEYSMITH_PASSPHRASE, a hidden
// prompt or standard input). A wrong passphrase or identity is ErrAuth.
func (f *Factory) OpenAge(name string, data []byte, identityFile string, limit int64) ([]byte, error) {
	var ids []age.Identity
	if identityFile != "" {
		fh, err := os.Open(identityFile)
		if err != nil {
			return nil, err
		}
		ids, err = age.ParseIdentities(fh)
		fh.Close()
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("-i %q: %w", identityFile, err)}
		}
	} else {
		pass, err := f.agePassphrase(false)
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return nil, err
		}
		ids = []age.Identity{id}
	}
	var in io.Reader = bytes.NewReader(data)
	if !bytes.HasPrefix(data, []byte("age-encryption.org/")) {
		in = armor.NewReader(bytes.NewReader(bytes.TrimSpace(data)))
	}
	r, err := age.Decrypt(in, ids...)
	if err != nil {
		return nil, AgeDecryptError(name, err, "check the passphrase or identity (-i)")
	}
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%q: %w: %v", name, ErrAuth, err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("%q holds more than %d bytes", name, limit)
	}
	return out, nil
}

func (f *Factory) agePassphrase(confirm bool) (string, error) {
	return f.AgePassphrase("Passphrase: ", "-r/--recipient (export) or -i/--identity (import)", confirm)
}

// AgePassphrase reads the passphrase of an age file: KEYSMITH_PASSPHRASE,
// else a hidden prompt on a terminal (asked twice when confirm), else
// standard input. alternatives names, for the hint, the flags that avoid a
// passphrase.
func (f *Factory) AgePassphrase(prompt, alternatives string, confirm bool) (string, error) {
	if p := f.Getenv("KEYSMITH_PASSPHRASE"); p != "" {
		return p, nil
	}
	b, err := f.IO.ReadSecret(prompt)
	if errors.Is(err, ErrNoInput) {
		return "", WithHint(&UsageError{Err: fmt.Errorf("no passphrase: %w", err)},
			"set KEYSMITH_PASSPHRASE, pipe it in, or use "+alternatives)
	} else if err != nil {
		return "", err
	}
	if confirm && f.IO.InTTY {
		again, err := f.IO.ReadSecret("Again: ")
		if err != nil {
			return "", err
		}
		if !bytes.Equal(b, again) {
			return "", errors.New("the passphrases differ")
		}
	}
	return string(b), nil
}
