package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestApplyEnv(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		prefix string
		env    []string
		check  func(*testing.T, *testConfig)
	}{
		{"nothing set", "ERASURED", nil, func(t *testing.T, c *testConfig) {
			if !reflect.DeepEqual(*c, testConfig{}) {
				t.Errorf("changed: %+v", c)
			}
		}},
		{"top-level string", "ERASURED", []string{"ERASURED_NAME=svc"}, func(t *testing.T, c *testConfig) {
			if c.Name != "svc" {
				t.Errorf("Name = %q", c.Name)
			}
		}},
		{"lower-case prefix", "erasured", []string{"ERASURED_NAME=svc"}, func(t *testing.T, c *testConfig) {
			if c.Name != "svc" {
				t.Errorf("Name = %q", c.Name)
			}
		}},
		{"no prefix", "", []string{"NAME=svc", "VENDOR_PORT=1"}, func(t *testing.T, c *testConfig) {
			if c.Name != "svc" || c.Vendor.Port != 1 {
				t.Errorf("got %+v", c)
			}
		}},
		{"nested, dashes and types", "E", []string{
			"E_VENDOR_ENABLED=true",
			"E_VENDOR_BASE_URL=https://x",
			"E_VENDOR_RETRY_INTERVAL= 1m30s ",
			"E_VENDOR_RETRY_ATTEMPTS=5",
			"E_VENDOR_RATE=0.25",
			"E_VENDOR_PORT=65535",
			"E_VENDOR_TAGS=a, b,,c ,",
		}, func(t *testing.T, c *testConfig) {
			v := c.Vendor
			if !v.Enabled || v.BaseURL != "https://x" || v.Retry.Interval != 90*time.Second || v.Retry.Attempts != 5 ||
				v.Rate != 0.25 || v.Port != 65535 || !reflect.DeepEqual(v.Tags, []string{"a", "b", "c"}) {
				t.Errorf("got %+v", v)
			}
		}},
		{"empty list", "E", []string{"E_VENDOR_TAGS="}, func(t *testing.T, c *testConfig) {
			if len(c.Vendor.Tags) != 0 {
				t.Errorf("Tags = %q", c.Vendor.Tags)
			}
		}},
		{"string keeps spaces", "E", []string{"E_NAME= padded "}, func(t *testing.T, c *testConfig) {
			if c.Name != " padded " {
				t.Errorf("Name = %q", c.Name)
			}
		}},
		{"inline and untagged fields", "E", []string{"E_LOG_LEVEL=warn", "E_NOTAG=x"}, func(t *testing.T, c *testConfig) {
			if c.LogLevel != "warn" || c.NoTag != "x" {
				t.Errorf("got %+v", c)
			}
		}},
		{"dash-ignored field", "E", []string{"E_IGNORED=x", "E_-=x"}, func(t *testing.T, c *testConfig) {
			if c.Ignored != "" {
				t.Errorf("Ignored = %q", c.Ignored)
			}
		}},
		{"pointer allocated", "E", []string{"E_EXTRA_RETRY_ATTEMPTS=4"}, func(t *testing.T, c *testConfig) {
			if c.Extra == nil || c.Extra.Retry.Attempts != 4 {
				t.Errorf("Extra = %+v", c.Extra)
			}
		}},
		{"pointer not allocated by a sibling's name", "E", []string{"E_EXTRA_NOTE=hi"}, func(t *testing.T, c *testConfig) {
			if c.Extra != nil || c.ExtraNote != "hi" {
				t.Errorf("Extra = %+v, ExtraNote = %q", c.Extra, c.ExtraNote)
			}
		}},
		{"secret", "E", []string{"E_VENDOR_TOKEN=tok"}, func(t *testing.T, c *testConfig) {
			if c.Vendor.Token.Reveal() != "tok" || c.Vendor.Token.Source() != "env E_VENDOR_TOKEN" {
				t.Errorf("token %q from %q", c.Vendor.Token.Reveal(), c.Vendor.Token.Source())
			}
		}},
		{"secret file", "E", []string{"E_VENDOR_TOKEN_FILE=" + tokenFile}, func(t *testing.T, c *testConfig) {
			if c.Vendor.Token.Reveal() != "from-file" || c.Vendor.Token.Source() != "file "+tokenFile {
				t.Errorf("token %q from %q", c.Vendor.Token.Reveal(), c.Vendor.Token.Source())
			}
		}},
		{"secret value wins over file", "E", []string{"E_VENDOR_TOKEN_FILE=" + tokenFile, "E_VENDOR_TOKEN=direct"}, func(t *testing.T, c *testConfig) {
			if c.Vendor.Token.Reveal() != "direct" {
				t.Errorf("token %q", c.Vendor.Token.Reveal())
			}
		}},
		{"secret in an allocated pointer", "E", []string{"E_EXTRA_TOKEN=tok"}, func(t *testing.T, c *testConfig) {
			if c.Extra == nil || c.Extra.Token.Reveal() != "tok" {
				t.Errorf("Extra = %+v", c.Extra)
			}
		}},
		{"malformed entries ignored", "E", []string{"E_NAME", "=x", "E_NAME=ok=still"}, func(t *testing.T, c *testConfig) {
			if c.Name != "ok=still" {
				t.Errorf("Name = %q", c.Name)
			}
		}},
		{"exact names only", "E", []string{"e_name=lower", "E_NAMES=x", "E_VENDOR_TOKEN_FILEX=y"}, func(t *testing.T, c *testConfig) {
			if c.Name != "" || c.Vendor.Token.IsSet() {
				t.Errorf("got %+v", c)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var c testConfig
			if err := ApplyEnv(&c, tc.prefix, tc.env); err != nil {
				t.Fatal(err)
			}
			tc.check(t, &c)
		})
	}
}

