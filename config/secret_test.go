package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const secretValueForTest = "hunter2-b8f3c1"

type holder struct {
	Token Secret `yaml:"token" json:"token"`
	Name  string `yaml:"name" json:"name"`
}

type hidden struct {
	name  string
	token Secret
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	s := NewSecret(secretValueForTest)
	h := holder{Token: s, Name: "n"}
	u := hidden{name: "n", token: s}
	values := map[string]any{
		"secret":                s,
		"pointer":               &s,
		"struct":                h,
		"pointer to struct":     &h,
		"unexported field":      u,
		"pointer to unexported": &u,
		"slice":                 []Secret{s, s},
		"map":                   map[string]Secret{"k": s},
		"any slice":             []any{s, &h, u},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, secretValueForTest) || strings.Contains(out, fmt.Sprintf("%x", secretValueForTest)) {
				t.Errorf("%s with %s prints the value: %s", name, verb, out)
			}
		}
		if out := fmt.Sprint(v) + fmt.Sprintln(v); strings.Contains(out, secretValueForTest) {
			t.Errorf("%s: Sprint prints the value", name)
		}
	}
	if got := fmt.Sprintf("%v|%s|%#v", s, s, s); got != Redacted+"|"+Redacted+"|"+Redacted {
		t.Errorf("Secret prints as %q", got)
	}

	marshalled := map[string]func() ([]byte, error){
		"json":         func() ([]byte, error) { return json.Marshal(h) },
		"json pointer": func() ([]byte, error) { return json.Marshal(&h) },
		"json indent":  func() ([]byte, error) { return json.MarshalIndent(map[string]any{"a": s}, "", " ") },
		"yaml":         func() ([]byte, error) { return yaml.Marshal(h) },
		"yaml pointer": func() ([]byte, error) { return yaml.Marshal(&h) },
		"text":         func() ([]byte, error) { return s.MarshalText() },
	}
	for name, m := range marshalled {
		b, err := m()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if bytes.Contains(b, []byte(secretValueForTest)) || !bytes.Contains(b, []byte(Redacted)) {
			t.Errorf("%s: %s", name, b)
		}
	}
	if b, _ := json.Marshal(h); string(b) != `{"token":"[redacted]","name":"n"}` {
		t.Errorf("json = %s", b)
	}

	var buf bytes.Buffer
	text := slog.New(slog.NewTextHandler(&buf, nil))
	text.Info("cfg", "token", s, "holder", h, "hidden", u)
	js := slog.New(slog.NewJSONHandler(&buf, nil))
	js.Info("cfg", "token", s, "holder", h)
	if strings.Contains(buf.String(), secretValueForTest) {
		t.Errorf("slog output holds the value: %s", buf.String())
	}

	if err := fmt.Errorf("bad token %v", s); strings.Contains(err.Error(), secretValueForTest) {
		t.Errorf("error holds the value: %v", err)
	}
	if s.Reveal() != secretValueForTest || !s.IsSet() || s.Source() != "literal" {
		t.Errorf("Reveal %q IsSet %v Source %q", s.Reveal(), s.IsSet(), s.Source())
	}
}

func TestSecretZero(t *testing.T) {
	t.Parallel()
	var s Secret
	if s.Reveal() != "" || s.IsSet() || s.String() != "" || s.Source() != "unset" {
		t.Errorf("zero Secret: %q %v %q %q", s.Reveal(), s.IsSet(), s.String(), s.Source())
	}
	if b, _ := json.Marshal(s); string(b) != `""` {
		t.Errorf("zero Secret JSON %s", b)
	}
	if NewSecret("").IsSet() {
		t.Error("an empty secret is set")
	}
}

func TestSecretFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		content string
		want    string
	}{
		{"v", "v"},
		{"v\n", "v"},
		{"v\r\n", "v"},
		{"v\n\n", "v\n"}, // one newline only
		{" v \n", " v "},
		{"", ""},
		{"multi\nline\n", "multi\nline"},
	}
	for i, tc := range tests {
		p := filepath.Join(dir, fmt.Sprintf("s%d", i))
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := SecretFromFile(p)
		if err != nil || s.Reveal() != tc.want || s.Source() != "file "+p {
			t.Errorf("SecretFromFile(%q) = %q from %q, %v; want %q", tc.content, s.Reveal(), s.Source(), err, tc.want)
		}
	}

	if _, err := SecretFromFile(filepath.Join(dir, "absent")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
	if _, err := SecretFromFile(dir); err == nil {
		t.Error("a directory read as a secret")
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("k"), MaxSecretBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SecretFromFile(big); err == nil || !strings.Contains(err.Error(), "larger than") || strings.Contains(err.Error(), "kkkk") {
		t.Errorf("oversize secret file: %v", err)
	}
}

func TestSecretYAML(t *testing.T) {
	t.Parallel()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(secretValueForTest+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := environ("CONFIG_TEST_TOKEN="+secretValueForTest, "config_test_lower="+secretValueForTest, "CONFIG_TEST_EMPTY=")
	tests := []struct {
		doc        string
		wantSource string
		want       string // the value, when not secretValueForTest
		wantErr    string
		noEcho     string // must not appear in the error
	}{
		{doc: "token: {env: CONFIG_TEST_TOKEN}", wantSource: "env CONFIG_TEST_TOKEN"},
		{doc: "token:\n  env: CONFIG_TEST_TOKEN", wantSource: "env CONFIG_TEST_TOKEN"},
		{doc: "token: {env: config_test_lower}", wantSource: "env config_test_lower"},
		{doc: "token: {env: CONFIG_TEST_EMPTY}", wantSource: "env CONFIG_TEST_EMPTY", want: "-"},
		{doc: "token: {file: " + tokenFile + "}", wantSource: "file " + tokenFile},
		{doc: "token: " + secretValueForTest, wantErr: "not a literal"},
		{doc: `token: "` + secretValueForTest + `"`, wantErr: "not a literal"},
		{doc: "token: [" + secretValueForTest + "]", wantErr: "not a literal"},
		{doc: "token: {env: CONFIG_TEST_TOKEN, file: " + tokenFile + "}", wantErr: "not both"},
		{doc: "token: {}", wantErr: "{env: NAME} or {file: PATH}"},
		{doc: "token: {env: ''}", wantErr: "{env: NAME} or {file: PATH}"},
		{doc: "token: {env: ~}", wantErr: "not a list, mapping or null"},
		{doc: "token: {env: CONFIG_TEST_TOKEN_NOT_SET}", wantErr: "CONFIG_TEST_TOKEN_NOT_SET is not set"},
		{doc: "token: {env: Config_Test_Not_Set}", wantErr: "is not set", noEcho: "Config_Test_Not_Set"},
		{doc: "token: {env: " + secretValueForTest + "}", wantErr: "must name an environment variable"},
		{doc: "token: {env: 9LIVES}", wantErr: "must name an environment variable", noEcho: "9LIVES"},
		{doc: "token: {env: CONFIG_TEST_TOKEN, value: " + secretValueForTest + "}", wantErr: "only the keys env and file"},
		{doc: "token: {env: CONFIG_TEST_TOKEN, " + secretValueForTest + ": x}", wantErr: "only the keys env and file"},
		{doc: "token: {env: CONFIG_TEST_TOKEN, env: OTHER}", wantErr: "line 1"},
		{doc: "token: {file: /nonexistent/token}", wantErr: "token (line 1): file /nonexistent/token: no such file or directory"},
		{doc: "token: {file: " + secretValueForTest + "}", wantErr: "not shown"},
		{doc: "token: {env: [a]}", wantErr: "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.doc, func(t *testing.T) {
			t.Parallel()
			var h holder
			err := Load(writeFile(t, "c.yaml", tc.doc), &h, Options{Environ: env})
			if tc.wantErr != "" {
				var fe *FieldError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tc.wantErr)
				} else if !errors.As(err, &fe) || fe.Field != "token" {
					// yaml's own duplicate-key error comes first and has
					// no field.
					if !strings.Contains(tc.doc, "env: OTHER") {
						t.Errorf("error %v is not a FieldError on token", err)
					}
				}
				if err != nil && (strings.Contains(err.Error(), secretValueForTest) || (tc.noEcho != "" && strings.Contains(err.Error(), tc.noEcho))) {
					t.Errorf("error %q echoes the value", err)
				}
				return
			}
			want := secretValueForTest
			if tc.want == "-" {
				want = ""
			}
			if err != nil || h.Token.Reveal() != want || h.Token.Source() != tc.wantSource {
				t.Errorf("%q from %q, %v", h.Token.Reveal(), h.Token.Source(), err)
			}
		})
	}
}

// TestDecodeOnlyRecordsSecrets: Decode resolves nothing, so an override
// applied after it may replace a reference to a variable that is not set.
func TestDecodeOnlyRecordsSecrets(t *testing.T) {
	t.Parallel()
	var h holder
	if err := Decode(strings.NewReader("token: {env: CONFIG_TEST_SURELY_UNSET_42}\n"), &h); err != nil {
		t.Fatal(err)
	}
	if h.Token.IsSet() {
		t.Error("Decode resolved a secret")
	}
	p := writeFile(t, "c.yaml", "token: {env: CONFIG_TEST_SURELY_UNSET_42}\n")
	err := Load(p, &h, Options{EnvPrefix: "H", Environ: environ("H_TOKEN=from-override")})
	if err != nil || h.Token.Reveal() != "from-override" {
		t.Errorf("override over an unset reference: %v, %q", err, h.Token.Reveal())
	}
}

// Tests below use t.Setenv and so are not parallel.

func TestLoadSecretFromProcessEnv(t *testing.T) {
	t.Setenv("CONFIG_TEST_LOAD_TOKEN", secretValueForTest)
	t.Setenv("CFGT_NAME", "from-process-env")
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("vendor:\n  token: {env: CONFIG_TEST_LOAD_TOKEN}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := defaultTestConfig()
	// No Options.Environ: Load reads the process environment.
	if err := Load(path, &c, Options{EnvPrefix: "CFGT"}); err != nil {
		t.Fatal(err)
	}
	if c.Vendor.Token.Reveal() != secretValueForTest || c.Name != "from-process-env" {
		t.Errorf("loaded %q, %q", c.Vendor.Token.Reveal(), c.Name)
	}
}
