package kafkaauth_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/testpki"
	"github.com/erasured/erasured/kafkaauth"
)

// TestCredentialErrorsQuoteNothing gives kafkaauth credentials SASLprep
// refuses (a password from the environment with a trailing newline, a
// control character): Validate must name the field, and neither Validate
// nor Dialer nor Transport may print the value. The SCRAM library quotes
// the password in its own error, so kafkaauth must not wrap it.
func TestCredentialErrorsQuoteNothing(t *testing.T) {
	t.Parallel()
	const secretPart = "s3cret-pass"
	tests := []struct {
		name      string
		mech      string
		user      string
		pass      string
		wantField string
	}{
		{"SCRAM-SHA-256 password with a trailing newline", kafkaauth.MechanismSCRAMSHA256, "erasured", secretPart + "\n", "sasl.password"},
		{"SCRAM-SHA-512 password with a trailing CRLF", kafkaauth.MechanismSCRAMSHA512, "erasured", secretPart + "\r\n", "sasl.password"},
		{"SCRAM password with a NUL", kafkaauth.MechanismSCRAMSHA256, "erasured", secretPart + "\x00x", "sasl.password"},
		{"SCRAM password with a BEL", kafkaauth.MechanismSCRAMSHA512, "erasured", "\a" + secretPart, "sasl.password"},
		{"SCRAM password with a DEL", kafkaauth.MechanismSCRAMSHA256, "erasured", secretPart + "\x7f", "sasl.password"},
		{"SCRAM password with a tagging character", kafkaauth.MechanismSCRAMSHA256, "erasured", secretPart + "\U000E0080", "sasl.password"},
		{"SCRAM username with a newline", kafkaauth.MechanismSCRAMSHA256, secretPart + "\n", "pw", "sasl.username"},
		{"PLAIN password with a trailing newline", kafkaauth.MechanismPlain, "erasured", secretPart + "\n", "sasl.password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := kafkaauth.Config{
				TLS:  kafkaauth.TLSConfig{Enabled: true},
				SASL: kafkaauth.SASLConfig{Mechanism: tt.mech, Username: tt.user, Password: config.NewSecret(tt.pass)},
			}
			leaks := func(what string, err error) {
				t.Helper()
				if err == nil {
					return
				}
				for _, s := range []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
					if strings.Contains(s, secretPart) {
						t.Errorf("%s error prints the credential: %s", what, s)
					}
				}
			}
			err := cfg.Validate()
			leaks("Validate", err)
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField || !errors.Is(err, config.ErrInvalid) {
				t.Errorf("Validate = %v, want an invalid-configuration error on %s", err, tt.wantField)
			}
			_, err = cfg.Dialer()
			leaks("Dialer", err)
			_, err = cfg.Transport()
			leaks("Transport", err)
		})
	}
}

// TestTLSFileErrorsQuoteNothing checks that a broken client key is
// reported on its field without quoting the file: a private key's PEM must
// not reach stderr because a certificate was mounted in its place.
func TestTLSFileErrorsQuoteNothing(t *testing.T) {
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(pki.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	// The base64 body of the key, the part that must never be printed.
	body := strings.Split(string(keyPEM), "\n")[1]
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A key in the certificate's place, a truncated key, a key that is
	// not PEM at all but its raw base64.
	keyAsCert := write("key-as-cert.pem", string(keyPEM))
	truncated := write("truncated.pem", string(keyPEM[:len(keyPEM)/2]))
	rawKey := write("raw.pem", body+"\n")
	tests := []struct {
		name      string
		tls       kafkaauth.TLSConfig
		wantField string
	}{
		{"key where the certificate belongs", kafkaauth.TLSConfig{Enabled: true, CertFile: keyAsCert, KeyFile: pki.ClientKeyFile}, "tls.cert_file"},
		{"truncated key", kafkaauth.TLSConfig{Enabled: true, CertFile: pki.ClientCertFile, KeyFile: truncated}, "tls.key_file"},
		{"raw base64 key", kafkaauth.TLSConfig{Enabled: true, CertFile: pki.ClientCertFile, KeyFile: rawKey}, "tls.key_file"},
		{"key as the CA", kafkaauth.TLSConfig{Enabled: true, CAFile: pki.ClientKeyFile}, "tls.ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := kafkaauth.Config{TLS: tt.tls}
			err := cfg.Validate()
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Errorf("Validate = %v, want an error on %s", err, tt.wantField)
			}
			_, derr := cfg.Dialer()
			for _, e := range []error{err, derr} {
				if e != nil && strings.Contains(e.Error(), body[:16]) {
					t.Errorf("error quotes the key: %v", e)
				}
			}
		})
	}
}
