package daemon_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// TestExampleConfigLoads keeps deployments/erasured.example.yaml honest:
// it must load and validate once its secrets exist.
// Not parallel: {env: NAME} secrets read the process environment.
func TestExampleConfigLoads(t *testing.T) {
	data, err := os.ReadFile("../../deployments/erasured.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.ReplaceAll(string(data), "/var/run/secrets/erasured", dir)
	for _, name := range []string{"plivo-auth-token", "webex-token", "exotel-api-token"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("secret-"+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "erasured.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := func() []string { return []string{"CLEVERTAP_PASSCODE=pc", "ERASURED_KAFKA_MAX_IN_FLIGHT=128"} }
	t.Setenv("CLEVERTAP_PASSCODE", "pc")
	cfg, err := daemon.LoadConfig(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.MaxInFlight != 128 {
		t.Errorf("env override ignored: max_in_flight = %d", cfg.Kafka.MaxInFlight)
	}
	if got := daemon.Vendor[*plivo.Config](&cfg.Vendors).AuthToken.Reveal(); got != "secret-plivo-auth-token" {
		t.Errorf("plivo token from file = %q", got)
	}
	if cfg.ShutdownTimeout != 30*time.Second || cfg.Kafka.DrainTimeout != 10*time.Second {
		t.Errorf("timeouts = %s / %s", cfg.ShutdownTimeout, cfg.Kafka.DrainTimeout)
	}
}

func TestConfigValidateNamesField(t *testing.T) {
	t.Parallel()
	base := func() *daemon.Config {
		d := daemon.DefaultConfig()
		c := &d
		c.Kafka.Brokers = []string{"127.0.0.1:9092"}
		daemon.Vendor[*plivo.Config](&c.Vendors).Enabled = true
		daemon.Vendor[*plivo.Config](&c.Vendors).AuthID = "MA1"
		daemon.Vendor[*plivo.Config](&c.Vendors).AuthToken = config.NewSecret("t")
		return c
	}
	tests := []struct {
		name  string
		edit  func(*daemon.Config)
		field string
	}{
		{"no brokers", func(c *daemon.Config) { c.Kafka.Brokers = nil }, "kafka.brokers"},
		{"same topics", func(c *daemon.Config) { c.DeadLetter.Topic = "user-deleted" }, "dead_letter.topic"},
		{"no vendor", func(c *daemon.Config) { daemon.Vendor[*plivo.Config](&c.Vendors).Enabled = false }, "vendors"},
		{"vendor field", func(c *daemon.Config) { daemon.Vendor[*plivo.Config](&c.Vendors).AuthID = "" }, "vendors.plivo.auth_id"},
		{"vendor retry", func(c *daemon.Config) { daemon.Vendor[*plivo.Config](&c.Vendors).Retry.MaxAttempts = -1 }, "vendors.plivo.retry.max_attempts"},
		{"log level", func(c *daemon.Config) { c.Log.Level = "loud" }, "log.level"},
		{"log format", func(c *daemon.Config) { c.Log.Format = "xml" }, "log.format"},
		{"shutdown below drain", func(c *daemon.Config) { c.ShutdownTimeout = time.Second }, "shutdown_timeout"},
		{"event size", func(c *daemon.Config) { c.Event.MaxBytes = 10 }, "event.max_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := base()
			tt.edit(c)
			err := c.Validate()
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
	c := base()
	if err := c.Validate(); err != nil {
		t.Errorf("base config invalid: %v", err)
	}
	// An empty log.format means auto: no default needed.
	for _, f := range []string{"", "auto", "json", "console"} {
		c.Log.Format = f
		if err := c.Validate(); err != nil {
			t.Errorf("log.format %q: %v", f, err)
		}
	}
}