func TestApplyEnvKeepsExistingPointer(t *testing.T) {
	t.Parallel()
	c := testConfig{Extra: &testVendor{BaseURL: "kept"}}
	before := c.Extra
	if err := ApplyEnv(&c, "E", []string{"E_EXTRA_PORT=9"}); err != nil {
		t.Fatal(err)
	}
	if c.Extra != before || c.Extra.BaseURL != "kept" || c.Extra.Port != 9 {
		t.Errorf("Extra = %+v", c.Extra)
	}
}

func TestApplyEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env       string
		wantField string
		wantText  string
	}{
		{"E_VENDOR_ENABLED=maybe", "vendor.enabled", "E_VENDOR_ENABLED"},
		{"E_VENDOR_RETRY_INTERVAL=90", "vendor.retry.interval", "missing unit"},
		{"E_VENDOR_RETRY_INTERVAL=soon", "vendor.retry.interval", "E_VENDOR_RETRY_INTERVAL"},
		{"E_VENDOR_RETRY_ATTEMPTS=1.5", "vendor.retry.attempts", "invalid syntax"},
		{"E_VENDOR_PORT=70000", "vendor.port", "out of range"},
		{"E_VENDOR_PORT=-1", "vendor.port", "invalid syntax"},
		{"E_VENDOR_RATE=fast", "vendor.rate", "E_VENDOR_RATE"},
		{"E_VENDOR_LABELS=a=1", "vendor.labels", "unsupported"},
		{"E_EXTRA_RETRY_ATTEMPTS=x", "extra.retry.attempts", "E_EXTRA_RETRY_ATTEMPTS"},
		{"E_VENDOR_TOKEN_FILE=/nonexistent/token", "vendor.token", "E_VENDOR_TOKEN_FILE"},
		{"E_LOG_LEVEL_X=1", "", ""}, // not a field: ignored
	}
	for _, tc := range tests {
		var c testConfig
		err := ApplyEnv(&c, "E", []string{tc.env})
		if tc.wantField == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.env, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.wantField || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantText) {
			t.Errorf("%s: error %v, want a FieldError on %s mentioning %q", tc.env, err, tc.wantField, tc.wantText)
		}
	}
	// A failed override below a nil pointer leaves it nil.
	var c testConfig
	if err := ApplyEnv(&c, "E", []string{"E_EXTRA_PORT=x"}); err == nil || c.Extra != nil {
		t.Errorf("err %v, Extra %+v", err, c.Extra)
	}
}

func TestApplyEnvWantsStructPointer(t *testing.T) {
	t.Parallel()
	var c testConfig
	n := 0
	for _, dst := range []any{c, &n, nil} {
		if err := ApplyEnv(dst, "E", []string{"E_NAME=x"}); err == nil {
			t.Errorf("ApplyEnv(%T) succeeded", dst)
		}
	}
}
