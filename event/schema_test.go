package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// There is no JSON Schema validator among the dependencies, so these tests
// check schema.json against the code piece by piece: its member names and
// required list against the struct tags, its limits against the constants,
// its patterns (translated to RE2) against Decode, and its required list
// against every plain-form example in decodeCases.

type schemaDoc struct {
	Schema     string   `json:"$schema"`
	Type       string   `json:"type"`
	Required   []string `json:"required"`
	Properties map[string]struct {
		Ref                  string `json:"$ref"`
		MaxProperties        int    `json:"maxProperties"`
		PropertyNames        struct{ Pattern string }
		AdditionalProperties struct {
			Ref string `json:"$ref"`
		} `json:"additionalProperties"`
	} `json:"properties"`
	Defs map[string]struct {
		Type      string `json:"type"`
		MinLength int    `json:"minLength"`
		MaxLength int    `json:"maxLength"`
		Pattern   string `json:"pattern"`
	} `json:"$defs"`
}

func loadSchema(t *testing.T) schemaDoc {
	t.Helper()
	b, err := os.ReadFile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s schemaDoc
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	return s
}

// jsonTags returns a struct's JSON member names, and those not marked
// omitempty.
func jsonTags(v any) (names, required []string) {
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, name)
		}
	}
	return names, required
}

func TestSchemaMatchesStruct(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Type != "object" {
		t.Errorf("$schema %q, type %q", s.Schema, s.Type)
	}
	names, required := jsonTags(UserDeleted{})
	var props []string
	for p := range s.Properties {
		props = append(props, p)
	}
	sort.Strings(props)
	sorted := slices.Sorted(slices.Values(names))
	if !slices.Equal(props, sorted) {
		t.Errorf("schema properties %q, struct tags %q", props, sorted)
	}
	if !slices.Equal(s.Required, required) {
		t.Errorf("schema required %q, struct fields without omitempty %q", s.Required, required)
	}
	// Encode writes through its own struct; it must use the same names.
	wireNames, wireRequired := jsonTags(wire{})
	if !slices.Equal(wireNames, names) || !slices.Equal(wireRequired, required) {
		t.Errorf("Encode's tags %q (required %q) differ from UserDeleted's", wireNames, wireRequired)
	}
}

func TestSchemaLimits(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"event_id $ref", s.Properties["event_id"].Ref, "#/$defs/id"},
		{"user_id $ref", s.Properties["user_id"].Ref, "#/$defs/id"},
		{"id minLength", s.Defs["id"].MinLength, 1},
		{"id maxLength", s.Defs["id"].MaxLength, MaxIDBytes},
		{"identifiers maxProperties", s.Properties["identifiers"].MaxProperties, MaxIdentifiers},
		{"identifiers propertyNames", s.Properties["identifiers"].PropertyNames.Pattern, fmt.Sprintf("^[a-z0-9_]{1,%d}$", MaxIdentifierNameBytes)},
		{"identifiers values", s.Properties["identifiers"].AdditionalProperties.Ref, "#/$defs/identifierValue"},
		{"identifierValue minLength", s.Defs["identifierValue"].MinLength, 1},
		{"identifierValue maxLength", s.Defs["identifierValue"].MaxLength, MaxIdentifierValueBytes},
	} {
		if c.got != c.want {
			t.Errorf("schema %s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

// re2 translates the ECMAScript patterns schema.json uses into RE2: \uXXXX
// escapes, and \s (only ever inside a character class there) spelled out as
// ECMAScript defines it: WhiteSpace (tab, VT, FF, U+FEFF, category Zs) and
// LineTerminator (LF, CR, U+2028, U+2029).
func re2(pattern string) *regexp.Regexp {
	const ecmaSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}\x{feff}\x{2028}\x{2029}`
	p := strings.ReplaceAll(pattern, `\s`, ecmaSpace)
	p = regexp.MustCompile(`\\u([0-9a-fA-F]{4})`).ReplaceAllString(p, `\x{$1}`)
	return regexp.MustCompile(p)
}

func TestSchemaPatternsAgreeWithDecode(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	texts := []string{
		testUserID, "a", "é", "🙂", "Ada King Lovelace", "用户-42", "<&>\"'\\",
		"", " ", " lead", "trail ", "x\u00a0", "\ufeffx", "x\u2003", "\u3000x",
		"in\tner", "x\u0085y", "x\u007fy", "x\u0000y", "x\u009fy", "x\uFFFDy", "x\u2028y",
		"inner\u00a0nbsp", "inner\ufeffbom",
	}
	for _, def := range []string{"id", "identifierValue"} {
		re := re2(s.Defs[def].Pattern)
		for _, text := range texts {
			var value string
			if def == "id" {
				value = plain("user_id", q(text), "identifiers", absent)
			} else {
				value = plain("identifiers", object([]pair{{"email", q(text)}}))
			}
			_, err := Decode(nil, []byte(value), nil, DecodeOptions{})
			if schemaOK, decodeOK := re.MatchString(text), err == nil; schemaOK != decodeOK {
				t.Errorf("%s %q: schema pattern accepts: %v, Decode accepts: %v (%v)", def, text, schemaOK, decodeOK, err)
			}
		}
	}
	nameRE := re2(s.Properties["identifiers"].PropertyNames.Pattern)
	for _, name := range []string{"email", "a", "plivo_profile_uuid", "x_1", strings.Repeat("n", 64),
		"", "Email", "e-mail", "émail", "x y", strings.Repeat("n", 65)} {
		value := plain("identifiers", object([]pair{{name, q("v")}}))
		_, err := Decode(nil, []byte(value), nil, DecodeOptions{})
		if schemaOK, decodeOK := nameRE.MatchString(name), err == nil; schemaOK != decodeOK {
			t.Errorf("identifier name %q: schema accepts: %v, Decode accepts: %v (%v)", name, schemaOK, decodeOK, err)
		}
	}
}

// TestSchemaRequiredAgreesWithDecode runs every plain-form example of the
// decode table through the schema's required list: an example the schema
// rejects for a missing member is rejected by Decode, and Decode's
// missing_field names a member the schema requires and the example lacks
// (or has as null or "", which the schema's type and minLength reject).
func TestSchemaRequiredAgreesWithDecode(t *testing.T) {
	t.Parallel()
	s := loadSchema(t)
	checked := 0
	for _, tc := range decodeCases() {
		if tc.format != fmtPlain {
			continue
		}
		var m map[string]any
		if json.Unmarshal(tc.valueBytes(), &m) != nil || m == nil {
			continue // not a JSON object: the schema's "type" decides, not "required"
		}
		checked++
		var missing []string
		for _, r := range s.Required {
			if _, ok := m[r]; !ok {
				missing = append(missing, r)
			}
		}
		_, err := Decode(tc.key, tc.valueBytes(), tc.headers, tc.opts)
		var de *DecodeError
		errors.As(err, &de)
		switch {
		case len(missing) > 0 && err == nil:
			t.Errorf("%s: schema requires %q, Decode accepted", tc.name, missing)
		case err == nil:
			for _, r := range s.Required {
				if v, ok := m[r].(string); !ok || v == "" {
					t.Errorf("%s: Decode accepted %s = %v", tc.name, r, m[r])
				}
			}
		case de.Reason == ReasonMissingField:
			if !slices.Contains(s.Required, de.Field) {
				t.Errorf("%s: Decode says %s is missing; the schema does not require it", tc.name, de.Field)
			} else if v, ok := m[de.Field]; ok && v != nil && v != "" {
				t.Errorf("%s: Decode says %s is missing, but it is %v", tc.name, de.Field, v)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d plain examples checked", checked)
	}
}
