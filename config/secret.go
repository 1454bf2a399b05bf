package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

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
type Secret struct {
	// A pointer, so that fmt's %+v of a struct holding a Secret in an
	// unexported field, where fmt cannot call String, prints an address.
	v *secretValue
}

type secretValue struct {
	// The value is captured by a closure rather than held in a field:
	// fmt cannot call methods through an unexported field, and a verb it
	// deems wrong for a pointer (%s, %q) dumps the pointee's fields, but a
	// func prints as an address whatever the verb.
	value  func() string
	source string // "env NAME", "file PATH", "literal"
}

func newSecret(v, source string) Secret {
	return Secret{v: &secretValue{value: func() string { return v }, source: source}}
}

// NewSecret returns a Secret holding v. Used by tests and the dev stack.
func NewSecret(v string) Secret {
	return newSecret(v, "literal")
}

// SecretFromEnv reads the named environment variable.
func SecretFromEnv(name string) (Secret, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return Secret{}, fmt.Errorf("environment variable %s is not set", name)
	}
	return newSecret(v, "env "+name), nil
}

// SecretFromFile reads a file, such as a mounted Kubernetes secret. One
// trailing newline is dropped, as editors and `kubectl create secret
// --from-file` tend to leave one.
func SecretFromFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		// The error names the path, never contents.
		return Secret{}, fmt.Errorf("reading secret file: %w", err)
	}
	defer f.Close()
	// Bounded: a path mistyped as /dev/zero or a log file must fail, not
	// exhaust memory.
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretBytes+1))
	if err != nil {
		return Secret{}, fmt.Errorf("reading secret file: %w", err)
	}
	if len(b) > MaxSecretBytes {
		return Secret{}, fmt.Errorf("reading secret file %s: larger than %d bytes", path, MaxSecretBytes)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	return newSecret(v, "file "+path), nil
}

// Reveal returns the value.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.value()
}

// IsSet reports whether the secret has a non-empty value.
func (s Secret) IsSet() bool { return s.Reveal() != "" }

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

// UnmarshalYAML accepts {env: NAME} or {file: PATH} and refuses a literal,
// so that credentials never sit in a ConfigMap or a repository.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a secret must be {env: NAME} or {file: PATH}, not a literal value", n.Line)
	}
	var ref struct {
		Env  string `yaml:"env"`
		File string `yaml:"file"`
	}
	if err := n.Decode(&ref); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	var err error
	switch {
	case ref.Env != "" && ref.File != "":
		return fmt.Errorf("line %d: a secret takes env or file, not both", n.Line)
	case ref.Env != "":
		*s, err = SecretFromEnv(ref.Env)
	case ref.File != "":
		*s, err = SecretFromFile(ref.File)
	default:
		return fmt.Errorf("line %d: a secret must be {env: NAME} or {file: PATH}", n.Line)
	}
	return err
}
