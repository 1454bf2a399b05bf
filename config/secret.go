package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Redacted is what a Secret prints as, wherever it is printed.
const Redacted = "[redacted]"

// MaxSecretBytes bounds a secret file.
const MaxSecretBytes = 64 << 10

// Secret holds a credential. It prints, marshals and logs as "[redacted]";
// only Reveal gives the value, and only an adapter building a request should
// call it.
//
// In YAML a secret names where it comes from, never the value itself:
//
//	auth_token: {env: PLIVO_AUTH_TOKEN}
//	auth_token: {file: /var/run/secrets/plivo/auth_token}
//
// An environment override (see Load) may also set it, as NAME=value or
// NAME_FILE=/path.
//
// Decoding only records the reference; Load reads it once the environment
// overrides are applied (an override wins, and an unset variable it
// replaces does not matter), and reports any problem on the field's YAML
// path. A value holding a control character or invalid UTF-8 is refused
// there (line breaks are allowed in a field tagged `secret:"lines"`, which
// holds one credential per line): a stray newline from echo or a CRLF env file makes a credential
// that is wrong at every vendor, and libraries that refuse it (SASLprep)
// quote it in their errors.
type Secret struct {
	// A pointer, so that fmt's %+v of a struct holding a Secret in an
	// unexported field, where fmt cannot call String, prints an address.
	v *secretValue
	// ref is what a YAML document named, until Load resolves it.
	ref *secretRef
}

type secretValue struct {
	// The value is captured by a closure rather than held in a field:
	// fmt cannot call methods through an unexported field, and a verb it
	// deems wrong for a pointer (%s, %q) dumps the pointee's fields, but a
	// func prints as an address whatever the verb.
	value  func() string
	source string // "env NAME", "file PATH", "literal"
	// unread marks a secret Load was told not to read (SkipSecrets):
	// set, but with no value.
	unread bool
}

// secretRef is a secret's YAML form, {env: NAME} or {file: PATH}, or why
// the node was not one (err). It never holds a value.
type secretRef struct {
	env, file string
	line      int
	err       error
}

func newSecret(v, source string) Secret {
	return Secret{v: &secretValue{value: func() string { return v }, source: source}}
}

// NewSecret returns a Secret holding v. Used by tests and the dev stack.
func NewSecret(v string) Secret {
	return newSecret(v, "literal")
}

// SecretFromFile reads a file, such as a mounted Kubernetes secret. One
// trailing newline (LF or CRLF) is dropped, as editors and `kubectl create
// secret --from-file` tend to leave one; Load refuses any other control
// character. Errors do not name the path, which the caller knows: a path
// may be a pasted secret.
func SecretFromFile(path string) (Secret, error) {
	s, err := readSecretFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("reading secret file: %w", err)
	}
	return s, nil
}

// readSecretFile is SecretFromFile with errors that say only what is
// wrong ("no such file or directory"), for a message that already names
// the file.
func readSecretFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return Secret{}, pathless(err)
	}
	defer f.Close()
	// Bounded: a path mistyped as /dev/zero or a log file must fail, not
	// exhaust memory.
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return Secret{}, pathless(err)
	}
	if len(b) > MaxSecretBytes {
		return Secret{}, fmt.Errorf("larger than %d bytes", MaxSecretBytes)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return newSecret(v, "file "+path), nil
}

// pathless drops the path an *fs.PathError quotes, keeping its cause
// (errors.Is(err, fs.ErrNotExist) still holds).
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// unreadSecret is a secret whose source is known and was not read.
func unreadSecret(source string) Secret {
	return Secret{v: &secretValue{value: func() string { return "" }, source: source, unread: true}}
}

// Unread reports whether the secret names a source Load did not read
// (Options.SkipSecrets): it is set, but Reveal is empty, so checks of the
// value itself must pass it by.
func (s Secret) Unread() bool { return s.v != nil && s.v.unread }

// Reveal returns the value; "" for an unread secret.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.value()
}

// IsSet reports whether the secret has a non-empty value, or is unread.
func (s Secret) IsSet() bool { return s.Unread() || s.Reveal() != "" }

// Source says where the value came from ("env NAME", "file PATH"), for
// error messages; it is never the value.
func (s Secret) Source() string {
	if s.v == nil {
		return "unset"
	}
	return s.v.source
}

