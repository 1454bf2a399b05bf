package event

// The strict JSON object reader every form goes through: members in input
// order, duplicate names rejected, case-only differences caught, and
// errors that name positions but never quote input.
//
// The splitter (splitObject and its helpers) is hand-written because
// encoding/json (v1) neither reports duplicate member names nor exposes
// an object's members without allocating per token. encoding/json/v2
// rejects duplicate names by default and its jsontext.Decoder reads
// members cheaply, which would replace both parseObject paths; but as of
// Go 1.26 it still builds only with GOEXPERIMENT=jsonv2, which the module
// cannot require of its builders. Revisit when json/v2 is available
// without the experiment.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
)

// member is one name/value pair of a JSON object.
type member struct {
	name string
	raw  json.RawMessage
}

// parseObject splits the JSON object in data into its members, in input
// order, rejecting anything but one object and duplicate member names
// (encoding/json would keep the last copy; a different reader might keep
// the first). field names the object in errors; a duplicate is named
// (after prefix) only if it is one of known, by its position otherwise.
func parseObject(data []byte, field, prefix string, known []string) ([]member, *DecodeError) {
	if ms, ok := splitObject(data); ok {
		if derr := checkDuplicates(ms, field, prefix, known); derr != nil {
			return nil, derr
		}
		return ms, nil
	}
	return parseObjectStream(data, field, prefix, known)
}

// parseObjectStream is parseObject through json.Decoder's token stream:
// the slow path, kept for what the fast one refuses, since it words the
// syntax errors.
func parseObjectStream(data []byte, field, prefix string, known []string) ([]member, *DecodeError) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, reject(ReasonMalformed, field, "must be a JSON object, not %s", tokenKind(tok))
	}
	var ms []member
	seen := make(map[string]struct{})
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(field, err)
		}
		name, _ := tok.(string) // the decoder only returns strings here
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(field, err)
		}
		if _, dup := seen[name]; dup {
			if slices.Contains(known, name) {
				return nil, reject(ReasonMalformed, prefix+name, "member is repeated")
			}
			return nil, reject(ReasonMalformed, field, "member %d repeats an earlier name", len(ms)+1)
		}
		seen[name] = struct{}{}
		ms = append(ms, member{name: name, raw: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(field, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, reject(ReasonMalformed, field, "data after the JSON object")
	}
	return ms, nil
}

// splitObject is parseObject's fast path, for the common case: data is
// one valid JSON object. json.Valid checks it without allocating, then the
// members are cut out by hand: json.Decoder's token stream, which the
// slow path uses, allocates a syntax error for every member it reads (to
// find where a top-level value ends) and dominated the consumer's
// allocations. Values alias data. It reports false for anything else.
func splitObject(data []byte) ([]member, bool) {
	if !json.Valid(data) {
		return nil, false
	}
	i := skipSpace(data, 0)
	if data[i] != '{' {
		return nil, false
	}
	ms := make([]member, 0, 8)
	i = skipSpace(data, i+1)
	if data[i] == '}' {
		return ms, true
	}
	for {
		// Valid JSON: a member name, a colon, a value, then , or }.
		end := stringEnd(data, i)
		name, ok := unquote(data[i:end])
		if !ok {
			return nil, false
		}
		i = skipSpace(data, skipSpace(data, end)+1)
		end = valueEnd(data, i)
		ms = append(ms, member{name: name, raw: data[i:end:end]})
		i = skipSpace(data, end)
		if data[i] == '}' {
			return ms, true
		}
		i = skipSpace(data, i+1)
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at data[i].
func stringEnd(data []byte, i int) int {
	for j := i + 1; ; j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// valueEnd returns the index just past the value starting at data[i].
func valueEnd(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch data[j] {
			case '"':
				j = stringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
	default: // number, true, false, null
		j := i
		for j < len(data) && !strings.ContainsRune(",}] \t\r\n", rune(data[j])) {
			j++
		}
		return j
	}
}

// checkDuplicates rejects a repeated member name as parseObjectStream
// does.
func checkDuplicates(ms []member, field, prefix string, known []string) *DecodeError {
	var seen map[string]struct{}
	if len(ms) > 8 {
		seen = make(map[string]struct{}, len(ms))
	}
	for i, m := range ms {
		dup := false
		if seen != nil {
			_, dup = seen[m.name]
			seen[m.name] = struct{}{}
		} else {
			for _, e := range ms[:i] {
				if e.name == m.name {
					dup = true
					break
				}
			}
		}
		if dup {
			if slices.Contains(known, m.name) {
				return reject(ReasonMalformed, prefix+m.name, "member is repeated")
			}
			return reject(ReasonMalformed, field, "member %d repeats an earlier name", i+1)
		}
	}
	return nil
}

// checkCase rejects a member whose name differs from a known one only in
// case ("User_ID"): encoding/json would read it as the known one, this
// decoder would ignore it, and a producer would be surprised either way.
func checkCase(ms []member, known []string, prefix string) *DecodeError {
	for _, m := range ms {
		if slices.Contains(known, m.name) {
			continue
		}
		for _, k := range known {
			if strings.EqualFold(m.name, k) {
				return reject(ReasonMalformed, prefix+k, "a member name differs from it only in case")
			}
		}
	}
	return nil
}

func syntaxError(field string, err error) *DecodeError {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		// Its text quotes the offending character; only the offset is kept.
		return reject(ReasonMalformed, field, "not valid JSON, error at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return reject(ReasonMalformed, field, "truncated JSON")
	default:
		return reject(ReasonMalformed, field, "not valid JSON")
	}
}

func find(ms []member, name string) (json.RawMessage, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.raw, true
		}
	}
	return nil, false
}

// present treats a null member as absent, as encoding/json does.
func present(raw json.RawMessage, ok bool) bool {
	return ok && kind(raw) != "null"
}

// optString reads an optional string member: ok is false when it is absent
// or null, and a non-string is malformed.
func optString(ms []member, name, field string) (s string, ok bool, derr *DecodeError) {
	raw, found := find(ms, name)
	if !present(raw, found) {
		return "", false, nil
	}
	if k := kind(raw); k != "string" {
		return "", false, reject(ReasonMalformed, field, "must be a string, not %s", k)
	}
	s, ok = unquote(raw)
	if !ok {
		return "", false, reject(ReasonMalformed, field, "not a valid JSON string")
	}
	return s, true, nil
}

// unquote decodes a JSON string that the decoder has already scanned. Most
// have no escapes, and those are copied out directly (the value was checked
// to be UTF-8); the rest go through encoding/json.
func unquote(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 {
		return string(raw[1 : n-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// reqString reads a required string member: absent, null and "" are all
// missing.
func reqString(ms []member, name, field string) (string, *DecodeError) {
	s, ok, derr := optString(ms, name, field)
	if derr != nil {
		return "", derr
	}
	if !ok || s == "" {
		return "", reject(ReasonMissingField, field, "required")
	}
	return s, nil
}

// kind names the JSON type of a syntactically valid value.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		return "number"
	}
}
