package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkNode compares a YAML node with the Go type it will be decoded
// into and records, on the YAML path, what yaml's own errors would say in
// Go terms ("field x not found in type consumer.Config", "cannot unmarshal
// !!str `1 second` into time.Duration"): an unknown key, with the nearest
// known key as a suggestion, or a value of the wrong kind, saying what is
// expected. It walks the whole document, so every mistake is reported at
// once. Types that decode themselves (Secret) are left to their
// UnmarshalYAML.
func checkNode(n *yaml.Node, t reflect.Type, path string, errs *Errors) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		// Not followed: an alias may refer to itself, or fan out into
		// more nodes than the document holds; yaml's own decode, which
		// guards against both, checks what it stands for.
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		// yaml leaves the default in place (or zeroes a pointer).
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if vt, ok := viewType(t); ok {
		t = vt
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	if t == durationType {
		checkScalar(n, t, path, errs)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			errs.Add(&FieldError{Field: pathOrTop(path), Line: n.Line, Msg: "must be a section of keys (key: value lines), not " + kindName(n)})
			return
		}
		fields := structFields(t)
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				errs.Add(&FieldError{Field: pathOrTop(path), Line: k.Line, Msg: "a key must be a name, not " + kindName(k)})
				continue
			}
			if k.Value == "<<" {
				// A merge key: yaml checks what it merges.
				continue
			}
			f, ok := findField(fields, k.Value)
			if !ok {
				errs.Add(&FieldError{Field: joinPath(path, k.Value), Line: k.Line, Msg: "unknown key" + suggestion(k.Value, names)})
				continue
			}
			checkNode(v, f.typ, joinPath(path, k.Value), errs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			errs.Add(&FieldError{Field: pathOrTop(path), Line: n.Line, Msg: "must be a list, such as [a, b] or one \"- item\" per line, not " + kindName(n)})
			return
		}
		for i, e := range n.Content {
			checkNode(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			errs.Add(&FieldError{Field: pathOrTop(path), Line: n.Line, Msg: "must be a mapping (key: value lines), not " + kindName(n)})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			checkNode(v, t.Elem(), joinPath(path, k.Value), errs)
		}
	case reflect.Interface:
	default:
		checkScalar(n, t, path, errs)
	}
}

// checkScalar decodes n into a fresh value of t, as yaml will, and says
// what was expected when that fails.
func checkScalar(n *yaml.Node, t reflect.Type, path string, errs *Errors) {
	field := pathOrTop(path)
	want := expected(t)
	if n.Kind != yaml.ScalarNode {
		errs.Add(&FieldError{Field: field, Line: n.Line, Msg: "must be " + want + ", not " + kindName(n)})
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err == nil {
		return
	}
	msg := quoteValue(n.Value) + " is not " + want
	if t == durationType {
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
			msg += "; a number needs a unit"
		}
	} else if isNumber(t) {
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
			msg = quoteValue(n.Value) + " is out of range for " + want
		}
	}
	errs.Add(&FieldError{Field: field, Line: n.Line, Msg: msg})
}

// expected says in words what a scalar of t looks like.
func expected(t reflect.Type) string {
	if t == durationType {
		return "a duration (e.g. 1s, 500ms, 1m30s)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a text value"
	}
	return "a single value"
}

func isNumber(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// maxQuoted bounds the values an error quotes. A short value in the wrong
// place is a typo worth showing ("1 second"); a long one may be a
// credential pasted under the wrong key, and API tokens are longer.
const maxQuoted = 16

// quoteValue is v quoted for an error message, or a description of it
// when it is too long or not printable to be shown safely.
func quoteValue(v string) string {
	if len(v) > maxQuoted || strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return fmt.Sprintf("the value given (%d characters, not shown in case it is a secret)", len(v))
	}
	return strconv.Quote(v)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		// The value is not quoted: a section given a scalar may be a
		// secret written where its section belongs.
		return "a single value"
	}
	return "an alias"
}

func pathOrTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

type structField struct {
	name string
	typ  reflect.Type
}

// structFields lists t's YAML keys, those of ,inline structs included,
// in field order.
func structFields(t reflect.Type) []structField {
	var out []structField
	for _, f := range yamlFields(t) {
		switch {
		case f.Inline && f.Type.Kind() == reflect.Struct:
			out = append(out, structFields(f.Type)...)
		case !f.Inline:
			out = append(out, structField{name: f.Key, typ: f.Type})
		}
	}
	return out
}

func findField(fields []structField, name string) (structField, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return structField{}, false
}
