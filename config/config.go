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
	"reflect"
	"regexp"
	"slices"
	"strings"

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
// such as "vendors.plivo.auth_id", or for an environment variable that
// names no field, the variable. Line is the YAML line when known.
type FieldError struct {
	Field string
	Line  int
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Field, e.Line, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns a *FieldError for field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Nest prefixes the field of each *FieldError in err (one, or several
// joined by Join) with prefix, so a section's Validate can name its fields
// relative to itself and the caller adds where the section sits. Other
// errors become a FieldError on prefix.
func Nest(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if errs := Flatten(err); len(errs) > 1 {
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = Nest(prefix, e)
		}
		return Join(out...)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		f := prefix
		if fe.Field != "" {
			f = prefix + "." + fe.Field
		}
		return &FieldError{Field: f, Line: fe.Line, Msg: fe.Msg}
	}
	return &FieldError{Field: prefix, Msg: err.Error()}
}

// Join joins errs as errors.Join does, dropping nils and flattening joins
// within, so that a section's Validate can report every wrong field at
// once and Nest and Flatten see one flat list. One error is returned as it
// is (errors.As finds its *FieldError directly); none gives nil.
func Join(errs ...error) error {
	var flat []error
	for _, e := range errs {
		flat = append(flat, Flatten(e)...)
	}
	switch len(flat) {
	case 0:
		return nil
	case 1:
		return flat[0]
	}
	return errors.Join(flat...)
}

// Flatten lists the errors a Join holds, in order; one error is a list of
// one, nil an empty list. Command-line tools print one per line.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Errors collects a section's errors: Add each check's result, return Err.
type Errors []error

// Add records err unless it is nil.
func (es *Errors) Add(err error) {
	if err != nil {
		*es = append(*es, Flatten(err)...)
	}
}

// Invalid records a FieldError, as config.Invalid builds it.
func (es *Errors) Invalid(field, format string, args ...any) {
	es.Add(Invalid(field, format, args...))
}

// Err is every error recorded, joined (see Join), or nil.
func (es Errors) Err() error { return Join(es...) }

// Options control Load.
type Options struct {
	// EnvPrefix names the environment overrides; see ApplyEnv. When it is
	// set, a variable with the prefix that names no field is an error
	// (with the nearest name as a suggestion), as an unknown YAML key is.
	EnvPrefix string
	// KnownEnv are variables with EnvPrefix that name no field but are
	// read elsewhere (the file's path, a test harness's switches), so are
	// not unknown.
	KnownEnv []string
	// Environ returns the environment; os.Environ when nil (tests set it).
	Environ func() []string
	// SkipSecrets leaves secret files and {env: NAME} variables unread:
	// each secret that names a source counts as set, with no value (see
	// Secret.Unread), so the rest of the configuration can be checked on a
	// machine without the secrets. What a reference says is still checked.
	// Never for a configuration that is going to be used.
	SkipSecrets bool
}

// Load reads YAML from path into dst, applies environment overrides,
// resolves the secrets and validates dst when it is a Validator. dst must
// hold the defaults on entry (start from the section's DefaultConfig):
// the document overwrites only the keys it has, so fields it leaves out
// keep their defaults, nested sections included, while a list or a map it
// gives replaces the default's. path "" reads no file. Unknown YAML keys
// are errors: a typo must not silently leave a default in force.
//
// Every mistake is reported at once, joined (see Join and Flatten): the
// file's, the environment's, the secrets' and Validate's, each a
// *FieldError on its YAML path, and all wrap ErrInvalid. A Validate error
// on a field already reported (a value the file got wrong, a secret that
// could not be read) is dropped: it would only be about the default or the
// empty secret left in its place ("must be set").
func Load(path string, dst any, opts Options) error {
	var errs Errors
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		defer f.Close()
		if err := Decode(f, dst); err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				// Not YAML, or too large: nothing was decoded.
				return fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
			}
			errs.Add(err)
		}
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ
	}
	env := envMap(environ())
	errs.Add(applyEnv(dst, opts.EnvPrefix, env, opts.SkipSecrets))
	if opts.EnvPrefix != "" {
		errs.Add(unknownEnv(dst, opts.EnvPrefix, opts.KnownEnv, env))
	}
	errs.Add(resolveSecrets(dst, env, opts.SkipSecrets))
	if v, ok := dst.(Validator); ok {
		earlier := slices.Clone(errs)
		for _, err := range Flatten(v.Validate()) {
			if !errors.Is(err, ErrInvalid) {
				err = fmt.Errorf("%w: %w", ErrInvalid, err)
			}
			if !coveredBy(err, earlier) {
				errs.Add(err)
			}
		}
	}
	return errs.Err()
}

// coveredBy reports whether err is a FieldError on a field (or below one)
// that one of earlier names.
func coveredBy(err error, earlier []error) bool {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return false
	}
	for _, e := range earlier {
		var d *FieldError
		if errors.As(e, &d) && (fe.Field == d.Field || strings.HasPrefix(fe.Field, d.Field+".") || strings.HasPrefix(fe.Field, d.Field+"[")) {
			return true
		}
	}
	return false
}

// MaxFileBytes bounds a configuration file.
const MaxFileBytes = 4 << 20

// Decode reads one YAML document strictly into dst. An empty document, or
// one holding only comments, leaves dst as it was. Secrets are only
// recorded; Load resolves them. Every unknown key and every value of the
// wrong kind is reported, joined (see Join), each a *FieldError on its
// YAML path with its line; what the document gets right is decoded all
// the same, so Load can go on to report the other mistakes too.
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
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			// Comments only: no document at all.
			return nil
		}
		// Not YAML at all ("yaml: line 3: mapping values are not
		// allowed in this context"): nothing to walk.
		return fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var errs Errors
	if rv := reflect.ValueOf(dst); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		checkNode(&doc, rv.Elem().Type(), "", &errs)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	// yaml decodes what it can and reports the rest at the end, so dst
	// holds every correct key even when errs is not empty.
	yerr := dec.Decode(dst)
	if len(errs) > 0 {
		return errs.Err()
	}
	if yerr != nil {
		// checkNode should have caught it; keep yaml's words, without
		// the Go types they name.
		return errors.New(goTypes.ReplaceAllString(strings.TrimPrefix(yerr.Error(), "yaml: "), ""))
	}
	return nil
}

// goTypes matches the Go types in a yaml error message.
var goTypes = regexp.MustCompile(` (in type|into) [\w.*\[\]]+`)
