package httpvendor

import (
	"errors"
	"fmt"
	"strings"
)

// A template is text with placeholders: {event_id}, the event's id, and
// {identifiers.NAME}, the event's identifier NAME. Any other "{" or "}"
// is an error, so a typo never goes to the vendor as literal text.
type template []part

// part is literal text, or a placeholder when field is set.
type part struct {
	lit   string
	field string // "event_id" or an identifier's name
	ident bool   // field names an identifier
}

// EventIDField is the placeholder naming the event's id.
const EventIDField = "event_id"

const identPrefix = "identifiers."

// parseTemplate parses s. Errors say what is wrong without quoting s
// beyond the placeholder at fault.
func parseTemplate(s string) (template, error) {
	var t template
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			t = append(t, part{lit: s})
			break
		}
		if s[i] == '}' {
			return nil, errors.New(`"}" without "{"; placeholders are {event_id} and {identifiers.NAME}`)
		}
		if i > 0 {
			t = append(t, part{lit: s[:i]})
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, errors.New(`"{" without "}"`)
		}
		name := s[i+1 : i+end]
		switch {
		case name == EventIDField:
			t = append(t, part{field: name})
		case strings.HasPrefix(name, identPrefix) && validIdent(name[len(identPrefix):]):
			t = append(t, part{field: name[len(identPrefix):], ident: true})
		default:
			if len(name) > 40 || strings.ContainsAny(name, "{\n") {
				return nil, errors.New("unknown placeholder; placeholders are {event_id} and {identifiers.NAME}")
			}
			return nil, fmt.Errorf("unknown placeholder {%s}; placeholders are {event_id} and {identifiers.NAME}", name)
		}
		if n := len(t); n > 1 && t[n-2].field != "" {
			// {a}{b} could not be told apart in the sandbox's match.
			return nil, errors.New("two placeholders need literal text between them")
		}
		s = s[i+end+1:]
	}
	return t, nil
}

// validIdent is the form of an identifier's name (event identifiers are
// letters, digits, _, - and .).
func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// fields lists the placeholders' fields, identifiers only when ident.
func (t template) fields(ident bool) []string {
	var out []string
	for _, p := range t {
		if p.field != "" && p.ident == ident {
			out = append(out, p.field)
		}
	}
	return out
}

// render fills t, each value passed through escape.
func (t template) render(value func(p part) (string, error)) (string, error) {
	var b strings.Builder
	for _, p := range t {
		if p.field == "" {
			b.WriteString(p.lit)
			continue
		}
		v, err := value(p)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// match is render's inverse, for the sandbox: it reports whether s is t
// filled in, each value unescaped and checked with unescape, and records
// each placeholder's value in got (a field seen twice must agree).
func (t template) match(s string, unescape func(string) (string, bool), got map[string]string) bool {
	for i, p := range t {
		if p.field == "" {
			rest, ok := strings.CutPrefix(s, p.lit)
			if !ok {
				return false
			}
			s = rest
			continue
		}
		// A value runs to the next literal's first occurrence, or to
		// the end.
		end := len(s)
		if i+1 < len(t) {
			end = strings.Index(s, t[i+1].lit)
			if end < 0 {
				return false
			}
		}
		v, ok := unescape(s[:end])
		if !ok || v == "" {
			return false
		}
		key := p.key()
		if prev, seen := got[key]; seen && prev != v {
			return false
		}
		got[key] = v
		s = s[end:]
	}
	return s == ""
}

// key names p's field in match's map: identifiers by name, the event id
// apart.
func (p part) key() string {
	if p.ident {
		return identPrefix + p.field
	}
	return p.field
}
