package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// plugin is a section a registry would supply.
type plugin struct {
	Enabled bool   `yaml:"enabled"`
	Host    string `yaml:"host"`
	Token   Secret `yaml:"token"`
}

// plugins is a Dynamic section: one key per name known at run time, plus
// a static count and a map of declared entries.
type plugins struct {
	byName   map[string]*plugin
	Declared map[string]*plugin
	Limit    int
}

var pluginNames = []string{"alpha", "beta"}

func (p *plugins) ConfigView() any {
	if p.byName == nil {
		p.byName = map[string]*plugin{}
		for _, n := range pluginNames {
			p.byName[n] = &plugin{Host: n + ".example"}
		}
	}
	var fields []reflect.StructField
	for i, n := range pluginNames {
		fields = append(fields, reflect.StructField{Name: "P" + string(rune('A'+i)), Type: reflect.TypeOf(p.byName[n]), Tag: reflect.StructTag(`yaml:"` + n + `"`)})
	}
	fields = append(fields,
		reflect.StructField{Name: "Declared", Type: reflect.TypeOf(&p.Declared), Tag: `yaml:"declared"`},
		reflect.StructField{Name: "Limit", Type: reflect.TypeOf(&p.Limit), Tag: `yaml:"limit"`})
	v := reflect.New(reflect.StructOf(fields)).Elem()
	for i, n := range pluginNames {
		v.Field(i).Set(reflect.ValueOf(p.byName[n]))
	}
	v.Field(len(pluginNames)).Set(reflect.ValueOf(&p.Declared))
	v.Field(len(pluginNames) + 1).Set(reflect.ValueOf(&p.Limit))
	return v.Addr().Interface()
}

func (p *plugins) UnmarshalYAML(n *yaml.Node) error { return n.Decode(p.ConfigView()) }
func (p plugins) MarshalYAML() (any, error)         { return p.ConfigView(), nil }

type withPlugins struct {
	Name    string  `yaml:"name"`
	Plugins plugins `yaml:"plugins"`
}

// TestDynamicSection: a Dynamic section is checked, overridden from the
// environment, has its secrets read (in a map of declared entries too)
// and is printed with their sources, like a static one.
func TestDynamicSection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(doc string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func() []string {
		return []string{"TOK=s3cret-token", "APP_PLUGINS_BETA_HOST=b.example", "APP_PLUGINS_LIMIT=7"}
	}

	var bad withPlugins
	err := Load(write("plugins:\n  alpa:\n    enabled: true\n  beta:\n    enabled: maybe\n  declared:\n    x: {hots: h}\n"), &bad, Options{EnvPrefix: "APP", Environ: env})
	var got []string
	for _, e := range Flatten(err) {
		got = append(got, e.Error())
	}
	want := []string{
		"plugins.alpa (line 2): unknown key (did you mean alpha?)",
		`plugins.beta.enabled (line 5): "maybe" is not true or false`,
		"plugins.declared.x.hots (line 7): unknown key (did you mean host?)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}

	var c withPlugins
	err = Load(write("name: n\nplugins:\n  alpha:\n    enabled: true\n    token: {env: TOK}\n  declared:\n    x: {host: h, token: {env: TOK}}\n"), &c, Options{EnvPrefix: "APP", Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Plugins.byName["alpha"], c.Plugins.byName["beta"]
	if !a.Enabled || a.Host != "alpha.example" || a.Token.Reveal() != "s3cret-token" || b.Host != "b.example" || c.Plugins.Limit != 7 {
		t.Errorf("alpha %+v, beta %+v, limit %d", a, b, c.Plugins.Limit)
	}
	if x := c.Plugins.Declared["x"]; x == nil || x.Token.Reveal() != "s3cret-token" {
		t.Errorf("declared x %+v: its secret was not read", x)
	}
	if err := unknownEnv(&c, "APP", nil, envMap(append(env(), "APP_PLUGINS_GAMMA_HOST=x"))); err == nil || !strings.Contains(err.Error(), "APP_PLUGINS_GAMMA_HOST: unknown variable") {
		t.Errorf("unknown plugin variable: %v", err)
	}
	var out bytes.Buffer
	if err := EncodeWithSources(&out, &c); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); strings.Contains(s, "s3cret") || strings.Count(s, "token: {env: TOK}") != 2 {
		t.Errorf("encoded:\n%s", s)
	}
	t.Logf("encoded:\n%s", out.String())
}
