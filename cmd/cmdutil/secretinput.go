package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// SecretInput says where a command may take a secret from.
type SecretInput struct {
	Value    string // --value or a positional argument
	ValueSet bool   // Value was given (an empty one is an error)
	ValueArg string // how the value was given, for messages: "--value" (default) or "<value>"
	File     string // --from-file: read exactly, no newline trimmed
	Prompt   string // the hidden prompt shown on a terminal
	Example  string // the command shown in the "pipe it in" hint
}

// ReadSecretInput takes a secret from, in order: a file (exactly), a value
// on the command line (warning on a terminal: it is visible in the process
// list and shell history), a hidden prompt when stdin is a terminal, or
// standard input (one trailing newline removed). It never prompts when stdin
// is not a terminal; empty input is a usage error with a hint.
func (f *Factory) ReadSecretInput(in SecretInput) ([]byte, error) {
	max := f.MaxValueSize()
	if in.File != "" {
		fh, err := os.Open(in.File)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--from-file %q: %w", in.File, ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		defer fh.Close()
		b, err := io.ReadAll(io.LimitReader(fh, max+1))
		if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
		}
		if int64(len(b)) > max {
			return nil, f.TooLarge(fmt.Sprintf("--from-file %q", in.File))
		}
		if len(b) == 0 {
			return nil, Usagef("--from-file %q is empty", in.File)
		}
		return b, nil
	}
	if in.ValueSet {
		arg := in.ValueArg
		if arg == "" {
			arg = "--value"
		}
		if f.IO.InTTY || f.IO.ErrTTY {
			f.IO.Warnf("%s puts the secret in the process list and shell history; prefer standard input", arg)
		}
		if in.Value == "" {
			return nil, Usagef("%s is empty", arg)
		}
		if int64(len(in.Value)) > max {
			return nil, f.TooLarge(arg)
		}
		return []byte(in.Value), nil
	}
	b, err := f.IO.readSecret(promptLines(in.Prompt), true, max)
	if errors.Is(err, ErrTooLarge) {
		return nil, f.TooLarge("the value on standard input")
	}
	if errors.Is(err, ErrNoInput) {
		hint := "pipe the value in: printf %s \"$VALUE\" | " + in.Example
		return nil, WithHint(&UsageError{Err: err}, hint)
	}
	return b, err
}

// promptLines says, in the prompt, how a value of several lines ends:
// "Value for X: " becomes "Value for X (hidden; paste several lines, then
// Ctrl-D): ".
func promptLines(prompt string) string {
	p := strings.TrimSuffix(strings.TrimRight(prompt, " "), ":")
	return p + " (hidden; Enter ends it, or paste several lines, then Ctrl-D): "
}

// ErrTooLarge: a secret value is larger than max_value_size.
var ErrTooLarge = errors.New("value too large")

// MaxValueSize is the largest secret value a command accepts
// (max_value_size, KEYSMITH_MAX_VALUE_SIZE; default 1 MiB).
func (f *Factory) MaxValueSize() int64 {
	if f.Config == nil || f.Config.MaxValueSize <= 0 {
		return DefaultMaxValueSize
	}
	return f.Config.MaxValueSize
}

// TooLarge is the error for a value (named by what) larger than
// MaxValueSize; it is refused before more than the limit is read.
func (f *Factory) TooLarge(what string) error {
	return WithHint(&UsageError{Err: fmt.Errorf("%s is larger than the %d-byte limit for a secret value: %w", what, f.MaxValueSize(), ErrTooLarge)},
		"a vault holds configuration secrets, not files; raise the limit with max_value_size in the config or KEYSMITH_MAX_VALUE_SIZE (bytes) if you must")
}
