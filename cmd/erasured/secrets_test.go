package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKafkaPasswordNeverPrinted runs check-config and run with a SCRAM
// password from the environment that SASLprep refuses (a trailing newline,
// as `echo` into a Secret leaves; a control character): both must refuse
// the configuration with exit code 2, name the password field, and print
// nothing of the password. The SCRAM library quotes the password in its
// error, and main prints what kafkaauth returns.
func TestKafkaPasswordNeverPrinted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "erasured.yaml")
	yaml := "kafka:\n  brokers: [\"127.0.0.1:1\"]\n  tls: {enabled: true}\nvendors:\n  plivo: {enabled: true, auth_id: MA1, auth_token: {env: T_TOKEN}}\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check-config", "run"} {
		for _, pw := range []struct{ label, value string }{
			{"trailing LF", "s3cret-value\n"}, {"trailing CRLF", "s3cret-value\r\n"}, {"BEL", "s3cret-value\x07"}, {"leading ESC", "\x1bs3cret-value"},
		} {
			for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"} {
				pass := pw.value
				t.Run(cmd+"/"+mech+"/"+pw.label, func(t *testing.T) {
					t.Parallel()
					env := []string{
						"T_TOKEN=plivo-token",
						"ERASURED_KAFKA_SASL_MECHANISM=" + mech,
						"ERASURED_KAFKA_SASL_USERNAME=erasured",
						"ERASURED_KAFKA_SASL_PASSWORD=" + pass,
					}
					p := startProcess(t, env, cmd, "-config", cfgFile)
					code := p.ExitCode(t, 20*time.Second)
					out := p.Output()
					if strings.Contains(out, "s3cret") {
						t.Errorf("output prints the password:\n%s", out)
					}
					if code != exitConfig {
						t.Errorf("exit code = %d, want %d; output:\n%s", code, exitConfig, out)
					}
					if !strings.Contains(out, "password") {
						t.Errorf("output does not say the password is the problem:\n%s", out)
					}
				})
			}
		}
	}
}

// TestCheckConfigWarnsWithoutFingerprintKey: check-config says when
// log.fingerprint_key is missing (a notice: the configuration is valid),
// and says nothing when it is set.
func TestCheckConfigWarnsWithoutFingerprintKey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	t.Parallel()
	cfgFile := filepath.Join(t.TempDir(), "erasured.yaml")
	yaml := "kafka:\n  brokers: [\"127.0.0.1:1\"]\nvendors:\n  plivo: {enabled: true, auth_id: MA1, auth_token: {env: T_TOKEN}}\n"
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  []string
		warn bool
	}{
		{"missing", nil, true},
		{"set", []string{"ERASURED_LOG_FINGERPRINT_KEY=fingerprint-k3y-of-at-least-32-bytes"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := startProcess(t, append(tt.env, "T_TOKEN=plivo-token"), "check-config", "-config", cfgFile)
			code := p.ExitCode(t, 20*time.Second)
			out := p.Output()
			if code != exitOK {
				t.Fatalf("exit code %d, want %d:\n%s", code, exitOK, out)
			}
			if got := strings.Contains(out, "log.fingerprint_key is not set"); got != tt.warn {
				t.Errorf("notice printed = %v, want %v:\n%s", got, tt.warn, out)
			}
			if strings.Contains(out, "fingerprint-k3y") {
				t.Errorf("output prints the key:\n%s", out)
			}
		})
	}
}
