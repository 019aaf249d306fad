package secretfile

import (
	"github.com/keysmith/keysmith/pkg/dotenv"
)

// Resolver expands the variables of a set of files read in order, as
// docs/dotenv.md ("Expansion" and "Several files") describes: a name
// resolves to the value of the last earlier variable of the set (decrypted,
// expanded), else to the environment. Decrypted values are never expanded.
type Resolver struct {
	// Env looks a name up in the process environment; nil for none.
	Env dotenv.LookupFunc
	// NoExpand keeps every value as written (--no-expand).
	NoExpand bool

	seen map[string]string
}

// Expand resolves the variables Open returned for f (one per entry, in
// order) and returns them with plaintext values expanded. A bare NAME entry
// takes the environment's value, and is left out when the environment has
// none. The values are remembered for the files that come after. Errors
// are *dotenv.ExpandError.
func (r *Resolver) Expand(f *dotenv.File, vars []Var) ([]Var, error) {
	if r.seen == nil {
		r.seen = map[string]string{}
	}
	out := make([]Var, 0, len(vars))
	for i, e := range f.Entries() {
		v := vars[i]
		switch {
		case v.Inherit:
			env, ok := r.env(v.Name)
			if !ok {
				continue
			}
			v.Value = env
		case !v.Encrypted && !r.NoExpand:
			x, err := e.Expand(r.lookup)
			if err != nil {
				return nil, err
			}
			v.Value = x
		}
		r.seen[v.Name] = v.Value
		out = append(out, v)
	}
	return out, nil
}

func (r *Resolver) lookup(name string) (string, bool) {
	if v, ok := r.seen[name]; ok {
		return v, true
	}
	return r.env(name)
}

func (r *Resolver) env(name string) (string, bool) {
	if r.Env == nil {
		return "", false
	}
	return r.Env(name)
}
