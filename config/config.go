// Package config loads erasured's configuration: defaults, then a YAML
// file over them, then environment overrides, then validation whose
// messages name the offending field as it is spelled in YAML. Each package
// owns its own Config struct with a DefaultConfig constructor and a
// Validate method; this package only provides the mechanics and the Secret
// type, so it imports none of them.
//
// Defaults come first, as a value the YAML overwrites (as Prometheus does
// with DefaultQueueConfig), not as zero fields filled in afterwards: then a
// zero the operator wrote, such as randomization_factor: 0, stays zero, and
// a zero that is not a valid setting fails validation by name instead of
// silently becoming the default.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// Validator is a configuration section that can check itself.
type Validator interface {
	Validate() error
}

// ErrInvalid is wrapped by every validation error, so callers can tell bad
// configuration (exit code 2) from a runtime failure.
var ErrInvalid = errors.New("invalid configuration")

// FieldError says which field is wrong and why. Field is the YAML path,
// such as "vendors.plivo.auth_id".
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *FieldError for field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Nest prefixes the field of a *FieldError with prefix, so a section's
// Validate can name its fields relative to itself and the caller adds where
// the section sits. Other errors become a FieldError on prefix.
func Nest(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		f := prefix
		if fe.Field != "" {
			f = prefix + "." + fe.Field
		}
		return &FieldError{Field: f, Msg: fe.Msg}
	}
	return &FieldError{Field: prefix, Msg: err.Error()}
}

// Options control Load.
type Options struct {
	// EnvPrefix names the environment overrides; see ApplyEnv.
	EnvPrefix string
	// Environ returns the environment; os.Environ when nil (tests set it).
	Environ func() []string
}

// Load reads YAML from path into dst, applies environment overrides,
// resolves the secrets and validates dst when it is a Validator. dst must
// hold the defaults on entry (start from the section's DefaultConfig):
// the document overwrites only the keys it has, so fields it leaves out
// keep their defaults, nested sections included, while a list or a map it
// gives replaces the default's. path "" reads no file. Unknown YAML keys
// are errors: a typo must not silently leave a default in force.
func Load(path string, dst any, opts Options) error {
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		defer f.Close()
		if err := Decode(f, dst); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
		}
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ
	}
	env := envMap(environ())
	if err := applyEnv(dst, opts.EnvPrefix, env); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := resolveSecrets(dst, env); err != nil {
		return err
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			if !errors.Is(err, ErrInvalid) {
				err = fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			return err
		}
	}
	return nil
}

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 4 << 20

// Decode reads one YAML document strictly into dst. An empty document, or
// one holding only comments, leaves dst as it was. Secrets are only
// recorded; Load resolves them.
func Decode(r io.Reader, dst any) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return err
	}
	if len(b) > MaxFileBytes {
		// A longer file cut at a line boundary would parse and silently
		// lose its tail.
		return fmt.Errorf("configuration is larger than %d bytes", MaxFileBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil {
		if errors.Is(err, io.EOF) {
			// Comments only: no document at all.
			return nil
		}
		return err
	}
	return nil
}
