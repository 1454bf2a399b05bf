package webex

import (
	"net/http"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/event"
)

// TestConformance runs the checks every adapter shares: Retry-After,
// cancellation, timeouts, redirects, leaks and classification.
func TestConformance(t *testing.T) {
	t.Parallel()
	adaptertest.Run(t, adaptertest.Harness{
		Name: Name,
		New: func(t testing.TB, baseURL string, client *http.Client, retry adapters.RetryConfig) adapters.Adapter {
			cfg := validConfig(baseURL)
			cfg.Retry = retry
			if err := cfg.Validate(); err != nil {
				t.Fatalf("config: %v", err)
			}
			return New(cfg, client)
		},
		Sandbox: func() http.Handler { return NewSandbox(testToken, sandbox.Knobs{}) },
		Event:   func() *event.UserDeleted { return newEvent(testKey) },
		Throttle: func(w http.ResponseWriter, _ *http.Request) {
			(&Sandbox{}).writeCode(w, "429")
		},
		Secrets: []string{testToken},
	})
}
