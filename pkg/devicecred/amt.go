package devicecred

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Intel AMT password rules (AMT SDK, "Valid Usernames and Passwords"): 8 to
// 32 characters of 7-bit ASCII 0x20..0x7e except ':' ',' '"', with at least
// one digit, one lowercase and one uppercase Latin letter, and one
// non-alphanumeric character. '_' and ' ' are allowed but count as
// alphanumeric, not as the special character.
const (
	// AMTPasswordMinLen is the shortest password Intel AMT accepts.
	AMTPasswordMinLen = 8
	// AMTPasswordMaxLen is the longest password Intel AMT accepts.
	AMTPasswordMaxLen = 32
	// AMTPasswordDefaultLen is the length callers should generate.
	AMTPasswordDefaultLen = 16
)

const (
	amtLower = "abcdefghijklmnopqrstuvwxyz"
	amtUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	amtDigit = "0123456789"
	// amtSpecialGen is the special characters GenerateAMTPassword uses: a
	// subset of what AMT allows that avoids characters some MEBx versions
	// reject (' < > & space) and the ones that need quoting in a shell
	// double-quoted string or in XML ($ ` \ " ' < > &).
	amtSpecialGen = "!#%*+-./=?@^~"
	// amtForbidden are the printable characters AMT never accepts.
	amtForbidden = `:,"`
)

// amtAlphabet is the set GenerateAMTPassword draws every character from.
const amtAlphabet = amtLower + amtUpper + amtDigit + amtSpecialGen

// GenerateAMTPassword returns a random Intel AMT password of the given length
// (AMTPasswordMinLen..AMTPasswordMaxLen). Each character is drawn uniformly
// from 75 characters (letters, digits and "!#%*+-./=?@^~") with crypto/rand;
// draws that lack any of the four required classes are discarded and redrawn
// whole. The result is uniform over all passwords of that length from that
// alphabet that satisfy the AMT rules, so no character class sits at a fixed
// position. A 16-character password carries about 99 bits of entropy.
func GenerateAMTPassword(length int) (string, error) {
	if length < AMTPasswordMinLen || length > AMTPasswordMaxLen {
		return "", fmt.Errorf("AMT password length %d out of range %d..%d", length, AMTPasswordMinLen, AMTPasswordMaxLen)
	}
	n := big.NewInt(int64(len(amtAlphabet)))
	buf := make([]byte, length)
	// Even at length 8 more than 40% of draws qualify; 1000 failed draws in a
	// row means the random source is broken.
	for range 1000 {
		for i := range buf {
			j, err := rand.Int(rand.Reader, n)
			if err != nil {
				return "", fmt.Errorf("generating AMT password: %w", err)
			}
			buf[i] = amtAlphabet[j.Int64()]
		}
		if ValidateAMTPassword(string(buf)) == nil {
			return string(buf), nil
		}
	}
	return "", errors.New("generating AMT password: random source keeps failing the character rules")
}

// AMTPasswordNames are the secret names that hold an Intel AMT password:
// the AMT admin password and the MEBx password (the same password rules
// apply to both). IsAMTPasswordName matches them ignoring case.
var AMTPasswordNames = []string{"AMT_PASSWORD", "MEBX_PASSWORD"}

// IsAMTPasswordName reports whether a secret called name holds an Intel AMT
// or MEBx password, whose value must pass ValidateAMTPassword.
func IsAMTPasswordName(name string) bool {
	for _, n := range AMTPasswordNames {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// ErrAMTPassword is what CheckDeviceSecret's errors match (errors.Is): a
// value for an AMT or MEBx password name that breaks the AMT rules.
var ErrAMTPassword = errors.New("invalid AMT password")

// AMTPasswordError is a value for an AMT or MEBx password name that breaks
// the AMT rules. It never holds the value.
type AMTPasswordError struct {
	Name string // the secret name
	Err  error  // what ValidateAMTPassword said
}

func (e *AMTPasswordError) Error() string   { return e.Name + ": " + e.Err.Error() }
func (e *AMTPasswordError) Unwrap() []error { return []error{ErrAMTPassword, e.Err} }

// CheckDeviceSecret returns an *AMTPasswordError when name is an AMT or
// MEBx password name (IsAMTPasswordName) and value breaks the AMT rules;
// any other name takes any value.
func CheckDeviceSecret(name string, value []byte) error {
	if !IsAMTPasswordName(name) {
		return nil
	}
	if err := ValidateAMTPassword(string(value)); err != nil {
		return &AMTPasswordError{Name: name, Err: err}
	}
	return nil
}

// ValidateAMTPassword reports why s is not a valid Intel AMT password, or nil
// if it is. The error never contains s.
func ValidateAMTPassword(s string) error {
	if len(s) < AMTPasswordMinLen || len(s) > AMTPasswordMaxLen {
		return fmt.Errorf("AMT password must be %d to %d characters, got %d", AMTPasswordMinLen, AMTPasswordMaxLen, len(s))
	}
	var lower, upper, digit, special bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c > 0x7e:
			return fmt.Errorf("AMT password character %d is not printable 7-bit ASCII", i+1)
		case strings.IndexByte(amtForbidden, c) >= 0:
			return fmt.Errorf("AMT password must not contain %q", c)
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case c == '_' || c == ' ':
			// Allowed, but AMT counts them as alphanumeric.
		default:
			special = true
		}
	}
	var missing []string
	if !lower {
		missing = append(missing, "a lowercase letter")
	}
	if !upper {
		missing = append(missing, "an uppercase letter")
	}
	if !digit {
		missing = append(missing, "a digit")
	}
	if !special {
		missing = append(missing, `a special character other than "_" and space`)
	}
	if len(missing) > 0 {
		return fmt.Errorf("AMT password needs %s", strings.Join(missing, ", "))
	}
	return nil
}
