package cmdutil

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ExecLimits are what the system lets a new program receive (execve(2)):
// Total bytes of arguments and environment, each string counted with its
// NUL and its pointer (ExecSize), and PerString bytes for one string with
// its NUL. 0 means not known here: exec itself says.
type ExecLimits struct {
	Total     int
	PerString int
}

// ExecSize is what strings cost against ExecLimits.Total: each one's bytes,
// its terminating NUL and its pointer in argv or envp.
func ExecSize(ss ...string) int {
	n := 0
	for _, s := range ss {
		n += len(s) + 1 + strconv.IntSize/8
	}
	return n
}

// ExecTooLargeError is an environment that cannot be handed to a command:
// in all (Var == "") or one variable.
type ExecTooLargeError struct {
	What  string // what needs the room, e.g. "the 64 vault secrets of tenant default"
	Var   string // the variable, for a single one too long
	Need  int    // bytes it needs
	Other int    // bytes the rest of the environment and the arguments take (Var == "")
	Limit int
}

func (e *ExecTooLargeError) Error() string {
	if e.Var != "" {
		return fmt.Sprintf("%s needs %d bytes as environment variable %s, more than the %d bytes one variable may have on this system", e.What, e.Need, e.Var, e.Limit)
	}
	if e.Other == 0 {
		return fmt.Sprintf("%s need %d bytes, more than the %d bytes this system allows a command", e.What, e.Need, e.Limit)
	}
	return fmt.Sprintf("%s need %d bytes as environment variables; with the %d bytes of the command's other variables and arguments that is more than the %d bytes this system allows", e.What, e.Need, e.Other, e.Limit)
}

// CheckVars returns an *ExecTooLargeError (What left for the caller) when
// variables of these names and value sizes cannot be passed to a command
// beside other bytes of arguments and environment (ExecSize).
func (l ExecLimits) CheckVars(vars map[string]int, other int) error {
	need := 0
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		s := len(name) + 1 + vars[name] + 1 // NAME=value and its NUL
		if l.PerString > 0 && s > l.PerString {
			return &ExecTooLargeError{Var: name, Need: s, Limit: l.PerString}
		}
		need += s + strconv.IntSize/8
	}
	if l.Total > 0 && need+other > l.Total {
		return &ExecTooLargeError{Need: need, Other: other, Limit: l.Total}
	}
	return nil
}

// CheckExec is the check before exec: the program's path, its arguments
// and its environment within l.
func (l ExecLimits) CheckExec(argv0 string, argv, env []string) error {
	for _, kv := range env {
		if l.PerString > 0 && len(kv)+1 > l.PerString {
			name, _, _ := strings.Cut(kv, "=")
			return &ExecTooLargeError{What: "variable " + name, Var: name, Need: len(kv) + 1, Limit: l.PerString}
		}
	}
	if need := len(argv0) + 1 + ExecSize(argv...) + ExecSize(env...); l.Total > 0 && need > l.Total {
		return &ExecTooLargeError{What: "the command's arguments and environment", Need: need, Limit: l.Total}
	}
	return nil
}
