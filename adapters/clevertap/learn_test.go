package clevertap

import (
	"net/http"
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
	"github.com/erasured/erasured/event"
)

// TestLearnsCleverTapCap: CleverTap's 429 is "too many concurrent
// requests": its default limit (throttle: concurrency) lowers the cap on
// batches in flight, never the rate. Batches of one, so the cap is
// pressed.
func TestLearnsCleverTapCap(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testAccount, testPasscode, sandbox.Knobs{})
	h := adaptertest.Harness{Name: Name, Event: func() *event.UserDeleted { return identityEvent("learn-user-1") }}
	adaptertest.LearnsLimit(t, adaptertest.LearnCase{Harness: h, Handler: sb, Chaos: sb.Chaos,
		Limit: SandboxLimit, Config: DefaultLimit(), For: time.Minute, Latency: 50 * time.Millisecond, Workers: 64,
		NewLimited: func(baseURL string, client *http.Client, retry adapters.RetryConfig, l *adapters.Limiter) (adapters.Adapter, error) {
			cfg := validConfig(baseURL)
			cfg.Retry, cfg.BatchSize = retry, 1
			return New(cfg, client, WithLimiter(l)), cfg.Validate()
		}})
}
