package plivo

import (
	"net/http"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

// TestConformance runs the checks every adapter shares: Retry-After,
// cancellation, timeouts, redirects, leaks and classification.
func TestConformance(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Harness{
		Name: Name,
		New: func(t testing.TB, baseURL string, client *http.Client, retry adapters.RetryConfig) adapters.Adapter {
			cfg := DefaultConfig()
			cfg.Enabled, cfg.BaseURL, cfg.AuthID, cfg.AuthToken, cfg.Retry = true, baseURL, testAuthID, config.NewSecret(testToken), retry
			if err := cfg.Validate(); err != nil {
				t.Fatalf("config: %v", err)
			}
			return New(cfg, client)
		},
		Sandbox: func() http.Handler { return NewSandbox(testAuthID, testToken, sandbox.Knobs{}) },
		Event:   func() *event.UserDeleted { return profileEvent(testProfile) },
		Throttle: func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusTooManyRequests, "too many requests")
		},
		Secrets: []string{testToken},
	})
}
