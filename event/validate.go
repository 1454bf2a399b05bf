package event

// The rules on field values, shared by every form and by Encode: ids,
// identifier names and values, text soundness and RFC 3339 times.

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on the fields, checked by Decode and Encode alike. Sizes are in
// bytes of UTF-8.
const (
	MaxIDBytes              = 256 // event_id, user_id
	MaxIdentifiers          = 32  // entries in identifiers
	MaxIdentifierNameBytes  = 64  // identifier names match ^[a-z0-9_]{1,64}$
	MaxIdentifierValueBytes = 512 // identifier values
	maxTimeBytes            = 64  // far more than any RFC 3339 time needs
)

// checkIdentifier checks entry n (1-based, in input order) of identifiers.
// Errors name the entry by position, not by name: a producer that puts a
// value where a name belongs must not have it copied into a log.
func checkIdentifier(name, value string, n int, field string) *DecodeError {
	switch {
	case name == "":
		return reject(ReasonInvalidField, field, "entry %d: empty name", n)
	case len(name) > MaxIdentifierNameBytes:
		return reject(ReasonInvalidField, field, "entry %d: name is %d bytes, limit %d", n, len(name), MaxIdentifierNameBytes)
	case !validName(name):
		return reject(ReasonInvalidField, field, "entry %d: name is not lowercase letters, digits and underscores", n)
	case value == "":
		return reject(ReasonInvalidField, field, "entry %d: empty value", n)
	}
	if p := textProblem(value, MaxIdentifierValueBytes); p != "" {
		return reject(ReasonInvalidField, field, "entry %d: value %s", n, p)
	}
	return nil
}

// checkUserIDEntry rejects an identifiers entry named user_id that
// disagrees with the event's user_id: Identifier(UserIDField) returns the
// latter, so the entry would be silently ignored.
func checkUserIDEntry(ev *UserDeleted, field string) *DecodeError {
	if v, ok := ev.Identifiers[UserIDField]; ok && v != ev.UserID {
		return reject(ReasonInvalidField, field, "the user_id entry differs from user_id")
	}
	return nil
}

func validName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkID checks a required id-like field (event_id, user_id, the
// CloudEvents id): present, and sound as text.
func checkID(s, field string) *DecodeError {
	if s == "" {
		return reject(ReasonMissingField, field, "required")
	}
	if p := textProblem(s, MaxIDBytes); p != "" {
		return reject(ReasonInvalidField, field, "%s", p)
	}
	return nil
}

// textProblem says what is wrong with s as an id or identifier value, or ""
// if nothing is. It never quotes s.
//
// U+FFFD is rejected because encoding/json substitutes it for an unpaired
// surrogate escape ("\ud800"); a value that went through that substitution
// is no longer the producer's, and a deletion under it would find nobody and
// look successful. Leading or trailing whitespace is rejected for the same
// reason: it is a producer bug that a vendor would answer with "not found".
func textProblem(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("is %d bytes, limit %d", len(s), limit)
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "contains a control character"
		case r == utf8.RuneError:
			return "contains U+FFFD, a replacement for invalid input"
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if isEdgeSpace(first) || isEdgeSpace(last) {
		return "has leading or trailing whitespace"
	}
	return ""
}

// isEdgeSpace is unicode.IsSpace plus U+FEFF (a byte-order mark), which
// makes it the same set as ECMAScript's \s, used by schema.json.
func isEdgeSpace(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }

// parseTime reads an RFC 3339 time (with or without fractional seconds)
// and returns it in UTC. time.Parse alone is looser than RFC 3339 (it takes
// a one-digit hour), so the shape is checked first; and the time must have
// an RFC 3339 form in UTC too (0000-01-01T00:00:00+01:00 does not), or
// Encode could not write the event back.
func parseTime(s, field string) (time.Time, *DecodeError) {
	if len(s) > maxTimeBytes {
		return time.Time{}, reject(ReasonInvalidField, field, "is %d bytes, not an RFC 3339 time", len(s))
	}
	if !rfc3339Shape(s) {
		return time.Time{}, reject(ReasonInvalidField, field, "not an RFC 3339 time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil { // its text quotes s, so it is dropped
		return time.Time{}, reject(ReasonInvalidField, field, "not an RFC 3339 time")
	}
	if t.IsZero() {
		return time.Time{}, reject(ReasonInvalidField, field, "is the zero time")
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, reject(ReasonInvalidField, field, "is outside years 0000 to 9999 in UTC")
	}
	return t, nil
}

// rfc3339Shape reports whether s is laid out as RFC 3339's date-time:
// "2006-01-02T15:04:05", optional fractional seconds, then "Z" or an
// offset. Upper-case T and Z only, as time.Parse requires; time.Parse
// checks the ranges.
func rfc3339Shape(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if c := s[i]; layout[i] == 'd' && (c < '0' || c > '9') || layout[i] != 'd' && c != layout[i] {
			return false
		}
	}
	rest := s[len(layout):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, c := range []byte{rest[1], rest[2], rest[4], rest[5]} {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	return false
}
