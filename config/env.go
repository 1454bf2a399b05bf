package config

import (
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	secretType   = reflect.TypeOf(Secret{})
	durationType = reflect.TypeOf(time.Duration(0))
)

// ApplyEnv overrides fields of the struct dst points to from environment
// variables. A field's variable is the prefix and its YAML path in upper
// case, joined by underscores, dashes turned to underscores: with prefix
// ERASURED, vendors.plivo.auth_id is ERASURED_VENDORS_PLIVO_AUTH_ID. A
// Secret field also reads NAME_FILE, a path to a file holding the value.
// Durations take Go syntax ("1m30s"), lists are comma-separated. Nil
// pointers to structs are allocated when a variable below them is set.
//
// Every wrong variable is reported, joined (see Join). Variables with the
// prefix that name no field are left alone here: the caller may read only
// a part of the configuration; Load reports them.
func ApplyEnv(dst any, prefix string, environ []string) error {
	return applyEnv(dst, prefix, envMap(environ), false)
}

func envMap(environ []string) map[string]string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func applyEnv(dst any, prefix string, env map[string]string, skipSecrets bool) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("ApplyEnv: want a pointer to a struct, got %T", dst)
	}
	a := envApplier{env: env, skipSecrets: skipSecrets}
	a.applyStruct(rv.Elem(), strings.ToUpper(prefix), "")
	return a.errs.Err()
}

// envApplier walks a configuration, setting what the environment names
// and recording every error on the way.
type envApplier struct {
	env         map[string]string
	skipSecrets bool
	errs        Errors
}

// applyStruct reports whether any variable applied.
func (a *envApplier) applyStruct(v reflect.Value, envPrefix, path string) bool {
	t := v.Type()
	applied := false
	for i, f := range yamlFields(t) {
		fv := v.Field(i)
		fieldEnv, fieldPath := envPrefix, path
		if !f.Inline {
			fieldEnv = joinEnv(envPrefix, f.Key)
			fieldPath = joinPath(path, f.Key)
		}
		if a.applyValue(fv, fieldEnv, fieldPath) {
			applied = true
		}
	}
	return applied
}

func (a *envApplier) applyValue(fv reflect.Value, name, path string) bool {
	env := a.env
	if vv, ok := view(fv); ok {
		return a.applyStruct(vv, name, path)
	}
	if fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Map {
		return false // see envNames
	}
	if fv.Kind() == reflect.Pointer && !fv.IsNil() && fv.Type().Elem().Kind() != reflect.Struct {
		// A dynamic section's view points at its scalars.
		fv = fv.Elem()
	}
	switch {
	case fv.Type() == secretType:
		if val, ok := env[name]; ok {
			fv.Set(reflect.ValueOf(newSecret(val, "env "+name)))
			return true
		}
		if p, ok := env[name+"_FILE"]; ok {
			if a.skipSecrets {
				fv.Set(reflect.ValueOf(unreadSecret("file " + p)))
				return true
			}
			s, err := readSecretFile(p)
			if err != nil {
				a.errs.Invalid(path, "from %s_FILE: %s: %v", name, describePath(p), err)
				return false
			}
			fv.Set(reflect.ValueOf(s))
			return true
		}
		return false
	case fv.Kind() == reflect.Struct:
		return a.applyStruct(fv, name, path)
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
		if !fv.IsNil() {
			return a.applyStruct(fv.Elem(), name, path)
		}
		if !anyWithPrefix(env, name+"_") {
			return false
		}
		// Allocate only if a variable really lands below: a nil section
		// often means "absent", and a look-alike name (PREFIX_PLIVO_X for
		// a sibling field plivo_x) must not conjure it up.
		nv := reflect.New(fv.Type().Elem())
		before := len(a.errs)
		ok := a.applyStruct(nv.Elem(), name, path)
		if ok && len(a.errs) == before {
			fv.Set(nv)
		}
		return ok
	}
	val, ok := env[name]
	if !ok {
		return false
	}
	if err := setScalar(fv, val); err != nil {
		// err does not quote val: a value set in the wrong variable may
		// be a credential.
		a.errs.Invalid(path, "from %s: %v", name, err)
		return false
	}
	return true
}

// envNames lists the variables that set a field of t under prefix, in
// field order: each field's, and a Secret's NAME_FILE too.
func envNames(t reflect.Type, prefix string) []string {
	var out []string
	for _, f := range yamlFields(t) {
		n := prefix
		if !f.Inline {
			n = joinEnv(prefix, f.Key)
		}
		ft := f.Type
		if vt, ok := viewType(ft); ok {
			out = append(out, envNames(vt, n)...)
			continue
		}
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Map {
			// A dynamic view's map of declared entries: named in YAML
			// only, no variable sets it.
			continue
		}
		switch {
		case ft == secretType:
			out = append(out, n, n+"_FILE")
		case ft.Kind() == reflect.Struct:
			out = append(out, envNames(ft, n)...)
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			out = append(out, envNames(ft.Elem(), n)...)
		default:
			out = append(out, n)
		}
	}
	return out
}

// unknownEnv reports each variable named prefix_... that sets no field of
// dst and is not in known: a misspelt override would otherwise leave the
// default in force without a word, where the same typo in YAML is an
// error. The value is never shown.
func unknownEnv(dst any, prefix string, known []string, env map[string]string) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	prefix = strings.ToUpper(prefix)
	names := envNames(rv.Elem().Type(), prefix)
	ok := make(map[string]bool, len(names)+len(known))
	for _, n := range append(names, known...) {
		ok[n] = true
	}
	var bad []string
	for k := range env {
		if strings.HasPrefix(k, prefix+"_") && !ok[k] {
			bad = append(bad, k)
		}
	}
	slices.Sort(bad)
	var errs Errors
	for _, k := range bad {
		msg := "unknown variable: it sets no configuration key" + suggestion(k, names)
		if base, ok := strings.CutSuffix(k, "_FILE"); ok && slices.Contains(names, base) {
			msg = "unknown variable: only a secret has a _FILE form; set " + base + " itself"
		}
		errs.Add(&FieldError{Field: k, Msg: msg})
	}
	return errs.Err()
}

