package kafkaauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/testpki"
	"github.com/erasured/erasured/kafkaauth"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pass := config.NewSecret("pw")
	tlsOn := kafkaauth.TLSConfig{Enabled: true, CAFile: pki.CAFile}
	skipVerify := kafkaauth.TLSConfig{Enabled: true, InsecureSkipVerify: true}
	tests := []struct {
		name      string
		cfg       kafkaauth.Config
		wantField string // "" means valid
	}{
		{"zero value: plain TCP", kafkaauth.Config{}, ""},
		{"tls with system roots", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true}}, ""},
		{"tls with a CA and a client certificate", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile, ServerName: "kafka"}}, ""},
		{"tls settings while tls is off", kafkaauth.Config{TLS: kafkaauth.TLSConfig{CAFile: pki.CAFile}}, "tls.enabled"},
		{"missing CA file", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, CAFile: "/nonexistent/ca.pem"}}, "tls.ca_file"},
		{"CA file without a certificate", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, CAFile: garbage}}, "tls.ca_file"},
		{"certificate without key", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, CertFile: pki.ClientCertFile}}, "tls.cert_file"},
		{"key that does not match", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, CertFile: pki.ClientCertFile, KeyFile: garbage}}, "tls.key_file"},
		{"PLAIN over TLS", kafkaauth.Config{TLS: tlsOn, SASL: kafkaauth.SASLConfig{Mechanism: "PLAIN", Username: "u", Password: pass}}, ""},
		{"PLAIN without TLS", kafkaauth.Config{SASL: kafkaauth.SASLConfig{Mechanism: "PLAIN", Username: "u", Password: pass}}, "sasl.mechanism"},
		{"SCRAM without TLS", kafkaauth.Config{SASL: kafkaauth.SASLConfig{Mechanism: "SCRAM-SHA-512", Username: "u", Password: pass}}, ""},
		{"unknown mechanism", kafkaauth.Config{TLS: tlsOn, SASL: kafkaauth.SASLConfig{Mechanism: "GSSAPI", Username: "u", Password: pass}}, "sasl.mechanism"},
		{"lower-case mechanism", kafkaauth.Config{TLS: tlsOn, SASL: kafkaauth.SASLConfig{Mechanism: "scram-sha-256", Username: "u", Password: pass}}, "sasl.mechanism"},
		{"no username", kafkaauth.Config{SASL: kafkaauth.SASLConfig{Mechanism: "SCRAM-SHA-256", Password: pass}}, "sasl.username"},
		{"no password", kafkaauth.Config{SASL: kafkaauth.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "u"}}, "sasl.password"},
		{"credentials without a mechanism", kafkaauth.Config{SASL: kafkaauth.SASLConfig{Username: "u", Password: pass}}, "sasl.mechanism"},
		// PLAIN hands the password to whoever answers, and with
		// insecure_skip_verify anyone on the path can answer. SCRAM never
		// sends the password, so there the setting stays the documented
		// test-only knob.
		{"PLAIN with insecure_skip_verify", kafkaauth.Config{TLS: skipVerify, SASL: kafkaauth.SASLConfig{Mechanism: kafkaauth.MechanismPlain, Username: "u", Password: pass}}, "tls.insecure_skip_verify"},
		{"PLAIN with insecure_skip_verify and a server name", kafkaauth.Config{TLS: kafkaauth.TLSConfig{Enabled: true, InsecureSkipVerify: true, ServerName: "kafka"}, SASL: kafkaauth.SASLConfig{Mechanism: kafkaauth.MechanismPlain, Username: "u", Password: pass}}, "tls.insecure_skip_verify"},
		{"SCRAM-SHA-256 with insecure_skip_verify", kafkaauth.Config{TLS: skipVerify, SASL: kafkaauth.SASLConfig{Mechanism: kafkaauth.MechanismSCRAMSHA256, Username: "u", Password: pass}}, ""},
		{"SCRAM-SHA-512 with insecure_skip_verify", kafkaauth.Config{TLS: skipVerify, SASL: kafkaauth.SASLConfig{Mechanism: kafkaauth.MechanismSCRAMSHA512, Username: "u", Password: pass}}, ""},
		{"insecure_skip_verify without SASL", kafkaauth.Config{TLS: skipVerify}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField {
				t.Fatalf("Validate = %v, want an error on %s", err, tt.wantField)
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("%v does not wrap config.ErrInvalid", err)
			}
		})
	}
}

