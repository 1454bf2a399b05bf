package daemon

import (
	"fmt"
	"reflect"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/httpvendor"
	"github.com/erasured/erasured/config"
)

// VendorsConfig holds one section per registered vendor
// (adapters.Register: vendors.<name>), the vendors declared in YAML
// (vendors.http.<name>) and the shared connection bound. A vendor is
// called only when enabled.
//
// The registered sections are known only at run time, so VendorsConfig is
// a config.Dynamic: YAML, environment variables, secrets and
// check-config's output go through ConfigView, a struct with one field per
// registered vendor, and name fields, suggest keys and report lines as for
// any other section. The sections are pointers: copy a Config with Clone.
type VendorsConfig struct {
	sections map[string]adapters.VendorConfig
	// HTTP declares vendors with no code of their own, by name.
	HTTP map[string]*httpvendor.Config
	// MaxConnsPerVendor bounds concurrent connections to one vendor.
	MaxConnsPerVendor int
	// PauseFile lists vendors paused at runtime, one name a line ('#'
	// starts a comment), re-read every few seconds: a vendor is paused
	// when vendors.<name>.paused is set or the file names it. Empty: no
	// file. A missing file pauses nothing (the ConfigMap is optional).
	PauseFile string
}

// DefaultVendorsConfig is every registered vendor's defaults, all off.
func DefaultVendorsConfig() VendorsConfig {
	v := VendorsConfig{MaxConnsPerVendor: 64}
	v.fill()
	return v
}

// fill gives every registered vendor lacking one its default section.
func (v *VendorsConfig) fill() {
	if v.sections == nil {
		v.sections = map[string]adapters.VendorConfig{}
	}
	for _, s := range adapters.Specs() {
		if v.sections[s.Name] == nil {
			v.sections[s.Name] = s.Config()
		}
	}
}

// ConfigView implements config.Dynamic.
func (v *VendorsConfig) ConfigView() any {
	v.fill()
	specs := adapters.Specs()
	fields := make([]reflect.StructField, 0, len(specs)+3)
	for i, s := range specs {
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("Vendor%d", i), Type: reflect.TypeOf(v.sections[s.Name]),
			Tag: reflect.StructTag(`yaml:"` + s.Name + `"`),
		})
	}
	fields = append(fields,
		reflect.StructField{Name: "HTTP", Type: reflect.TypeOf(&v.HTTP), Tag: `yaml:"http"`},
		reflect.StructField{Name: "MaxConnsPerVendor", Type: reflect.TypeOf(&v.MaxConnsPerVendor), Tag: `yaml:"max_conns_per_vendor"`},
		reflect.StructField{Name: "PauseFile", Type: reflect.TypeOf(&v.PauseFile), Tag: `yaml:"pause_file"`})
	view := reflect.New(reflect.StructOf(fields)).Elem()
	for i, s := range specs {
		view.Field(i).Set(reflect.ValueOf(v.sections[s.Name]))
	}
	view.Field(len(specs)).Set(reflect.ValueOf(&v.HTTP))
	view.Field(len(specs) + 1).Set(reflect.ValueOf(&v.MaxConnsPerVendor))
	view.Field(len(specs) + 2).Set(reflect.ValueOf(&v.PauseFile))
	return view.Addr().Interface()
}

// UnmarshalYAML decodes into the registered sections in place, over
// their defaults. config.Decode has checked the node already (unknown
// vendors and keys, with suggestions, and kinds, with lines).
func (v *VendorsConfig) UnmarshalYAML(n *yaml.Node) error { return n.Decode(v.ConfigView()) }

// MarshalYAML writes the sections under their vendors' names.
func (v VendorsConfig) MarshalYAML() (any, error) { return v.ConfigView(), nil }

// Section returns the registered vendor's section, nil for an unknown
// name.
func (v *VendorsConfig) Section(name string) adapters.VendorConfig {
	v.fill()
	return v.sections[name]
}