func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return Redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON redacts, so a config dumped to a log is safe.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML redacts.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText redacts; zerolog and other encoders use it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML records {env: NAME} or {file: PATH} for Load to resolve.
// It never fails: what is wrong (a literal, which would put a credential
// in a ConfigMap or a repository; another key; a name that is no variable
// name) is kept and reported by Load on the field's path, and no message
// quotes the node, which may be the credential pasted in the wrong place.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	ref := &secretRef{line: n.Line}
	*s = Secret{ref: ref}
	if n.Kind != yaml.MappingNode {
		ref.err = errors.New("a secret must be {env: NAME} or {file: PATH}, not a literal value")
		return nil
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || (k.Value != "env" && k.Value != "file") {
			// The key is not shown: {env: X, <the token>: ...} happens.
			ref.err = errors.New("a secret takes only the keys env and file, this one has another (not shown, in case it is the secret)")
			return nil
		}
		if seen[k.Value] {
			ref.err = fmt.Errorf("%s is given twice", k.Value)
			return nil
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
			ref.err = fmt.Errorf("%s must be a name, not a list, mapping or null", k.Value)
			return nil
		}
		if k.Value == "env" {
			ref.env = v.Value
		} else {
			ref.file = v.Value
		}
	}
	switch {
	case ref.env != "" && ref.file != "":
		ref.err = errors.New("a secret takes env or file, not both")
	case ref.env == "" && ref.file == "":
		ref.err = errors.New("a secret must be {env: NAME} or {file: PATH}")
	case ref.env != "" && !validEnvName(ref.env):
		ref.err = errors.New("env must name an environment variable (letters, digits and _, not starting with a digit); the name given is not one and is not shown, in case it is the secret itself")
	}
	return nil
}

// resolve reads what ref names. env is the environment Load uses.
func (r *secretRef) resolve(env map[string]string) (Secret, error) {
	if r.err != nil {
		return Secret{}, r.err
	}
	if r.env != "" {
		v, ok := env[r.env]
		if !ok {
			if conventionalEnvName(r.env) {
				return Secret{}, fmt.Errorf("environment variable %s is not set", r.env)
			}
			// A mixed-case "name" may be a pasted token that happens to
			// be a valid name: keep it out of the message.
			return Secret{}, errors.New("the environment variable named there is not set (its name is not shown: it is not in the usual upper case, and may be the secret itself)")
		}
		return newSecret(v, "env "+r.env), nil
	}
	s, err := readSecretFile(r.file)
	if err != nil {
		return Secret{}, fmt.Errorf("%s: %w", describePath(r.file), err)
	}
	return s, nil
}

// unread is what resolve would return, without reading anything.
func (r *secretRef) unread() (Secret, error) {
	if r.err != nil {
		return Secret{}, r.err
	}
	if r.env != "" {
		return unreadSecret("env " + r.env), nil
	}
	return unreadSecret("file " + r.file), nil
}

// describePath names a secret file in an error: an absolute path is shown,
// anything else may be a value pasted where the path belongs.
func describePath(p string) string {
	if filepath.IsAbs(p) && !strings.ContainsFunc(p, unicode.IsControl) {
		return "file " + p
	}
	return "the file named there (a relative path, not shown in case it is the secret itself)"
}

// validEnvName reports whether name is a POSIX portable variable name.
func validEnvName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// conventionalEnvName reports whether a valid name is also spelled as
// variables conventionally are (upper case, digits, _), so an error may
// show it; API tokens are mostly mixed case or lower-case hex.
func conventionalEnvName(name string) bool {
	return validEnvName(name) && strings.ToUpper(name) == name
}

// checkSecretText refuses a value a credential cannot hold. The message
// says what is wrong and nothing of the value: not the character, not where
// it sits but for "at the end", the one case with an obvious cause. lines
// allows line breaks, for a field tagged `secret:"lines"` that holds one
// credential per line (keys during a rotation).
func checkSecretText(v string, lines bool) error {
	if !utf8.ValidString(v) {
		return errors.New("the value is not valid UTF-8 text")
	}
	for i, r := range v {
		if !unicode.IsControl(r) || (lines && (r == '\n' || r == '\r')) {
			continue
		}
		if strings.TrimRightFunc(v[i:], unicode.IsControl) == "" {
			return errors.New("the value ends with a control character, such as the newline echo or a CRLF file adds; write it with printf '%s' (a mounted file may end in one newline)")
		}
		return errors.New("the value holds a control character (a line break, tab or NUL); a secret must be one line of printable text")
	}
	return nil
}
