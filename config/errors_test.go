package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDecodeErrorMessages: each decode mistake names the YAML path and its
// line, says what is expected, never a Go type, and suggests the key
// meant.
func TestDecodeErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		want      []string // every error, in order
	}{
		{"misspelt key", "vendor:\n  retyr: {}\n", []string{"vendor.retyr (line 2): unknown key (did you mean retry?)"}},
		{"swapped letters", "nmae: x\n", []string{"nmae (line 1): unknown key (did you mean name?)"}},
		{"case differs", "Name: x\n", []string{"Name (line 1): unknown key (did you mean name?)"}},
		{"inline key suggested", "log_levle: x\n", []string{"log_levle (line 1): unknown key (did you mean log_level?)"}},
		{"nothing close", "colour: x\n", []string{"colour (line 1): unknown key"}},
		{"duration with a space", "vendor:\n  retry:\n    interval: 1 second\n", []string{`vendor.retry.interval (line 3): "1 second" is not a duration (e.g. 1s, 500ms, 1m30s)`}},
		{"duration without unit", "vendor: {retry: {interval: 5}}\n", []string{`vendor.retry.interval (line 1): "5" is not a duration (e.g. 1s, 500ms, 1m30s); a number needs a unit`}},
		{"not a number", "vendor: {retry: {attempts: three}}\n", []string{`vendor.retry.attempts (line 1): "three" is not a whole number`}},
		{"out of range", "vendor: {port: 70000}\n", []string{`vendor.port (line 1): "70000" is out of range for a whole number, 0 or more`}},
		{"not a bool", "vendor: {enabled: maybe}\n", []string{`vendor.enabled (line 1): "maybe" is not true or false`}},
		{"not a float", "vendor: {rate: fast}\n", []string{`vendor.rate (line 1): "fast" is not a number`}},
		{"list wanted", "vendor: {tags: solo}\n", []string{`vendor.tags (line 1): must be a list, such as [a, b] or one "- item" per line, not a single value`}},
		{"list element", "vendor: {retry: {attempts: [1]}}\n", []string{`vendor.retry.attempts (line 1): must be a whole number, not a list`}},
		{"section wanted", "vendor: plivo\n", []string{"vendor (line 1): must be a section of keys (key: value lines), not a single value"}},
		{"map value", "vendor: {labels: {a: x}}\n", []string{`vendor.labels.a (line 1): "x" is not a whole number`}},
		{"long value not quoted", "vendor: {port: abcdefghijklmnopqrstuvwxyz}\n", []string{"vendor.port (line 1): the value given (26 characters, not shown in case it is a secret) is not a whole number, 0 or more"}},
		{"pointer section", "extra: {enabeld: true}\n", []string{"extra.enabeld (line 1): unknown key (did you mean enabled?)"}},
		{"every mistake", "nmae: x\nvendor:\n  port: many\n  retry: {interval: soon, attempt: 2}\n", []string{
			"nmae (line 1): unknown key (did you mean name?)",
			`vendor.port (line 3): "many" is not a whole number, 0 or more`,
			`vendor.retry.interval (line 4): "soon" is not a duration (e.g. 1s, 500ms, 1m30s)`,
			"vendor.retry.attempt (line 4): unknown key (did you mean attempts?)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := defaultTestConfig()
			err := Decode(strings.NewReader(tc.doc), &c)
			var got []string
			for _, e := range Flatten(err) {
				got = append(got, e.Error())
				if !errors.Is(e, ErrInvalid) {
					t.Errorf("%v does not wrap ErrInvalid", e)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, s := range []string{"time.Duration", "config.", "!!str", "not found in type", "unmarshal"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q names a Go type or yaml tag (%s)", err, s)
				}
			}
		})
	}
}

// TestDecodeKeepsTheRest: keys decoded around a mistake keep their value,
// so the later stages can report their own errors.
func TestDecodeKeepsTheRest(t *testing.T) {
	t.Parallel()
	c := defaultTestConfig()
	err := Decode(strings.NewReader("name: kept\nvendor: {port: many, rate: 2}\n"), &c)
	if err == nil {
		t.Fatal("no error")
	}
	if c.Name != "kept" || c.Vendor.Rate != 2 || c.Vendor.Retry.Attempts != 3 {
		t.Errorf("decoded %+v", c)
	}
}

