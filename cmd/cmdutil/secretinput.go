package cmdutil

import (
	"errors"
	"fmt"
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
	if in.File != "" {
		b, err := os.ReadFile(in.File)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("--from-file %q: %w", in.File, ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("--from-file: %w", err)
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
		return []byte(in.Value), nil
	}
	b, err := f.IO.ReadSecretLines(promptLines(in.Prompt))
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
