package cmdutil

import (
	"errors"
	"strings"
	"testing"
)

func TestExecLimits(t *testing.T) {
	l := ExecLimits{Total: 1000, PerString: 100}
	if ExecSize("ab", "") != 3+8+1+8 {
		t.Fatalf("ExecSize = %d", ExecSize("ab", ""))
	}
	// NAME=value and NUL: 1 + 1 + 97 + 1 = 100 fits, one more byte does not
	if err := l.CheckVars(map[string]int{"A": 97}, 0); err != nil {
		t.Fatalf("97-byte value: %v", err)
	}
	var big *ExecTooLargeError
	if err := l.CheckVars(map[string]int{"A": 98, "B": 1}, 0); !errors.As(err, &big) || big.Var != "A" || big.Need != 101 || big.Limit != 100 {
		t.Fatalf("98-byte value: %v", err)
	}
	// in all: 10 variables of 60 + 8 pointer bytes = 680, with 320 other = 1000
	vars := map[string]int{}
	for _, n := range strings.Split("A B C D E F G H I J", " ") {
		vars[n] = 57
	}
	if err := l.CheckVars(vars, 320); err != nil {
		t.Fatalf("1000 bytes: %v", err)
	}
	if err := l.CheckVars(vars, 321); !errors.As(err, &big) || big.Var != "" || big.Need != 680 || big.Other != 321 {
		t.Fatalf("1001 bytes: %v", err)
	}
	// unknown limits check nothing
	if err := (ExecLimits{}).CheckVars(map[string]int{"A": 1 << 30}, 1<<30); err != nil {
		t.Fatal(err)
	}
	// before exec: the path, arguments and environment
	if err := l.CheckExec("/bin/x", []string{"x"}, []string{"A=" + strings.Repeat("v", 98)}); !errors.As(err, &big) || big.Var != "A" {
		t.Fatalf("CheckExec long variable: %v", err)
	}
	env := make([]string, 20)
	for i := range env {
		env[i] = "A=" + strings.Repeat("v", 40)
	}
	if err := l.CheckExec("/bin/x", []string{"x"}, env); !errors.As(err, &big) || big.Var != "" || !strings.Contains(err.Error(), "arguments and environment need") {
		t.Fatalf("CheckExec in all: %v", err)
	}
}

func TestSystemExecLimits(t *testing.T) {
	l := SystemExecLimits()
	if l.Total != 0 && (l.Total < 128<<10 || l.Total > 6<<20 || l.PerString < 128<<10) {
		t.Fatalf("SystemExecLimits = %+v", l)
	}
}
