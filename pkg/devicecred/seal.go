package devicecred

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"filippo.io/age"
)

const (
	// DefaultWorkFactor is the scrypt work factor (log2 N) of a sealed device
	// key: about 1 s and 256 MiB of memory per seal or reveal.
	DefaultWorkFactor = 18
	// MaxWorkFactor is the highest work factor SealPEM writes and RevealPEM
	// accepts, the same limit the age CLI applies when decrypting.
	MaxWorkFactor = 22

	// MaxSealedSize bounds the sealed file RevealPEM reads. A sealed P-256
	// PKCS#8 key is about 450 bytes.
	MaxSealedSize = 64 << 10

	ageIntro  = "age-encryption.org/v1\n"
	ageArmor  = "-----BEGIN AGE ENCRYPTED FILE-----"
	scryptTag = "scrypt"
)

var (
	// ErrWrongPassphrase means the passphrase does not open the sealed key.
	// age cannot tell a wrong passphrase from a tampered scrypt stanza; both
	// report this error.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrNotAgeFile means the input is not a binary age v1 file with exactly
	// one scrypt recipient, the only form a sealed device key takes.
	ErrNotAgeFile = errors.New("not a passphrase-encrypted age file")
	// ErrCorrupted means the input is a passphrase-encrypted age file that
	// is truncated, malformed or has been modified, or whose scrypt work
	// factor is above MaxWorkFactor.
	ErrCorrupted = errors.New("sealed key is corrupted or truncated")
)

// SealPEM encrypts pem, which must be a private key ParsePrivatePEM accepts,
// to passphrase and writes it to w as a binary (not armored)
// age-encryption.org/v1 file with exactly one scrypt recipient stanza at the
// given work factor. Production callers pass DefaultWorkFactor; lower values
// exist for tests. SealPEM writes nothing to w unless it succeeds up to the
// final write.
func SealPEM(w io.Writer, pem []byte, passphrase string, workFactor int) error {
	if workFactor < 1 || workFactor > MaxWorkFactor {
		return fmt.Errorf("scrypt work factor %d out of range 1..%d", workFactor, MaxWorkFactor)
	}
	if passphrase == "" {
		return errors.New("passphrase is empty")
	}
	if _, err := ParsePrivatePEM(pem); err != nil {
		return fmt.Errorf("refusing to seal: %w", err)
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return fmt.Errorf("sealing private key: %w", err)
	}
	r.SetWorkFactor(workFactor)

	var buf bytes.Buffer
	aw, err := age.Encrypt(&buf, r)
	if err != nil {
		return fmt.Errorf("sealing private key: %w", err)
	}
	if _, err := aw.Write(pem); err != nil {
		return fmt.Errorf("sealing private key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("sealing private key: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing sealed key: %w", err)
	}
	return nil
}

// RevealPEM decrypts a file written by SealPEM (or by `age -p`, if it is
// binary) and returns the private key PEM it holds, unparsed. It accepts work
// factors up to MaxWorkFactor. Errors wrap ErrNotAgeFile, ErrWrongPassphrase
// or ErrCorrupted where those apply.
func RevealPEM(r io.Reader, passphrase string) ([]byte, error) {
	if passphrase == "" {
		return nil, errors.New("passphrase is empty")
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxSealedSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading sealed key: %w", err)
	}
	if len(data) > MaxSealedSize {
		return nil, fmt.Errorf("%w: input is larger than %d bytes", ErrNotAgeFile, MaxSealedSize)
	}
	if !bytes.HasPrefix(data, []byte(ageIntro)) {
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte(ageArmor)) {
			return nil, fmt.Errorf("%w: input is ASCII-armored; sealed device keys are binary (age -d reads both)", ErrNotAgeFile)
		}
		return nil, fmt.Errorf("%w: input does not start with %q", ErrNotAgeFile, ageIntro[:len(ageIntro)-1])
	}
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, err
	}
	id.SetMaxWorkFactor(MaxWorkFactor)

	pr, err := age.Decrypt(bytes.NewReader(data), &sealedKeyIdentity{id})
	if err != nil {
		var sentinel *revealError
		if errors.As(err, &sentinel) {
			return nil, sentinel.err
		}
		// Everything else is age failing to parse the header after a valid
		// intro line, or the header MAC not matching the file key.
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	pem, err := io.ReadAll(pr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupted, err)
	}
	return pem, nil
}

// revealError carries RevealPEM's own error through age.Decrypt unchanged.
type revealError struct{ err error }

func (e *revealError) Error() string { return e.err.Error() }

// sealedKeyIdentity is an age.Identity that accepts only the single scrypt
// stanza SealPEM writes and turns age's errors into this package's sentinels.
type sealedKeyIdentity struct{ id *age.ScryptIdentity }

func (i *sealedKeyIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	if len(stanzas) != 1 || stanzas[0].Type != scryptTag {
		types := make([]string, len(stanzas))
		for j, s := range stanzas {
			types[j] = s.Type
		}
		return nil, &revealError{fmt.Errorf("%w: recipient stanzas are %q, want exactly one %q", ErrNotAgeFile, types, scryptTag)}
	}
	s := stanzas[0]
	if len(s.Args) == 2 {
		if wf, err := strconv.Atoi(s.Args[1]); err == nil && wf > MaxWorkFactor {
			return nil, &revealError{fmt.Errorf("%w: scrypt work factor %d is above the maximum %d", ErrCorrupted, wf, MaxWorkFactor)}
		}
	}
	key, err := i.id.Unwrap(stanzas)
	switch {
	case errors.Is(err, age.ErrIncorrectIdentity):
		return nil, &revealError{ErrWrongPassphrase}
	case err != nil:
		return nil, &revealError{fmt.Errorf("%w: %v", ErrCorrupted, err)}
	}
	return key, nil
}
