package daemon_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/exotel"
	"github.com/erasured/erasured/adapters/plivo"
	"github.com/erasured/erasured/adapters/webex"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/internal/daemon"
)

// TestBreakerConfigFromYAMLEnvAndDefaults: vendors.<name>.breaker is read
// from YAML over DefaultBreakerConfig, overridden from ERASURED_*, left at
// the defaults where silent, and a wrong field is named by its path.
func TestBreakerConfigFromYAMLEnvAndDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "erasured.yaml")
	yaml := `kafka:
  brokers: ["127.0.0.1:9092"]
vendors:
  plivo:
    enabled: true
    auth_id: MA1
    auth_token: {env: PLIVO_TOKEN}
    breaker:
      consecutive_failures: 7
      failure_ratio: 0
      half_open_probes: 1
  webex:
    enabled: true
    base_url: https://example.webexcampaign.io
    token: {env: PLIVO_TOKEN}
    breaker:
      enabled: false
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	environ := func() []string {
		return []string{"PLIVO_TOKEN=t", "ERASURED_VENDORS_PLIVO_BREAKER_COOLDOWN=45s"}
	}
	cfg, err := daemon.LoadConfig(path, environ)
	if err != nil {
		t.Fatal(err)
	}
	want := adapters.DefaultBreakerConfig()
	want.ConsecutiveFailures, want.FailureRatio, want.HalfOpenProbes, want.Cooldown = 7, 0, 1, 45*time.Second
	if got := daemon.Vendor[*plivo.Config](&cfg.Vendors).Breaker; got != want {
		t.Errorf("plivo breaker = %+v, want %+v", got, want)
	}
	if daemon.Vendor[*webex.Config](&cfg.Vendors).Breaker.Enabled {
		t.Error("webex breaker enabled despite enabled: false")
	}
	if got := daemon.Vendor[*exotel.Config](&cfg.Vendors).Breaker; got != adapters.DefaultBreakerConfig() {
		t.Errorf("exotel breaker = %+v, want the defaults", got)
	}

	daemon.Vendor[*plivo.Config](&cfg.Vendors).Breaker.Cooldown = 0
	var fe *config.FieldError
	if err := cfg.Validate(); !errors.As(err, &fe) || fe.Field != "vendors.plivo.breaker.cooldown" {
		t.Fatalf("Validate() = %v, want vendors.plivo.breaker.cooldown named", err)
	}
}
