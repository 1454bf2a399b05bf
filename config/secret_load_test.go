package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLoadRejectsSecretsWithControlCharacters: a password with a stray
// newline (`echo pw | kubectl create secret`, an env file with CRLF) is
// refused at load, naming the field and quoting nothing of the value; a
// mounted file's one trailing newline is still dropped, as before.
// Not parallel: {env: NAME} cases set the process environment.
func TestLoadRejectsSecretsWithControlCharacters(t *testing.T) {
	const value = "pw-Value1"
	dir := t.TempDir()
	n := 0
	file := func(content string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("s%d", n))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		doc  string
		env  []string // also set in the process environment
		want string   // the value kept, "" when an error is expected
	}{
		{name: "override with a trailing newline", env: []string{"T_VENDOR_TOKEN=" + value + "\n"}},
		{name: "override with CRLF", env: []string{"T_VENDOR_TOKEN=" + value + "\r\n"}},
		{name: "override with a tab inside", env: []string{"T_VENDOR_TOKEN=pw\t" + value}},
		{name: "override with DEL", env: []string{"T_VENDOR_TOKEN=" + value + "\x7f"}},
		{name: "override with NEL (C1)", env: []string{"T_VENDOR_TOKEN=" + value + "\u0085"}},
		{name: "override _FILE with two trailing newlines", env: []string{"T_VENDOR_TOKEN_FILE=" + file(value+"\n\n")}},
		{name: "override _FILE with a NUL", env: []string{"T_VENDOR_TOKEN_FILE=" + file(value+"\x00x\n")}},
		{name: "yaml env with a trailing newline", doc: "vendor: {token: {env: CFGT_SECRET_NL}}\n", env: []string{"CFGT_SECRET_NL=" + value + "\n"}},
		{name: "yaml file with two lines", doc: "vendor: {token: {file: " + file(value+"\nsecond\n") + "}}\n"},
		// Kept: a mounted file's single trailing line break, and any
		// printable text.
		{name: "override _FILE with one trailing newline", env: []string{"T_VENDOR_TOKEN_FILE=" + file(value+"\n")}, want: value},
		{name: "yaml file with CRLF", doc: "vendor: {token: {file: " + file(value+"\r\n") + "}}\n", want: value},
		{name: "yaml env, printable", doc: "vendor: {token: {env: CFGT_SECRET_OK}}\n", env: []string{"CFGT_SECRET_OK= p ä ss-wörd "}, want: " p ä ss-wörd "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			path := ""
			if tt.doc != "" {
				path = writeFile(t, "c.yaml", tt.doc)
			}
			var c testConfig
			err := Load(path, &c, Options{EnvPrefix: "T", Environ: environ(tt.env...)})
			if tt.want != "" {
				if err != nil || c.Vendor.Token.Reveal() != tt.want {
					t.Fatalf("Load = %v, token %q; want %q", err, c.Vendor.Token.Reveal(), tt.want)
				}
				return
			}
			if err == nil {
				t.Fatal("Load accepted a secret with a control character")
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "vendor.token" || !errors.Is(err, ErrInvalid) {
				t.Errorf("Load = %v, want a FieldError on vendor.token", err)
			}
			if strings.Contains(err.Error(), value) || strings.Contains(err.Error(), "second") {
				t.Errorf("error quotes the value: %v", err)
			}
			if !strings.Contains(err.Error(), "control character") {
				t.Errorf("error does not say what is wrong: %v", err)
			}
		})
	}
}

