package webex

import (
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

// TestLearnsWebexLimits: Webex's fixed window ("throttle limit reached for
// the time window"), and the other time-based shapes, through the real
// adapter.
func TestLearnsWebexLimits(t *testing.T) {
	t.Parallel()
	for name, lim := range map[string]sandbox.Limit{
		"fixed window 300/1s":              SandboxLimit,
		"fixed window 300/1s, counted":     {Shape: sandbox.FixedWindow, N: 300, Window: time.Second, CountRejected: true},
		"token bucket 300/1s":              {Shape: sandbox.TokenBucket, N: 300, Window: time.Second},
		"sliding window 300/1s":            {Shape: sandbox.SlidingWindow, N: 300, Window: time.Second},
		"sliding window 300/1s, counted":   {Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, CountRejected: true},
		"sliding window 300/1s, RateLimit": {Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, IETF: true},
		"fixed window 300/5s, X-RateLimit": {Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, XRateLimit: sandbox.XRateLimitSeconds},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := conformanceHarness()
			sb := h.Sandbox().(*Sandbox)
			adaptertest.LearnsLimit(t, adaptertest.LearnCase{Harness: h, Handler: sb, Chaos: sb.Chaos,
				Limit: lim, Config: adapters.DefaultLimitConfig(), For: 30 * time.Second, Latency: 5 * time.Millisecond, Workers: 32})
		})
	}
}
