package exotel

import (
	"testing"
	"time"

	"github.com/erasured/erasured/adapters"
	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

// TestLearnsExotelLimit: Exotel's per-minute window with X-RateLimit-*
// fields: paced by them, no 429 after the first window. The reset is sent
// as seconds here, not Exotel's Unix time: a synctest bubble's clock
// starts in 2000, below ParseXRateLimit's epoch threshold
// (TestParseXRateLimit covers the Unix form, the bench runs it).
func TestLearnsExotelLimit(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testSID, testKey, testToken, sandbox.Knobs{})
	lim := SandboxLimit
	lim.XRateLimit = sandbox.XRateLimitSeconds
	adaptertest.LearnsLimit(t, adaptertest.LearnCase{Harness: conformanceHarness(), Handler: sb, Chaos: sb.Chaos,
		Limit: lim, Config: adapters.DefaultLimitConfig(), For: 5 * time.Minute, Latency: 5 * time.Millisecond, Workers: 16})
}