func TestDialerAndTransport(t *testing.T) {
	t.Parallel()
	pki, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	// Off: nil, so kafka-go keeps its defaults; the transport is a nil
	// interface, not a typed nil that would panic inside kafka.Writer.
	var off kafkaauth.Config
	d, err := off.Dialer()
	if err != nil || d != nil {
		t.Fatalf("Dialer() = %v, %v; want nil, nil", d, err)
	}
	tr, err := off.Transport()
	if err != nil || tr != nil {
		t.Fatalf("Transport() = %v, %v; want a nil interface", tr, err)
	}

	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		cfg := kafkaauth.Config{
			TLS:  kafkaauth.TLSConfig{Enabled: true, CAFile: pki.CAFile, CertFile: pki.ClientCertFile, KeyFile: pki.ClientKeyFile, ServerName: "kafka.internal"},
			SASL: kafkaauth.SASLConfig{Mechanism: mech, Username: "erasured", Password: config.NewSecret("pw")},
		}
		d, err := cfg.Dialer()
		if err != nil {
			t.Fatal(err)
		}
		// TLS is done in the dial function, with a configuration per
		// connection (so a rotated CA file is used), not by kafka-go.
		if d.TLS != nil || d.DialFunc == nil {
			t.Errorf("%s: dialer TLS %+v, DialFunc set %v", mech, d.TLS, d.DialFunc != nil)
		}
		if tc, err := cfg.TLS.ClientConfig(); err != nil || tc.ServerName != "kafka.internal" || tc.RootCAs == nil || tc.GetClientCertificate == nil || tc.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s: ClientConfig %+v, %v", mech, tc, err)
		}
		if d.SASLMechanism == nil || d.SASLMechanism.Name() != mech {
			t.Errorf("%s: dialer SASL %v", mech, d.SASLMechanism)
		}
		if d.ClientID != kafkaauth.ClientID {
			t.Errorf("client id %q", d.ClientID)
		}
		rt, err := cfg.Transport()
		if err != nil {
			t.Fatal(err)
		}
		ktr, ok := rt.(*kafka.Transport)
		if !ok || ktr.TLS != nil || ktr.Dial == nil || ktr.SASL == nil || ktr.SASL.Name() != mech {
			t.Errorf("%s: transport %+v", mech, rt)
		}
		// Nothing built prints the password.
		for _, v := range []any{cfg, d, ktr} {
			if s := fmt.Sprintf("%v %+v", v, v); strings.Contains(s, "pw ") || strings.Contains(s, ":pw") {
				t.Errorf("%T prints the password: %s", v, s)
			}
		}
	}
}

// TestClientCertificateRotation replaces the client certificate on disk,
// as a Secret rotation does, and checks the next handshake uses the new
// one, while a broken pair keeps the last good one.
func TestClientCertificateRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	second, err := testpki.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	install := func(p *testpki.PKI, mod time.Time) {
		t.Helper()
		for src, dst := range map[string]string{p.ClientCertFile: certFile, p.ClientKeyFile: keyFile} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
			// Set the time explicitly: two writes within the file
			// system's timestamp resolution would otherwise look alike.
			if err := os.Chtimes(dst, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := time.Now().Add(-time.Hour)
	install(first, base)
	cfg := kafkaauth.TLSConfig{Enabled: true, CertFile: certFile, KeyFile: keyFile}
	tc, err := cfg.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	leaf := func() *x509.Certificate {
		t.Helper()
		c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil || c == nil {
			t.Fatalf("GetClientCertificate = %v, %v", c, err)
		}
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	issuer := func(p *testpki.PKI) bool {
		_, err := leaf().Verify(x509.VerifyOptions{Roots: p.CAPool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err == nil
	}
	if !issuer(first) {
		t.Fatal("the first certificate is not served")
	}
	install(second, base.Add(time.Minute))
	if !issuer(second) {
		t.Fatal("the rotated certificate is not served")
	}
	// A half-written rotation: keep serving the last good pair.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(keyFile, base.Add(2*time.Minute), base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !issuer(second) {
		t.Fatal("a broken rotation replaced the last good certificate")
	}
}

func TestIsRejection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{fmt.Errorf("joining: %w", kafka.RebalanceInProgress), false},
		{fmt.Errorf("auth: %w", kafka.SASLAuthenticationFailed), true},
		{fmt.Errorf("join: %w", kafka.GroupAuthorizationFailed), true},
		{fmt.Errorf("dial: %w", x509.UnknownAuthorityError{}), true},
		{fmt.Errorf("dial: %w", &tls.CertificateVerificationError{Err: errors.New("x")}), true},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, true},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: internal error")}, false},
	}
	for _, tt := range tests {
		if got := kafkaauth.IsRejection(tt.err); got != tt.want {
			t.Errorf("IsRejection(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
