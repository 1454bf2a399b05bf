package daemon_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// TestParkConfigFromYAMLEnvAndDefaults: retry.inline_budget, retry.topic,
// paused and vendors.pause_file are read from YAML and ERASURED_*, default
// where silent, and wrong values are named by their path.
func TestParkConfigFromYAMLEnvAndDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "erasured.yaml")
	yaml := `kafka:
  brokers: ["127.0.0.1:9092"]
vendors:
  pause_file: /etc/erasured/pause/paused
  plivo:
    enabled: true
    auth_id: MA1
    auth_token: {env: PLIVO_TOKEN}
    paused: true
    retry:
      inline_budget: 45s
  webex:
    enabled: true
    base_url: https://example.webexcampaign.io
    token: {env: PLIVO_TOKEN}
    retry:
      topic: erasure.webex.retry
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := func() []string {
		return []string{"PLIVO_TOKEN=t", "ERASURED_VENDORS_WEBEX_RETRY_INLINE_BUDGET=10s"}
	}
	cfg, err := daemon.LoadConfig(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	if !daemon.Vendor[*plivo.Config](&cfg.Vendors).Paused || daemon.Vendor[*webex.Config](&cfg.Vendors).Paused || cfg.Vendors.PauseFile != "/etc/erasured/pause/paused" {
		t.Errorf("paused: plivo %v webex %v, pause_file %q", daemon.Vendor[*plivo.Config](&cfg.Vendors).Paused, daemon.Vendor[*webex.Config](&cfg.Vendors).Paused, cfg.Vendors.PauseFile)
	}
	if daemon.Vendor[*plivo.Config](&cfg.Vendors).Retry.InlineBudget != 45*time.Second || daemon.Vendor[*webex.Config](&cfg.Vendors).Retry.InlineBudget != 10*time.Second || daemon.Vendor[*exotel.Config](&cfg.Vendors).Retry.InlineBudget != 30*time.Second {
		t.Errorf("inline budgets %s %s %s, want 45s 10s 30s (default)", daemon.Vendor[*plivo.Config](&cfg.Vendors).Retry.InlineBudget, daemon.Vendor[*webex.Config](&cfg.Vendors).Retry.InlineBudget, daemon.Vendor[*exotel.Config](&cfg.Vendors).Retry.InlineBudget)
	}
	topics := cfg.RetryTopics()
	t.Logf("retry topics: %v", topics)
	if topics["plivo"] != "user-deleted.retry.plivo" || topics["webex"] != "erasure.webex.retry" || len(topics) != 2 {
		t.Errorf("retry topics %v", topics)
	}

	for _, tc := range []struct {
		field  string
		mutate func(*daemon.Config)
	}{
		{"vendors.plivo.retry.inline_budget", func(c *daemon.Config) { daemon.Vendor[*plivo.Config](&c.Vendors).Retry.InlineBudget = 0 }},
		{"vendors.plivo.retry.topic", func(c *daemon.Config) { daemon.Vendor[*plivo.Config](&c.Vendors).Retry.Topic = c.Kafka.Topic }},
		{"vendors.plivo.retry.topic", func(c *daemon.Config) { daemon.Vendor[*plivo.Config](&c.Vendors).Retry.Topic = c.DeadLetter.Topic }},
		{"vendors.webex.retry.topic", func(c *daemon.Config) {
			daemon.Vendor[*webex.Config](&c.Vendors).Retry.Topic = "user-deleted.retry.plivo"
		}},
	} {
		c := cfg.Clone()
		tc.mutate(c)
		err := c.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("%s: error %v, want one naming it", tc.field, err)
		}
	}
}
