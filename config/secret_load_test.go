package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
