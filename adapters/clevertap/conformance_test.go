package clevertap

import (
	"net/http"
	"testing"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/event"
)

// TestConformance runs the checks every adapter shares: Retry-After,
// cancellation, timeouts, redirects, leaks and classification, with
// batching as configured by default and with one request per event.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		batch int
	}{{"batched", MaxBatch}, {"unbatched", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			adaptertest.Run(t, adaptertest.Harness{
				Name: Name,
				New: func(t testing.TB, baseURL string, client *http.Client, retry adapters.RetryConfig) adapters.Adapter {
					cfg := validConfig(baseURL)
					cfg.Retry, cfg.BatchSize = retry, tc.batch
					if err := cfg.Validate(); err != nil {
						t.Fatalf("config: %v", err)
					}
					return New(cfg, client)
				},
				Sandbox: func() http.Handler { return NewSandbox(testAccount, testPasscode, sandbox.Knobs{}) },
				Event:   func() *event.UserDeleted { return identityEvent("conformance-user-1") },
				Throttle: func(w http.ResponseWriter, _ *http.Request) {
					writeFail(w, http.StatusTooManyRequests, http.StatusTooManyRequests, failMessage(http.StatusTooManyRequests))
				},
				Secrets: []string{testPasscode},
			})
		})
	}
}
