package daemon_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// TestFingerprintKeyConfig: log.fingerprint_key from the environment or a
// file keys the user fingerprint, the same for every process given the
// same key; a short key is refused on its field without being quoted; no
// key is a notice and a random key per process.
func TestFingerprintKeyConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(path, []byte("kafka: {brokers: [\"127.0.0.1:1\"]}\nvendors:\n  plivo: {enabled: true, auth_id: MA1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const key = "k3y-shared-by-every-replica-0123456789"
	keyFile := filepath.Join(dir, "fingerprint-key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(env ...string) (*daemon.Config, error) {
		return daemon.LoadConfig(path, func() []string { return append(env, "ERASURED_VENDORS_PLIVO_AUTH_TOKEN=tok") })
	}
	fp := func(env ...string) (string, []string) {
		t.Helper()
		cfg, err := load(env...)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Fingerprinter().Fingerprint("user-000001"), cfg.Notices()
	}

	fromEnv, w1 := fp("ERASURED_LOG_FINGERPRINT_KEY=" + key)
	fromFile, w2 := fp("ERASURED_LOG_FINGERPRINT_KEY_FILE=" + keyFile)
	if fromEnv == "" || fromEnv != fromFile {
		t.Errorf("one key from env and from a file: %q, %q", fromEnv, fromFile)
	}
	if names(w1, "log.fingerprint_key") || names(w2, "log.fingerprint_key") {
		t.Errorf("notices with a key set: %q %q", w1, w2)
	}
	if other, _ := fp("ERASURED_LOG_FINGERPRINT_KEY=" + key + "-rotated"); other == fromEnv {
		t.Error("another key gives the same fingerprint")
	}
	noKey1, w := fp()
	noKey2, _ := fp()
	if noKey1 == "" || noKey1 == noKey2 || noKey1 == fromEnv {
		t.Errorf("without a key: %q and %q, want two random-key fingerprints", noKey1, noKey2)
	}
	if !names(w, "log.fingerprint_key") {
		t.Errorf("without a key, notices %q, want one naming log.fingerprint_key", w)
	}

	_, err := load("ERASURED_LOG_FINGERPRINT_KEY=short-k3y-value")
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Field != "log.fingerprint_key" {
		t.Fatalf("short key: %v, want an error on log.fingerprint_key", err)
	}
	if strings.Contains(err.Error(), "short-k3y") || strings.Contains(err.Error(), "15") {
		t.Errorf("the error quotes the key or its length: %v", err)
	}
}

// names reports whether one of notices mentions field.
func names(notices []string, field string) bool {
	for _, n := range notices {
		if strings.Contains(n, field) {
			return true
		}
	}
	return false
}