// FuzzSecretReference: whatever a secret's YAML holds where a name or a
// key belongs (a pasted token, typically), resolving it either works or
// fails on the field without quoting it; the only thing an error may show
// is a conventionally spelled variable name. Accepted values never hold a
// control character. (File references are left to the unit tests: the
// fuzzer must not open arbitrary paths on this machine.)
func FuzzSecretReference(f *testing.F) {
	templates := []string{
		"token: {env: %s}",
		"token: {env: CFGT_SET, %s: x}",
		"token: {env: CFGT_SET, value: %s}",
		"token: %s",
		"token: [%s]",
		"token: {env: %s, file: /x}",
	}
	for i := range templates {
		for _, p := range []string{"Zq9tok3nValue", "sk_live_abc-123.xyz", "UPPER_NAME", "/abs/path", "rel/path", "9LIVES", "CFGT_SET", "CFGT_NL", "tok\ten"} {
			f.Add(uint8(i), p)
		}
	}
	env := map[string]string{"CFGT_SET": "fine-value", "CFGT_NL": "bad\nvalue"}
	f.Fuzz(func(t *testing.T, which uint8, payload string) {
		tpl := templates[int(which)%len(templates)]
		if !utf8.ValidString(payload) {
			return
		}
		doc := fmt.Sprintf(tpl, strconv.Quote(payload))
		var h holder
		if err := Decode(strings.NewReader(doc), &h); err != nil {
			return // a YAML error, before any secret is read
		}
		err := resolveSecrets(&h, env, false)
		if err == nil {
			if checkSecretText(h.Token.Reveal(), false) != nil {
				t.Fatalf("%q: accepted a value with a control character", doc)
			}
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "token" {
			t.Fatalf("%q: %v is not a FieldError on token", doc, err)
		}
		msg := err.Error()
		if strings.Contains(msg, "bad\nvalue") || strings.Contains(msg, "fine-value") {
			t.Fatalf("%q: error quotes a value: %s", doc, msg)
		}
		shown := strings.HasPrefix(tpl, "token: {env: %s}") && conventionalEnvName(payload)
		if len(payload) >= 4 && !shown && strings.Contains(msg, payload) && !strings.Contains(messageCorpus, payload) {
			t.Fatalf("%q: error quotes the input: %s", doc, msg)
		}
	})
}

// messageCorpus holds the fixed wording of secret errors; a payload that is
// part of it may appear without being echoed.
const messageCorpus = "line : a secret must be {env: NAME} or {file: PATH}, not a literal value " +
	"a secret takes only the keys env and file, this one has another (not shown, in case it is the secret) " +
	"is given twice must be a name, not a list, mapping or null a secret takes env or file, not both " +
	"env must name an environment variable (letters, digits and _, not starting with a digit); the name given is not one and is not shown, in case it is the secret itself " +
	"environment variable is not set the environment variable named there is not set (its name is not shown: it is not in the usual upper case, and may be the secret itself) " +
	"the file named there (a relative path, not shown in case it is the secret itself) reading secret file: no such file or directory not a directory is a directory permission denied " +
	"token: from env CFGT_SET CFGT_NL the value ends with a control character, such as the newline echo or a CRLF file adds; write it with printf '%s' (a mounted file may end in one newline) " +
	"the value holds a control character (a line break, tab or NUL); a secret must be one line of printable text the value is not valid UTF-8 text larger than bytes"

// TestLoadSecretLines: a field tagged secret:"lines" holds one credential
// per line (keys during a rotation), so line breaks are allowed there and
// nowhere else; other control characters are still refused.
func TestLoadSecretLines(t *testing.T) {
	t.Parallel()
	type keys struct {
		Current  Secret `yaml:"current"`
		Previous Secret `yaml:"previous" secret:"lines"`
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	two := write("two", "key-one\nkey-two\r\nkey-three\n")
	tab := write("tab", "key-one\nkey\ttwo\n")
	doc := func(field, path string) string {
		return writeFile(t, "c.yaml", field+": {file: "+path+"}\n")
	}
	var k keys
	if err := Load(doc("previous", two), &k, Options{Environ: environ()}); err != nil || k.Previous.Reveal() != "key-one\nkey-two\r\nkey-three" {
		t.Errorf("lines: %v, %q", err, k.Previous.Reveal())
	}
	for _, tc := range []struct{ field, path string }{{"current", two}, {"previous", tab}} {
		var k keys
		err := Load(doc(tc.field, tc.path), &k, Options{Environ: environ()})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || strings.Contains(err.Error(), "key-") {
			t.Errorf("%s from %s: %v, want a FieldError quoting nothing", tc.field, tc.path, err)
		}
	}
}
