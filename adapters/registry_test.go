package adapters_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/event"
)

type fakeConfig struct {
	adapters.Common `yaml:",inline"`
	Host            string `yaml:"host"`
}

func (c *fakeConfig) Validate() error  { return c.ValidateCommon() }
func (c *fakeConfig) Endpoint() string { return c.Host }

type otherConfig struct{ fakeConfig }

type fakeAdapter struct{ host string }

func (fakeAdapter) Name() string { return "fake_registry_test" }
func (fakeAdapter) Delete(context.Context, *event.UserDeleted) (adapters.Outcome, error) {
	return adapters.Deleted, nil
}

// TestRegistry: a registered vendor is found by name, its section has
// the common defaults, its constructor refuses another vendor's section,
// and a malformed or repeated registration panics at init.
func TestRegistry(t *testing.T) {
	adapters.RegisterVendor("fake_registry_test", func() fakeConfig {
		return fakeConfig{Common: adapters.DefaultCommon(), Host: "https://fake.example"}
	}, func(c fakeConfig, _ adapters.Deps) adapters.Adapter { return fakeAdapter{c.Host} }, adapters.Dev{})

	spec, ok := adapters.Lookup("fake_registry_test")
	if !ok {
		t.Fatal("not registered")
	}
	cfg := spec.Config()
	if !reflect.DeepEqual(cfg.Shared().Retry, adapters.DefaultRetryConfig()) || cfg.Shared().Enabled || cfg.Endpoint() != "https://fake.example" {
		t.Errorf("defaults %+v", cfg)
	}
	if a, err := spec.New(cfg, adapters.Deps{}); err != nil || a.(fakeAdapter).host != "https://fake.example" {
		t.Errorf("New = %v, %v", a, err)
	}
	if _, err := spec.New(&otherConfig{}, adapters.Deps{}); err == nil || !strings.Contains(err.Error(), "otherConfig") {
		t.Errorf("New with another vendor's section: %v", err)
	}
	names := adapters.Names()
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("names not sorted: %v", names)
		}
	}
	for _, c := range []struct{ name, spec string }{
		{"twice", "fake_registry_test"},
		{"upper case", "Fake"},
		{"reserved", "http"},
		{"empty", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", c.spec)
				}
			}()
			adapters.Register(adapters.Spec{Name: c.spec, Config: spec.Config, New: spec.New})
		})
	}
}
