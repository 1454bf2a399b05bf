package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Test configuration: nested sections, a pointer section, a Secret, a
// default constructor and a Validate hook, as the daemon's own sections
// have.
type testRetry struct {
	Interval time.Duration `yaml:"interval"`
	Attempts int           `yaml:"attempts"`
}

type testVendor struct {
	Enabled bool           `yaml:"enabled"`
	BaseURL string         `yaml:"base-url"`
	Token   Secret         `yaml:"token"`
	Retry   testRetry      `yaml:"retry"`
	Tags    []string       `yaml:"tags"`
	Rate    float64        `yaml:"rate"`
	Port    uint16         `yaml:"port"`
	Labels  map[string]int `yaml:"labels"`
}

type testCommon struct {
	LogLevel string `yaml:"log_level"`
}

type testConfig struct {
	Name       string      `yaml:"name"`
	Vendor     testVendor  `yaml:"vendor"`
	Extra      *testVendor `yaml:"extra"`
	ExtraNote  string      `yaml:"extra_note"`
	testCommon `yaml:",inline"`
	Ignored    string `yaml:"-"`
	NoTag      string
}

func defaultTestConfig() testConfig {
	return testConfig{
		Name:       "default-name",
		Vendor:     testVendor{Retry: testRetry{Interval: time.Second, Attempts: 3}, Tags: []string{"default-tag"}, Rate: 1},
		testCommon: testCommon{LogLevel: "info"},
	}
}

