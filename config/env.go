package config

import (
	"errors"
	"fmt"
	"reflect"
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
func ApplyEnv(dst any, prefix string, environ []string) error {
	return applyEnv(dst, prefix, envMap(environ))
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

func applyEnv(dst any, prefix string, env map[string]string) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("ApplyEnv: want a pointer to a struct, got %T", dst)
	}
	_, err := applyStruct(rv.Elem(), strings.ToUpper(prefix), "", env)
	return err
}

// applyStruct reports whether any variable applied.
func applyStruct(v reflect.Value, envPrefix, path string, env map[string]string) (bool, error) {
	t := v.Type()
	applied := false
	for i := range t.NumField() {
		f := t.Field(i)
		// An embedded struct of unexported type still has exported,
		// settable fields, and yaml decodes them (with ,inline); so must
		// the environment.
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		name, inline := yamlName(f)
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		fieldEnv, fieldPath := envPrefix, path
		if !inline {
			fieldEnv = joinEnv(envPrefix, name)
			fieldPath = joinPath(path, name)
		}
		ok, err := applyValue(fv, fieldEnv, fieldPath, env)
		if err != nil {
			return applied, err
		}
		applied = applied || ok
	}
	return applied, nil
}

func applyValue(fv reflect.Value, name, path string, env map[string]string) (bool, error) {
	switch {
	case fv.Type() == secretType:
		if val, ok := env[name]; ok {
			fv.Set(reflect.ValueOf(newSecret(val, "env "+name)))
			return true, nil
		}
		if p, ok := env[name+"_FILE"]; ok {
			s, err := SecretFromFile(p)
			if err != nil {
				return false, Invalid(path, "%s_FILE: %v", name, err)
			}
			fv.Set(reflect.ValueOf(s))
			return true, nil
		}
		return false, nil
	case fv.Kind() == reflect.Struct:
		return applyStruct(fv, name, path, env)
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct:
		if !fv.IsNil() {
			return applyStruct(fv.Elem(), name, path, env)
		}
		if !anyWithPrefix(env, name+"_") {
			return false, nil
		}
		// Allocate only if a variable really lands below: a nil section
		// often means "absent", and a look-alike name (PREFIX_PLIVO_X for
		// a sibling field plivo_x) must not conjure it up.
		nv := reflect.New(fv.Type().Elem())
		ok, err := applyStruct(nv.Elem(), name, path, env)
		if ok && err == nil {
			fv.Set(nv)
		}
		return ok, err
	}
	val, ok := env[name]
	if !ok {
		return false, nil
	}
	if err := setScalar(fv, val); err != nil {
		// err does not quote val: a value set in the wrong variable may
		// be a credential.
		return false, Invalid(path, "from %s: %v", name, err)
	}
	return true, nil
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
// YAML path. Secrets sit in structs and struct pointers (as ApplyEnv walks
// them), not in lists or maps.
func resolveSecrets(dst any, env map[string]string) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	return resolveStruct(rv.Elem(), "", env)
}

func resolveStruct(v reflect.Value, path string, env map[string]string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		name, inline := yamlName(f)
		if name == "-" {
			continue
		}
		fieldPath := path
		if !inline {
			fieldPath = joinPath(path, name)
		}
		fv := v.Field(i)
		switch {
		case fv.Type() == secretType:
			s := fv.Interface().(Secret)
			if s.ref != nil {
				r, err := s.ref.resolve(env)
				if err != nil {
					return Invalid(fieldPath, "%v", err)
				}
				s = r
				fv.Set(reflect.ValueOf(s))
			}
			if err := checkSecretText(s.Reveal(), f.Tag.Get("secret") == "lines"); err != nil {
				return Invalid(fieldPath, "from %s: %v", describeSource(s.Source()), err)
			}
		case fv.Kind() == reflect.Struct:
			if err := resolveStruct(fv, fieldPath, env); err != nil {
				return err
			}
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Struct && !fv.IsNil():
			if err := resolveStruct(fv.Elem(), fieldPath, env); err != nil {
				return err
			}
		}
	}
	return nil
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
