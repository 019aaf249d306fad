package sqlite

import (
	"strings"
	"testing"
)

func TestCheckSummary(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"*** in database main ***\nTree 10 page 57: btreeInitPage() returns error code 11", "Tree 10 page 57: btreeInitPage() returns error code 11"},
		{"*** in database main ***\n2nd reference to page 9\nPage 12: never used\n", "2nd reference to page 9"},
		{"row 3 missing from index audit_ts", "row 3 missing from index audit_ts"},
		{"*** in database main ***\n" + strings.Repeat("x", 300), strings.Repeat("x", 100) + "..."},
		{"*** in database main ***\n", "quick_check failed"},
	} {
		if got := checkSummary(tc.in); got != tc.want {
			t.Errorf("checkSummary(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