func (c *testConfig) Validate() error {
	switch {
	case c.Name == "plain-error":
		return errors.New("plain failure")
	case c.Vendor.BaseURL == "bad":
		return Nest("vendor", Invalid("base-url", "must be a URL, got %q", c.Vendor.BaseURL))
	case c.Vendor.Retry.Attempts < 0:
		return Nest("vendor", Nest("retry", Invalid("attempts", "must not be negative")))
	}
	return nil
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func environ(kv ...string) func() []string { return func() []string { return kv } }

func TestLoadYAML(t *testing.T) {
	t.Parallel()
	tokenFile := writeFile(t, "token", "s3cr3t-from-file\n")
	doc := fmt.Sprintf(`# erasured test configuration
name: svc
log_level: debug
vendor:
  enabled: true
  base-url: https://example.com
  token: {file: %s}
  retry:
    interval: 1m30s
    attempts: 7
  tags: [a, b]
  rate: 0.5
  port: 8080
  labels: {x: 1}
`, tokenFile)
	var c testConfig
	if err := Load(writeFile(t, "c.yaml", doc), &c, Options{Environ: environ()}); err != nil {
		t.Fatal(err)
	}
	v := c.Vendor
	if c.Name != "svc" || c.LogLevel != "debug" || !v.Enabled || v.BaseURL != "https://example.com" ||
		v.Retry.Interval != 90*time.Second || v.Retry.Attempts != 7 || strings.Join(v.Tags, ",") != "a,b" ||
		v.Rate != 0.5 || v.Port != 8080 || v.Labels["x"] != 1 || c.Extra != nil {
		t.Errorf("loaded %+v", c)
	}
	if v.Token.Reveal() != "s3cr3t-from-file" || v.Token.Source() != "file "+tokenFile {
		t.Errorf("token %q from %q", v.Token.Reveal(), v.Token.Source())
	}
}

func TestLoadWithoutFile(t *testing.T) {
	t.Parallel()
	c := defaultTestConfig()
	if err := Load("", &c, Options{Environ: environ()}); err != nil {
		t.Fatal(err)
	}
	if c.Name != "default-name" || c.Vendor.Retry.Attempts != 3 {
		t.Errorf("defaults not kept: %+v", c)
	}
}

// TestLoadOverDefaults: the document and the environment overwrite the
// defaults key by key. What they say is kept, zero included; what they
// leave out, however deep, keeps its default; a list they give replaces
// the default list.
func TestLoadOverDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		env   []string
		check func(c testConfig) bool
	}{
		{"explicit zero int", "vendor: {retry: {attempts: 0}}\n", nil, func(c testConfig) bool { return c.Vendor.Retry.Attempts == 0 && c.Vendor.Retry.Interval == time.Second }},
		{"explicit zero float", "vendor: {rate: 0}\n", nil, func(c testConfig) bool { return c.Vendor.Rate == 0 }},
		{"explicit zero duration", "vendor: {retry: {interval: 0s}}\n", nil, func(c testConfig) bool { return c.Vendor.Retry.Interval == 0 && c.Vendor.Retry.Attempts == 3 }},
		{"explicit empty string", "log_level: \"\"\n", nil, func(c testConfig) bool { return c.LogLevel == "" && c.Name == "default-name" }},
		{"zero from env", "", []string{"T_VENDOR_RETRY_ATTEMPTS=0", "T_VENDOR_RATE=0"}, func(c testConfig) bool { return c.Vendor.Retry.Attempts == 0 && c.Vendor.Rate == 0 }},
		{"sibling keys keep defaults", "vendor: {enabled: true}\n", nil, func(c testConfig) bool { return c.Vendor.Enabled && c.Vendor.Retry.Attempts == 3 && c.Vendor.Rate == 1 }},
		{"null keeps the default", "vendor: {retry: ~, rate: ~}\n", nil, func(c testConfig) bool { return c.Vendor.Retry.Attempts == 3 && c.Vendor.Rate == 1 }},
		{"list replaced", "vendor: {tags: [a]}\n", nil, func(c testConfig) bool { return strings.Join(c.Vendor.Tags, ",") == "a" }},
		{"empty list replaces", "vendor: {tags: []}\n", nil, func(c testConfig) bool { return len(c.Vendor.Tags) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tt.doc != "" {
				path = writeFile(t, "c.yaml", tt.doc)
			}
			c := defaultTestConfig()
			if err := Load(path, &c, Options{EnvPrefix: "T", Environ: environ(tt.env...)}); err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("loaded %+v", c)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		doc       string // "" with noFile: no such file
		noFile    bool
		env       []string
		wantField string   // FieldError.Field, "" when no FieldError is expected
		wantText  []string // substrings of the error
	}{
		{name: "missing file", noFile: true, wantText: []string{"no such file"}},
		{name: "unknown key", doc: "name: x\nnmae: y\n", wantField: "nmae", wantText: []string{"nmae (line 2): unknown key (did you mean name?)"}},
		{name: "unknown nested key", doc: "vendor:\n  retyr:\n    attempts: 1\n", wantText: []string{"retyr"}},
		{name: "unknown inline key", doc: "log_levle: x\n", wantText: []string{"log_levle"}},
		{name: "ignored field is unknown in yaml", doc: "Ignored: x\n", wantText: []string{"Ignored"}},
		{name: "wrong type", doc: "vendor:\n  port: many\n", wantField: "vendor.port", wantText: []string{`vendor.port (line 2): "many" is not a whole number, 0 or more`}},
		{name: "bad duration", doc: "vendor:\n  retry:\n    interval: soon\n", wantField: "vendor.retry.interval", wantText: []string{`"soon" is not a duration (e.g. 1s, 500ms`}},
		{name: "not yaml", doc: "name: [unclosed\n", wantText: []string{"c.yaml"}},
		{name: "literal secret", doc: "vendor:\n  token: hunter2-literal\n", wantText: []string{"not a literal"}},
		{name: "validation", doc: "vendor:\n  base-url: bad\n", wantField: "vendor.base-url", wantText: []string{`vendor.base-url: must be a URL, got "bad"`}},
		{name: "nested validation", doc: "vendor:\n  retry:\n    attempts: -2\n", wantField: "vendor.retry.attempts"},
		{name: "plain validation error", doc: "name: plain-error\n", wantText: []string{"plain failure"}},
		{name: "env validation", env: []string{"T_VENDOR_BASE_URL=bad"}, wantField: "vendor.base-url"},
		{name: "env bad value", env: []string{"T_VENDOR_RETRY_ATTEMPTS=three"}, wantField: "vendor.retry.attempts",
			wantText: []string{"T_VENDOR_RETRY_ATTEMPTS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			switch {
			case tc.noFile:
				path = filepath.Join(t.TempDir(), "absent.yaml")
			case tc.doc != "":
				path = writeFile(t, "c.yaml", tc.doc)
			}
			var c testConfig
			err := Load(path, &c, Options{EnvPrefix: "t", Environ: environ(tc.env...)})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if tc.noFile && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v does not wrap fs.ErrNotExist", err)
			}
			var fe *FieldError
			if tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField) {
				t.Errorf("error %v, want a FieldError on %s", err, tc.wantField)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q echoes a literal secret", err)
			}
		})
	}
}

