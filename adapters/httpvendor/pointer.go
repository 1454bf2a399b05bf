package httpvendor

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// pointer is a parsed JSON Pointer (RFC 6901): the reference tokens, "~1"
// and "~0" already decoded. The empty pointer is the whole document.
type pointer []string

// parsePointer parses s. Every "~" must start "~0" or "~1".
func parsePointer(s string) (pointer, error) {
	if s == "" {
		return pointer{}, nil
	}
	if s[0] != '/' {
		return nil, errors.New(`a JSON pointer starts with "/" (such as /error/code)`)
	}
	toks := strings.Split(s[1:], "/")
	for i, tok := range toks {
		for j := 0; j < len(tok); j++ {
			if tok[j] == '~' && (j+1 == len(tok) || (tok[j+1] != '0' && tok[j+1] != '1')) {
				return nil, errors.New(`"~" in a JSON pointer must be "~0" (for ~) or "~1" (for /)`)
			}
		}
		// ~1 first, then ~0: "~01" is "~1" literally.
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

// String is p in RFC 6901 form.
func (p pointer) String() string {
	var b strings.Builder
	for _, tok := range p {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// lookup finds p in doc, a value json.Decoder produced with UseNumber.
func (p pointer) lookup(doc any) (any, bool) {
	for _, tok := range p {
		switch v := doc.(type) {
		case map[string]any:
			e, ok := v[tok]
			if !ok {
				return nil, false
			}
			doc = e
		case []any:
			// RFC 6901: decimal, no leading zero.
			if tok == "" || (len(tok) > 1 && tok[0] == '0') {
				return nil, false
			}
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			doc = v[i]
		default:
			return nil, false
		}
	}
	return doc, true
}

// scalarText is how a response table's code compares with the value at a
// pointer: a string as itself, a number as written, true, false, null.
// An object or a list matches no code.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case nil:
		return "null", true
	}
	return "", false
}

// build returns a document in which p holds value, for the sandbox's
// answers: a token that is an array index makes a list (the other
// elements null), any other an object.
func (p pointer) build(value any) any {
	if len(p) == 0 {
		return value
	}
	inner := p[1:].build(value)
	if i, err := strconv.Atoi(p[0]); err == nil && i >= 0 && i < 16 && strconv.Itoa(i) == p[0] {
		l := make([]any, i+1)
		l[i] = inner
		return l
	}
	return map[string]any{p[0]: inner}
}