// TestLoadReportsEveryError: the file's, the environment's, the secrets'
// and Validate's errors come together; a missing secret hides none.
func TestLoadReportsEveryError(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "c.yaml", "vendor:\n  retry: {interval: 1 second}\n  token: {file: /nonexistent/token}\n  base-url: bad\n")
	var c testConfig
	err := Load(p, &c, Options{EnvPrefix: "T", Environ: environ("T_VENDOR_PORT=many", "T_VENDER_RATE=2")})
	want := []string{
		`vendor.retry.interval (line 2): "1 second" is not a duration (e.g. 1s, 500ms, 1m30s)`,
		"vendor.port: from T_VENDOR_PORT: not a valid Uint: invalid syntax",
		"T_VENDER_RATE: unknown variable: it sets no configuration key (did you mean T_VENDOR_RATE?)",
		"vendor.token (line 3): file /nonexistent/token: no such file or directory",
		`vendor.base-url: must be a URL, got "bad"`,
	}
	var got []string
	for _, e := range Flatten(err) {
		got = append(got, e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("%v does not wrap ErrInvalid", err)
	}
}

// TestLoadDropsErrorsAboutDefaults: a Validate error on a field the file
// got wrong is about the default left there, and would mislead.
func TestLoadDropsErrorsAboutDefaults(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "c.yaml", "vendor: {retry: {attempts: many}}\n")
	var c testConfig
	c.Vendor.Retry.Attempts = -1 // a "default" Validate refuses
	err := Load(p, &c, Options{Environ: environ()})
	if got := len(Flatten(err)); got != 1 {
		t.Errorf("%d errors, want 1:\n%v", got, err)
	}
}

func TestUnknownEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   []string
		known []string
		want  string // "" for no error
	}{
		{"misspelt", []string{"T_VENDOR_RETRY_ATTEMTPS=3"}, nil, "T_VENDOR_RETRY_ATTEMTPS: unknown variable: it sets no configuration key (did you mean T_VENDOR_RETRY_ATTEMPTS?)"},
		{"nothing close", []string{"T_COLOUR=blue"}, nil, "T_COLOUR: unknown variable: it sets no configuration key"},
		{"every field", []string{"T_NAME=a", "T_VENDOR_BASE_URL=b", "T_EXTRA_RETRY_ATTEMPTS=1", "T_LOG_LEVEL=x", "T_NOTAG=y"}, nil, ""},
		{"secret and its _FILE form", []string{"T_VENDOR_TOKEN=x", "T_EXTRA_TOKEN_FILE=/dev/null"}, nil, ""},
		{"_FILE of a plain field", []string{"T_NAME_FILE=/dev/null"}, nil, "T_NAME_FILE: unknown variable: only a secret has a _FILE form; set T_NAME itself"},
		{"known elsewhere", []string{"T_CONFIG=/etc/c.yaml"}, []string{"T_CONFIG"}, ""},
		{"other prefixes ignored", []string{"TX_NAME=a", "T=1", "t_name=a"}, nil, ""},
		{"ignored field", []string{"T_IGNORED=a"}, nil, "T_IGNORED: unknown variable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := defaultTestConfig()
			err := unknownEnv(&c, "t", tc.known, envMap(tc.env))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// The value is never shown.
	c := defaultTestConfig()
	if err := unknownEnv(&c, "T", nil, envMap([]string{"T_VENDOR_TOKN=hunter2-value"})); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v", err)
	}
	// Load checks only with a prefix: without one every variable would be
	// unknown.
	if err := Load("", &c, Options{Environ: environ("HOME=/root")}); err != nil {
		t.Errorf("Load without a prefix: %v", err)
	}
}

func TestSkipSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc string
		env       []string
		wantErr   string
		source    string
	}{
		{"missing file", "vendor: {token: {file: /nonexistent/token}}\n", nil, "", "file /nonexistent/token"},
		{"unset env", "vendor: {token: {env: CONFIG_TEST_UNSET}}\n", nil, "", "env CONFIG_TEST_UNSET"},
		{"env _FILE override", "", []string{"T_VENDOR_TOKEN_FILE=/nonexistent/t"}, "", "file /nonexistent/t"},
		{"a literal is still refused", "vendor: {token: hunter2-literal}\n", nil, "vendor.token (line 1): a secret must be {env: NAME} or {file: PATH}, not a literal value", ""},
		{"env value is read", "", []string{"T_VENDOR_TOKEN=v"}, "", "env T_VENDOR_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := ""
			if tc.doc != "" {
				path = writeFile(t, "c.yaml", tc.doc)
			}
			c := defaultTestConfig()
			err := Load(path, &c, Options{EnvPrefix: "T", Environ: environ(tc.env...), SkipSecrets: true})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tok := c.Vendor.Token
			if !tok.IsSet() || tok.Source() != tc.source {
				t.Errorf("token set %v from %q, want set from %q", tok.IsSet(), tok.Source(), tc.source)
			}
			if tok.Unread() != strings.HasPrefix(tc.source, "file") && tok.Unread() != (tc.doc != "") {
				t.Errorf("Unread = %v", tok.Unread())
			}
		})
	}
}

