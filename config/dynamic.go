package config

import (
	"reflect"
	"slices"
)

// Dynamic is a configuration section whose keys are known only when the
// program runs, such as one section per registered vendor. ConfigView
// returns a pointer to a struct, typically built with reflect.StructOf,
// whose fields point into the section (a pointer field per key); every
// walk over a configuration (the YAML check, environment overrides and
// their names, secrets, check-config's output) goes through that view,
// so a dynamic section gets the same paths, line numbers, suggestions and
// ERASURED_* names as a static one. The section decodes itself from YAML
// (UnmarshalYAML) by decoding into the same view.
//
// ConfigView is called on a zero value too, for its type alone: the
// view's type must not depend on the section's contents.
type Dynamic interface {
	ConfigView() any
}

var dynamicType = reflect.TypeOf((*Dynamic)(nil)).Elem()

// view returns the struct v's ConfigView points to, when v is an
// addressable Dynamic.
func view(v reflect.Value) (reflect.Value, bool) {
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(dynamicType) {
		return reflect.ValueOf(v.Addr().Interface().(Dynamic).ConfigView()).Elem(), true
	}
	return v, false
}

// viewType is the type of t's view, when t is Dynamic.
func viewType(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(dynamicType) {
		return reflect.TypeOf(reflect.New(t).Interface().(Dynamic).ConfigView()).Elem(), true
	}
	return t, false
}

// structMap reports whether v is a map from names to struct pointers, such
// as vendors.http (one declared vendor per key), and returns its keys in
// order: secrets below it are read and checked like a struct's fields.
func structMap(v reflect.Value) ([]reflect.Value, bool) {
	if v.Kind() != reflect.Map || v.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	if e := v.Type().Elem(); e.Kind() != reflect.Pointer || e.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	keys := v.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int {
		switch {
		case a.String() < b.String():
			return -1
		case a.String() > b.String():
			return 1
		}
		return 0
	})
	return keys, true
}
