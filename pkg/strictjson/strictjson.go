// Package strictjson finds what encoding/json lets through silently: an
// object with the same key twice. The decoder keeps the last value of a
// repeated key, and matches object keys to struct fields ignoring case, so
// {"secrets": [...], "Secrets": [...]} decodes as the second list alone.
// Callers run CheckKeys before decoding untrusted input, and CheckFieldCase
// to refuse a key that names a field only when case is ignored ("Secrets"
// for "secrets"). It implements the
// "no key twice" rule of docs/device.md ("Provisioning report") and
// docs/service-access.md ("Schema format").
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DuplicateKeyError is an object with two keys that are equal (or, when
// case is folded, equal ignoring case).
type DuplicateKeyError struct {
	Path        string // JSON Pointer (RFC 6901) of the object; "" is the top level
	First, Then string // the two keys as written
}

func (e *DuplicateKeyError) Error() string {
	where := "in the top-level object"
	if e.Path != "" {
		where = "in the object at " + e.Path
	}
	if e.First == e.Then {
		return fmt.Sprintf("key %q appears twice %s", e.Then, where)
	}
	return fmt.Sprintf("keys %q and %q differ only in case %s", e.First, e.Then, where)
}

// CheckKeys returns a *DuplicateKeyError for the first object, at any depth
// of the first JSON value in data, that has a key twice. With foldCase, keys
// that differ only in case count as the same key (they are the same to
// encoding/json when it decodes into a struct: strings.EqualFold).
//
// CheckKeys checks nothing else. At malformed JSON it stops and returns
// nil, so the caller's decoder reports the syntax error in its own words.
func CheckKeys(data []byte, foldCase bool) error {
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]string // folded key -> key as written
		key     string            // last key read (objects)
		index   int               // next element (arrays)
		path    string
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*frame
	// childPath is the pointer of the value about to be read.
	childPath := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := stack[len(stack)-1]
		if top.object {
			return top.path + "/" + escape(top.key)
		}
		return top.path + "/" + strconv.Itoa(top.index)
	}
	// valueDone moves past a complete value; it reports whether that value
	// was the top-level one.
	valueDone := func() bool {
		if len(stack) == 0 {
			return true
		}
		top := stack[len(stack)-1]
		if top.object {
			top.wantKey = true
		} else {
			top.index++
		}
		return false
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // end of input or malformed: not ours to report
		}
		if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
			top := stack[n-1]
			key, ok := tok.(string)
			if !ok { // the closing '}'
				stack = stack[:n-1]
				if valueDone() {
					return nil
				}
				continue
			}
			k := key
			if foldCase {
				k = fold(key)
			}
			if first, dup := top.keys[k]; dup {
				return &DuplicateKeyError{Path: top.path, First: first, Then: key}
			}
			top.keys[k] = key
			top.key, top.wantKey = key, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, wantKey: true, keys: map[string]string{}, path: childPath()})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{path: childPath()})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if valueDone() {
			return nil
		}
	}
}

// fold maps s to a form that is equal for two strings exactly when
// strings.EqualFold says they are: each rune becomes the smallest rune of
// its simple case-folding orbit.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == utf8.RuneError {
			b.WriteRune(r)
			continue
		}
		lo := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < lo {
				lo = f
			}
		}
		b.WriteRune(lo)
	}
	return b.String()
}

// escape writes a key as a JSON Pointer reference token (RFC 6901).
func escape(key string) string {
	return strings.ReplaceAll(strings.ReplaceAll(key, "~", "~0"), "/", "~1")
}

// CaseKeyError is an object key that names a struct field only when case is
// ignored: encoding/json would decode it into that field.
type CaseKeyError struct {
	Path  string // JSON Pointer (RFC 6901) of the object; "" is the top level
	Key   string // the key as written
	Field string // the field's JSON name
}

func (e *CaseKeyError) Error() string {
	where := "in the top-level object"
	if e.Path != "" {
		where = "in the object at " + e.Path
	}
	return fmt.Sprintf("unknown field %q %s (keys are case-sensitive: want %q)", e.Key, where, e.Field)
}

// CheckFieldCase returns a *CaseKeyError for the first object key in data
// that is not the exact JSON name of a field of the struct v decodes it into
// (following v's type through pointers, slices, arrays and maps), where
// encoding/json matches names ignoring case. Keys that match no field in any
// case are left to the decoder's DisallowUnknownFields; v is only inspected,
// never written. Malformed JSON returns nil, for the decoder to report.
func CheckFieldCase(data []byte, v any) error {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	return checkCase(doc, reflect.TypeOf(v), "")
}

func checkCase(doc any, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		fields := jsonFields(t)
		for _, k := range slices.Sorted(maps.Keys(obj)) { // the same input, the same first error
			ft, exact := fields[k]
			if !exact {
				for name := range fields {
					if strings.EqualFold(name, k) {
						return &CaseKeyError{Path: path, Key: k, Field: name}
					}
				}
				continue
			}
			if err := checkCase(obj[k], ft, path+"/"+escape(k)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		arr, ok := doc.([]any)
		if !ok {
			return nil
		}
		for i, e := range arr {
			if err := checkCase(e, t.Elem(), path+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if err := checkCase(obj[k], t.Elem(), path+"/"+escape(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of t's fields, as encoding/json sees them
// (tag name, else the Go name; "-" skipped; untagged embedded structs
// flattened), to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for n, et := range jsonFields(ft) {
					if _, dup := out[n]; !dup {
						out[n] = et
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}
