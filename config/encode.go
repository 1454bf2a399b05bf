package config

import (
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EncodeWithSources writes v as YAML, as yaml.Marshal would, except for
// its Secrets: one read from the environment or a file is written as
// where it came from ({env: NAME} or {file: PATH}), never its value, and
// an unset one is left out, so that what check-config prints loads again.
// A source that error messages would not show (a relative path, a
// mixed-case variable name: either may be the secret pasted in the wrong
// place) and a literal value (the dev stack's) stay "[redacted]".
func EncodeWithSources(w io.Writer, v any) error {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return err
	}
	sourceNodes(&n, reflect.ValueOf(v))
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// sourceNodes rewrites the Secrets in n, the encoding of v.
func sourceNodes(n *yaml.Node, v reflect.Value) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if vv, ok := view(v); ok {
		sourceNodes(n, vv)
		return
	}
	if keys, ok := structMap(v); ok && n.Kind == yaml.MappingNode {
		for _, key := range keys {
			if k := keyIndex(n, key.String()); k >= 0 {
				sourceNodes(n.Content[k+1], v.MapIndex(key))
			}
		}
		return
	}
	if v.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return
	}
	drop := map[int]bool{}
	t := v.Type()
	for i, f := range yamlFields(t) {
		fv := v.Field(i)
		if f.Inline {
			// The embedded struct's keys sit in this mapping.
			sourceNodes(n, fv)
			continue
		}
		k := keyIndex(n, f.Key)
		if k < 0 {
			continue
		}
		if fv.Type() != secretType {
			sourceNodes(n.Content[k+1], fv)
			continue
		}
		s := fv.Interface().(Secret)
		switch ref := sourceNode(s); {
		case ref != nil:
			n.Content[k+1] = ref
		case !s.IsSet():
			drop[k] = true
		}
	}
	if len(drop) > 0 {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !drop[i] {
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
	}
}

// sourceNode is s's {env: NAME} or {file: PATH}, or nil when it has none
// that may be shown.
func sourceNode(s Secret) *yaml.Node {
	var key, val string
	if name, ok := strings.CutPrefix(s.Source(), "env "); ok && conventionalEnvName(name) {
		key, val = "env", name
	} else if p, ok := strings.CutPrefix(s.Source(), "file "); ok && describePath(p) == "file "+p {
		key, val = "file", p
	} else {
		return nil
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: key},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: val},
	}}
}

func keyIndex(n *yaml.Node, name string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == name {
			return i
		}
	}
	return -1
}