// TestEncodeWithSourcesLoadsBack: what EncodeWithSources writes loads
// again into the same configuration, secrets as their sources.
func TestEncodeWithSourcesLoadsBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := "name: svc\nvendor:\n  token: {file: " + tokenFile + "}\n  tags: [a, b]\nextra:\n  enabled: true\n  token: {env: EXTRA_TOKEN}\n"
	env := environ("EXTRA_TOKEN=env-secret-value", "T_VENDOR_RETRY_ATTEMPTS=7")
	first := defaultTestConfig()
	if err := Load(writeFile(t, "c.yaml", doc), &first, Options{EnvPrefix: "T", Environ: env}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := EncodeWithSources(&out, &first); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"token: {file: " + tokenFile + "}", "token: {env: EXTRA_TOKEN}"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "secret-value") || strings.Contains(text, Redacted) {
		t.Errorf("output shows a secret or a redaction:\n%s", text)
	}
	second := defaultTestConfig()
	if err := Load(writeFile(t, "out.yaml", text), &second, Options{EnvPrefix: "T", Environ: env}); err != nil {
		t.Fatalf("output does not load: %v\n%s", err, text)
	}
	if second.Vendor.Token.Reveal() != "file-secret-value" || second.Extra.Token.Reveal() != "env-secret-value" ||
		second.Vendor.Retry.Attempts != 7 || second.Name != "svc" || strings.Join(second.Vendor.Tags, ",") != "a,b" {
		t.Errorf("loaded back %+v", second)
	}
}

func TestEncodeWithSourcesHidesWhatErrorsHide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tok  Secret
		want string
	}{
		{"relative path", newSecret("v", "file token.txt"), "token: '[redacted]'"},
		{"mixed-case name", newSecret("v", "env Ab12Cd"), "token: '[redacted]'"},
		{"literal", NewSecret("v"), "token: '[redacted]'"},
		{"env override", newSecret("v", "env T_VENDOR_TOKEN"), "token: {env: T_VENDOR_TOKEN}"},
		{"unread file", unreadSecret("file /run/t"), "token: {file: /run/t}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if err := EncodeWithSources(&out, &testVendor{Token: tc.tok}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := EncodeWithSources(&out, &testVendor{}); err != nil || strings.Contains(out.String(), "token") {
		t.Errorf("an unset secret is written: %v\n%s", err, out.String())
	}
}

func TestNestJoined(t *testing.T) {
	t.Parallel()
	err := Nest("kafka", Join(Invalid("topic", "must be set"), nil, Invalid("", "whole"), errors.New("plain")))
	want := "kafka.topic: must be set\nkafka: whole\nkafka: plain"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if !errors.Is(err, ErrInvalid) || len(Flatten(err)) != 3 {
		t.Errorf("%v: Is ErrInvalid %v, %d errors", err, errors.Is(err, ErrInvalid), len(Flatten(err)))
	}
	if Join() != nil || Join(nil) != nil {
		t.Error("Join of nothing is not nil")
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"max_inflight", "max_in_flight", 1},
		{"nmae", "name", 1}, {"kitten", "sitting", 3}, {"ca", "abc", 3}, {"héllo", "hello", 1},
	}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b, 100); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
	if got := closest("max_inflight", []string{"brokers", "max_in_flight", "max_inflights"}); got != "max_in_flight" {
		t.Errorf("closest = %q", got)
	}
	if got := closest("ab", []string{"xy"}); got != "" {
		t.Errorf("closest(ab, xy) = %q, want none", got)
	}
}

// FuzzEditDistance: the bounded distance is the full one capped at the
// bound, symmetric, zero only for equal strings.
func FuzzEditDistance(f *testing.F) {
	f.Add("max_inflight", "max_in_flight", 2)
	f.Add("ab", "ba", 1)
	f.Add("", "x", 0)
	f.Fuzz(func(t *testing.T, a, b string, bound int) {
		if len(a) > 64 || len(b) > 64 || !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		bound = bound%8 + 8
		if bound < 1 {
			bound = 1
		}
		full := editDistance(a, b, 1<<20)
		if full != editDistance(b, a, 1<<20) {
			t.Fatalf("not symmetric: %q %q", a, b)
		}
		if (full == 0) != (a == b) {
			t.Fatalf("distance %d between %q and %q", full, a, b)
		}
		if n := max(utf8.RuneCountInString(a), utf8.RuneCountInString(b)); full > n {
			t.Fatalf("distance %d above %d", full, n)
		}
		if got := editDistance(a, b, bound); got != min(full, bound) {
			t.Fatalf("bounded %d, want min(%d, %d)", got, full, bound)
		}
	})
}