// Vendor returns the section of type T, the one vendor package's Config
// (Vendor[*plivo.Config](&cfg.Vendors)); nil when none is registered.
func Vendor[T adapters.VendorConfig](v *VendorsConfig) T {
	v.fill()
	for _, s := range v.sections {
		if t, ok := s.(T); ok {
			return t
		}
	}
	var zero T
	return zero
}

// vendorSection is one configured vendor, registered or declared.
type vendorSection struct {
	name string
	// path is its YAML path: vendors.<name> or vendors.http.<name>.
	path string
	cfg  adapters.VendorConfig
	// build makes its adapter.
	build func(adapters.Deps) (adapters.Adapter, error)
}

// sectionsInOrder lists the registered vendors by name, then the declared
// ones by name.
func (v *VendorsConfig) sectionsInOrder() []vendorSection {
	v.fill()
	var out []vendorSection
	for _, s := range adapters.Specs() {
		cfg := v.sections[s.Name]
		out = append(out, vendorSection{name: s.Name, path: "vendors." + s.Name, cfg: cfg,
			build: func(d adapters.Deps) (adapters.Adapter, error) { return s.New(cfg, d) }})
	}
	names := make([]string, 0, len(v.HTTP))
	for name, c := range v.HTTP {
		if c != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		c := v.HTTP[name]
		out = append(out, vendorSection{name: name, path: "vendors.http." + name, cfg: c,
			build: func(d adapters.Deps) (adapters.Adapter, error) { return httpvendor.New(name, *c, d.Client) }})
	}
	return out
}

// path is the YAML path of the vendor called name.
func (v *VendorsConfig) path(name string) string {
	if _, ok := adapters.Lookup(name); ok {
		return "vendors." + name
	}
	return "vendors.http." + name
}

// validate checks every enabled vendor's section and the declared
// vendors' names.
func (v *VendorsConfig) validate() error {
	var errs config.Errors
	declared := make([]string, 0, len(v.HTTP))
	for name := range v.HTTP {
		declared = append(declared, name)
	}
	slices.Sort(declared)
	for _, name := range declared {
		c := v.HTTP[name]
		p := "vendors.http." + name
		switch {
		case c == nil:
			errs.Invalid(p, "is empty; declare the vendor's method, url, auth and responses, or remove it")
		case !adapters.NamePattern.MatchString(name):
			errs.Invalid(p, "the name must be lower-case letters, digits and _, starting with a letter, at most 32 characters (it labels logs and metrics)")
		default:
			if _, taken := adapters.Lookup(name); taken {
				errs.Invalid(p, "the name %s is a built-in vendor's (vendors.%s); pick another", name, name)
			}
		}
	}
	enabled := 0
	for _, s := range v.sectionsInOrder() {
		if !s.cfg.Shared().Enabled {
			continue
		}
		enabled++
		errs.Add(config.Nest(s.path, s.cfg.Validate()))
	}
	if enabled == 0 {
		errs.Invalid("vendors", "no vendor is enabled; set vendors.<name>.enabled: true for at least one")
	}
	return errs.Err()
}

// Clone returns a copy of c that shares no vendor section with it. A
// plain copy (c2 := *c) shares them, since the sections are pointers
// held in maps: setting a key on one would set it on both.
func (c *Config) Clone() *Config {
	out := *c
	v := &out.Vendors
	v.sections = make(map[string]adapters.VendorConfig, len(c.Vendors.sections))
	for name, sec := range c.Vendors.sections {
		p := reflect.New(reflect.TypeOf(sec).Elem())
		p.Elem().Set(reflect.ValueOf(sec).Elem())
		v.sections[name] = p.Interface().(adapters.VendorConfig)
	}
	if c.Vendors.HTTP != nil {
		v.HTTP = make(map[string]*httpvendor.Config, len(c.Vendors.HTTP))
		for name, hc := range c.Vendors.HTTP {
			if hc != nil {
				cp := *hc
				cp.Responses = slices.Clone(hc.Responses)
				hc = &cp
			}
			v.HTTP[name] = hc
		}
	}
	return &out
}