func setScalar(fv reflect.Value, val string) error {
	if fv.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(val))
		if err != nil {
			// time quotes the input: keep only what is wrong with it.
			msg, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "time: "), ` "`)
			return fmt.Errorf("%s (want a duration such as 1m30s)", msg)
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(val)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return numError(err)
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, fv.Type().Bits())
		if err != nil {
			return numError(err)
		}
		fv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, fv.Type().Bits())
		if err != nil {
			return numError(err)
		}
		fv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(strings.TrimSpace(val), fv.Type().Bits())
		if err != nil {
			return numError(err)
		}
		fv.SetFloat(n)
	case reflect.Slice:
		if fv.Type().Elem() == durationType {
			// A list of durations (a retry schedule): "1m,5m,30m".
			var ds []time.Duration
			for _, s := range strings.Split(val, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				d := reflect.New(durationType).Elem()
				if err := setScalar(d, s); err != nil {
					return err
				}
				ds = append(ds, time.Duration(d.Int()))
			}
			fv.Set(reflect.ValueOf(ds))
			return nil
		}
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported list type %s", fv.Type())
		}
		var items []string
		for _, s := range strings.Split(val, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items).Convert(fv.Type()))
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// numError is a strconv error without the input it quotes.
func numError(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("not a valid %s: %w", strings.TrimPrefix(ne.Func, "Parse"), ne.Err)
	}
	return err
}

// resolveSecrets reads every Secret that YAML named ({env: NAME} or
// {file: PATH}) and checks every Secret's text, naming the field by its
// YAML path, and reports every one that fails. With skip, a reference is
// checked but not read. Secrets sit in structs and struct pointers (as
// ApplyEnv walks them), not in lists or maps.
func resolveSecrets(dst any, env map[string]string, skip bool) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	var errs Errors
	resolveStruct(rv.Elem(), "", env, skip, &errs)
	return errs.Err()
}

func resolveStruct(v reflect.Value, path string, env map[string]string, skip bool, errs *Errors) {
	t := v.Type()
	for i, f := range yamlFields(t) {
		fieldPath := path
		if !f.Inline {
			fieldPath = joinPath(path, f.Key)
		}
		fv := v.Field(i)
		if vv, ok := view(fv); ok {
			resolveStruct(vv, fieldPath, env, skip, errs)
			continue
		}
		if fv.Kind() == reflect.Pointer && !fv.IsNil() && fv.Type().Elem().Kind() == reflect.Map {
			fv = fv.Elem()
		}
		if keys, ok := structMap(fv); ok {
			for _, k := range keys {
				if e := fv.MapIndex(k); !e.IsNil() {
					resolveStruct(e.Elem(), joinPath(fieldPath, k.String()), env, skip, errs)
				}
			}
			continue
		}
		switch {
		case fv.Type() == secretType:
			s := fv.Interface().(Secret)
			if ref := s.ref; ref != nil {
				var err error
				if skip {
					s, err = ref.unread()
				} else {
					s, err = ref.resolve(env)
				}
				if err != nil {
					errs.Add(&FieldError{Field: fieldPath, Line: ref.line, Msg: err.Error()})
					fv.Set(reflect.ValueOf(Secret{}))
					continue
				}
				fv.Set(reflect.ValueOf(s))
			}
			if s.Unread() {
				continue
			}
			if err := checkSecretText(s.Reveal(), f.Tag.Get("secret") == "lines"); err != nil {
				errs.Invalid(fieldPath, "from %s: %v", describeSource(s.Source()), err)
			}
		case fv.Kind() == reflect.Struct:
			resolveStruct(fv, fieldPath, env, skip, errs)
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct && !fv.IsNil():
			resolveStruct(fv.Elem(), fieldPath, env, skip, errs)
		}
	}
}

// describeSource is Source for an error message, with a file path shown
// only when describePath would.
func describeSource(src string) string {
	if p, ok := strings.CutPrefix(src, "file "); ok {
		return describePath(p)
	}
	return src
}

func yamlName(f reflect.StructField) (name string, inline bool) {
	tag := f.Tag.Get("yaml")
	name, opts, _ := strings.Cut(tag, ",")
	if strings.Contains(opts, "inline") {
		return "", true
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, false
}

// yamlFields yields the index, YAML key and inline flag of each field of
// struct type t that YAML decodes: exported fields, and embedded structs
// even of unexported type (their exported fields are settable, and yaml
// decodes them with ,inline). Fields tagged `yaml:"-"` are left out. Every
// walk over a configuration struct (environment, secrets, sources, key
// suggestions) goes through it, so they agree on what a field is.
func yamlFields(t reflect.Type) iter.Seq2[int, yamlField] {
	return func(yield func(int, yamlField) bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
				continue
			}
			name, inline := yamlName(f)
			if name == "-" {
				continue
			}
			if !yield(i, yamlField{StructField: f, Key: name, Inline: inline}) {
				return
			}
		}
	}
}

// yamlField is one field yamlFields yields.
type yamlField struct {
	reflect.StructField
	Key    string
	Inline bool
}

func joinEnv(prefix, name string) string {
	n := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if prefix == "" {
		return n
	}
	return prefix + "_" + n
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func anyWithPrefix(env map[string]string, prefix string) bool {
	for k := range env {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
