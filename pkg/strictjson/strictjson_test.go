package strictjson

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKeys(t *testing.T) {
	for _, c := range []struct {
		in   string
		fold bool
		want string // "" means no error
	}{
		{`{"a": 1, "b": 2}`, true, ""},
		{`{"a": 1, "a": 2}`, false, `key "a" appears twice in the top-level object`},
		{`{"a": 1, "A": 2}`, false, ""},
		{`{"secrets": [], "Secrets": []}`, true, `keys "secrets" and "Secrets" differ only in case in the top-level object`},
		{`{"request_id": "a", "request_id": "b"}`, true, `key "request_id" appears twice`},
		{`{"x": {"y": [{"n": 1}, {"n": 1, "N": 2}]}}`, true, `differ only in case in the object at /x/y/1`},
		{`{"a/b": {"k": 1, "k": 2}}`, false, `in the object at /a~1b`},
		{`[{"k": 1}, {"k": 2}]`, false, ""},
		{`{"k": {"k": {"k": 1}}}`, false, ""},
		{`{"kelvin": 1, "\u212aelvin": 2}`, true, `differ only in case`}, // U+212A KELVIN SIGN folds to k
		{`{"ſ": 1, "S": 2}`, true, `differ only in case`},                // U+017F LONG S folds to s
		{`{"a": 1, "b": 2} {"a": 1, "a": 2}`, false, ""},                 // only the first value
		{`{"a": 1, "a"`, false, `key "a" appears twice`},                 // found before the syntax error
		{`{"a": 1,, "a": 2}`, false, ""},                                 // malformed first: the decoder's business
		{``, false, ""},
		{`"a"`, false, ""},
	} {
		err := CheckKeys([]byte(c.in), c.fold)
		var dk *DuplicateKeyError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckKeys(%s, %v) = %v, want nil", c.in, c.fold, err)
		case c.want != "" && (!errors.As(err, &dk) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckKeys(%s, %v) = %v, want %q", c.in, c.fold, err, c.want)
		}
	}
}

func TestFoldMatchesEqualFold(t *testing.T) {
	words := []string{"a", "A", "k", "K", "\u212a", "s", "S", "ſ", "ß", "ẞ", "σ", "Σ", "ς", "µ", "μ", "Μ", "i", "I", "İ", "ı", "\xff"}
	for _, a := range words {
		for _, b := range words {
			if got, want := fold(a) == fold(b), strings.EqualFold(a, b); got != want {
				t.Errorf("fold(%q) == fold(%q) is %v, EqualFold says %v", a, b, got, want)
			}
		}
	}
}

func FuzzCheckKeys(f *testing.F) {
	f.Add([]byte(`{"a": [1, {"b": 2, "B": 3}]}`))
	f.Add([]byte(`{"a": 1, "a": 2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = CheckKeys(data, true)
		_ = CheckKeys(data, false)
	})
}

type caseInner struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type caseBase struct {
	Format string `json:"format,omitempty"`
}

type caseOuter struct {
	caseBase
	RequestID string               `json:"request_id"`
	Secrets   []caseInner          `json:"secrets"`
	ByName    map[string]caseInner `json:"by_name"`
	Ptr       *caseInner           `json:"ptr"`
	Untagged  string
	Skipped   string `json:"-"`
}

func TestCheckFieldCase(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // "" means no error
	}{
		{`{"format": "x", "request_id": "r", "secrets": [{"name": "a", "value": "b"}], "Untagged": "u"}`, ""},
		{`{"unknown": 1, "secret": []}`, ""}, // the decoder's DisallowUnknownFields reports these
		{`{"Secrets": []}`, `unknown field "Secrets" in the top-level object (keys are case-sensitive: want "secrets")`},
		{`{"REQUEST_ID": "r"}`, `want "request_id"`},
		{`{"Format": "x"}`, `want "format"`}, // promoted from an embedded struct
		{`{"untagged": "u"}`, `want "Untagged"`},
		{`{"secrets": [{"name": "a"}, {"name": "b", "Value": "c"}]}`, `unknown field "Value" in the object at /secrets/1`},
		{`{"by_name": {"x/y": {"NAME": "a"}}}`, `in the object at /by_name/x~1y`},
		{`{"ptr": {"vAlue": "a"}}`, `in the object at /ptr`},
		{`{"Skipped": "s"}`, ""}, // not a field at all
		{`{"secrets": "not an array"}`, ""},
		{`{"secrets": [`, ""}, // malformed: the decoder says so
	} {
		err := CheckFieldCase([]byte(c.in), &caseOuter{})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckFieldCase(%s) = %v, want nil", c.in, err)
		case c.want != "" && err == nil:
			t.Errorf("CheckFieldCase(%s) = nil, want %q", c.in, c.want)
		case c.want != "" && !strings.Contains(err.Error(), c.want):
			t.Errorf("CheckFieldCase(%s) = %q, want it to contain %q", c.in, err, c.want)
		}
		var ce *CaseKeyError
		if err != nil && !errors.As(err, &ce) {
			t.Errorf("CheckFieldCase(%s) = %T, want *CaseKeyError", c.in, err)
		}
	}
}

func FuzzCheckFieldCase(f *testing.F) {
	f.Add([]byte(`{"Secrets": [{"NAME": "a"}], "by_name": {"k": {"Value": 1}}}`))
	f.Add([]byte(`[1, 2, {"a": null}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = CheckFieldCase(data, &caseOuter{})
	})
}
