package devicecred

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateAMTPassword(t *testing.T) {
	for _, n := range []int{AMTPasswordMinLen, AMTPasswordDefaultLen, AMTPasswordMaxLen} {
		seen := map[string]bool{}
		for range 200 {
			p, err := GenerateAMTPassword(n)
			if err != nil {
				t.Fatal(err)
			}
			if len(p) != n {
				t.Fatalf("GenerateAMTPassword(%d) has length %d", n, len(p))
			}
			if err := ValidateAMTPassword(p); err != nil {
				t.Fatalf("GenerateAMTPassword(%d) = %q fails validation: %v", n, p, err)
			}
			if strings.ContainsAny(p, `:,"_ '<>&$\`+"`") {
				t.Fatalf("GenerateAMTPassword(%d) = %q contains a character it should avoid", n, p)
			}
			if seen[p] {
				t.Fatalf("GenerateAMTPassword(%d) repeated %q", n, p)
			}
			seen[p] = true
		}
	}
	for _, n := range []int{-1, 0, 7, 33} {
		if p, err := GenerateAMTPassword(n); err == nil {
			t.Errorf("GenerateAMTPassword(%d) = %q, want error", n, p)
		}
	}
}

// TestGenerateAMTPasswordSpread checks that every alphabet character shows
// up and that no character class is pinned to a position.
func TestGenerateAMTPasswordSpread(t *testing.T) {
	const n, rounds = 8, 3000
	count := map[byte]int{}
	// classAt[i][c] counts passwords whose position i holds class c.
	var classAt [n][4]int
	for range rounds {
		p, err := GenerateAMTPassword(n)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			count[p[i]]++
			classAt[i][class(p[i])]++
		}
	}
	for i := 0; i < len(amtAlphabet); i++ {
		if count[amtAlphabet[i]] == 0 {
			t.Errorf("character %q never generated in %d passwords", amtAlphabet[i], rounds)
		}
	}
	if len(count) != len(amtAlphabet) {
		t.Errorf("generated %d distinct characters, alphabet has %d", len(count), len(amtAlphabet))
	}
	// Each position should see each class roughly in proportion to its
	// share of the alphabet (digits 10/75 ≈ 13%, the rarest). A fixed
	// position for a class would show as ~100% or ~0%.
	for i := 0; i < n; i++ {
		for c := 0; c < 4; c++ {
			if share := float64(classAt[i][c]) / rounds; share < 0.05 || share > 0.6 {
				t.Errorf("position %d holds class %d in %.0f%% of passwords", i, c, 100*share)
			}
		}
	}
}

func class(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return 0
	case 'A' <= c && c <= 'Z':
		return 1
	case '0' <= c && c <= '9':
		return 2
	default:
		return 3
	}
}

func TestValidateAMTPassword(t *testing.T) {
	tests := []struct {
		in  string
		msg string // "" means valid
	}{
		{"Passw0rd!", ""},
		{"aB3$aB3$", ""},
		{"P@ssw0rd with spaces", ""},
		{strings.Repeat("aB3~", 8), ""},
		{"aB3;aB3;", ""},
		{"aB3!", "8 to 32 characters, got 4"},
		{strings.Repeat("aB3~", 8) + "x", "8 to 32 characters, got 33"},
		{"Passw0rd:", `must not contain ':'`},
		{"Passw0rd,", `must not contain ','`},
		{`Passw0rd"`, `must not contain '"'`},
		{"Passw0rd\t!", "not printable 7-bit ASCII"},
		{"Pässw0rd!", "not printable 7-bit ASCII"},
		{"Location_1", "a special character"},
		{"Pass word1", "a special character"},
		{"password1!", "an uppercase letter"},
		{"PASSWORD1!", "a lowercase letter"},
		{"Password!!", "a digit"},
		{"12345678", "a lowercase letter, an uppercase letter, a special character"},
	}
	for _, tt := range tests {
		err := ValidateAMTPassword(tt.in)
		switch {
		case tt.msg == "" && err != nil:
			t.Errorf("ValidateAMTPassword(%q) = %v, want nil", tt.in, err)
		case tt.msg != "" && err == nil:
			t.Errorf("ValidateAMTPassword(%q) = nil, want error mentioning %q", tt.in, tt.msg)
		case tt.msg != "" && !strings.Contains(err.Error(), tt.msg):
			t.Errorf("ValidateAMTPassword(%q) = %q, want it to mention %q", tt.in, err, tt.msg)
		}
		if err != nil && len(tt.in) > 2 && strings.Contains(err.Error(), tt.in) {
			t.Errorf("ValidateAMTPassword error %q echoes the password", err)
		}
	}
}

func TestCheckDeviceSecret(t *testing.T) {
	tests := []struct {
		name, value string
		bad         bool
	}{
		{"AMT_PASSWORD", "Amt#Pass1", false},
		{"AMT_PASSWORD", "x", true},
		{"amt_password", "Location_1", true},
		{"MEBX_PASSWORD", "weakpassword", true},
		{"Mebx_Password", "Mebx#Pass1", false},
		{"WIFI_PSK", "x", false},
		{"AMT_PASSWORD_OLD", "x", false},
	}
	for _, tt := range tests {
		err := CheckDeviceSecret(tt.name, []byte(tt.value))
		if (err != nil) != tt.bad {
			t.Errorf("CheckDeviceSecret(%q, %q) = %v, want error %v", tt.name, tt.value, err, tt.bad)
			continue
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrAMTPassword) {
			t.Errorf("CheckDeviceSecret(%q) = %v, not ErrAMTPassword", tt.name, err)
		}
		if !strings.HasPrefix(err.Error(), tt.name+": ") || strings.Contains(err.Error(), tt.value) {
			t.Errorf("CheckDeviceSecret(%q) = %q: want the name and never the value", tt.name, err)
		}
	}
}