func TestLoadEnvOverridesYAML(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "c.yaml", "name: from-yaml\nvendor:\n  retry:\n    attempts: 2\n")
	var c testConfig
	err := Load(path, &c, Options{EnvPrefix: "ERASURED", Environ: environ(
		"ERASURED_NAME=from-env",
		"ERASURED_VENDOR_RETRY_INTERVAL=2s",
		"ERASURED_VENDOR_TOKEN=env-secret",
	)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "from-env" || c.Vendor.Retry.Attempts != 2 || c.Vendor.Retry.Interval != 2*time.Second {
		t.Errorf("loaded %+v", c)
	}
	if c.Vendor.Token.Reveal() != "env-secret" {
		t.Errorf("token %q", c.Vendor.Token.Reveal())
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		wantErr string
		want    string // Name after decoding into a zero testConfig preset to "kept"
	}{
		{name: "empty", doc: "", want: "kept"},
		{name: "blank", doc: " \n\t\n", want: "kept"},
		{name: "comments only", doc: "# nothing configured yet\n# name: x\n", want: "kept"},
		{name: "document marker only", doc: "---\n", want: "kept"},
		{name: "value", doc: "name: set\n", want: "set"},
		{name: "unknown", doc: "nope: 1\n", wantErr: "nope"},
		{name: "oversize", doc: "name: x\n" + strings.Repeat("# padding\n", MaxFileBytes/10+1), wantErr: "larger than"},
	}
	for _, tc := range tests {
		c := testConfig{Name: "kept"}
		err := Decode(strings.NewReader(tc.doc), &c)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case c.Name != tc.want:
			t.Errorf("%s: Name = %q, want %q", tc.name, c.Name, tc.want)
		}
	}
}

func TestFieldError(t *testing.T) {
	t.Parallel()
	err := Invalid("auth_id", "must be set, got %d", 0)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "auth_id" || fe.Msg != "must be set, got 0" || err.Error() != "auth_id: must be set, got 0" {
		t.Fatalf("Invalid = %#v", err)
	}
	if !errors.Is(err, ErrInvalid) || !errors.Is(fmt.Errorf("ctx: %w", err), ErrInvalid) {
		t.Error("FieldError is not ErrInvalid")
	}
	if errors.Is(errors.New("auth_id: must be set"), ErrInvalid) {
		t.Error("a plain error is ErrInvalid")
	}

	tests := []struct {
		err       error
		wantField string
		wantText  string
	}{
		{Nest("vendors", Nest("plivo", Invalid("auth_id", "must be set"))), "vendors.plivo.auth_id", "vendors.plivo.auth_id: must be set"},
		{Nest("retry", Invalid("", "bad section")), "retry", "retry: bad section"},
		{Nest("kafka", errors.New("no brokers")), "kafka", "kafka: no brokers"},
		{Nest("a", fmt.Errorf("wrapped: %w", Invalid("b", "m"))), "a.b", "a.b: m"},
	}
	for _, tc := range tests {
		var fe *FieldError
		if !errors.As(tc.err, &fe) || fe.Field != tc.wantField || tc.err.Error() != tc.wantText || !errors.Is(tc.err, ErrInvalid) {
			t.Errorf("got %#v (%q), want field %q text %q", tc.err, tc.err, tc.wantField, tc.wantText)
		}
	}
	if Nest("x", nil) != nil {
		t.Error("Nest(nil) != nil")
	}
}

// fuzzTarget is a small section with a Secret, as vendors have.
type fuzzTarget struct {
	Name  string        `yaml:"name"`
	Token Secret        `yaml:"token"`
	N     int           `yaml:"n"`
	D     time.Duration `yaml:"d"`
	L     []string      `yaml:"l"`
	Sub   *struct {
		On  bool    `yaml:"on"`
		Pct float64 `yaml:"pct"`
	} `yaml:"sub"`
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		"# comment\n",
		"name: x\nn: 3\nd: 1m\nl: [a, b]\nsub: {on: true, pct: 0.5}\n",
		"token: {env: FUZZ_DECODE_UNSET_VARIABLE}\n",
		"token: {file: /nonexistent/secret}\n",
		"token: literal\n",
		"token: {env: A, file: B}\n",
		"token: {}\n",
		"token: [1, 2]\n",
		"unknown: 1\n",
		"a: &a [*a, *a]\n",
		"---\nname: x\n---\nname: y\n",
		"name: !!binary aGVsbG8=\n",
		"n: 99999999999999999999\n",
		"d: forever\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var dst fuzzTarget
		err := Decode(bytes.NewReader(data), &dst)
		if err != nil {
			// Messages speak YAML paths, not Go types.
			for _, s := range []string{"fuzzTarget", "time.Duration", "config.", "not found in type"} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error names a Go type (%s): %v", s, err)
				}
			}
		}
		if err == nil {
			// Whatever decoded must print safely.
			_ = fmt.Sprintf("%+v %#v", dst, dst)
		}
	})
}
