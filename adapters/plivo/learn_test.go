package plivo

import (
	"testing"
	"time"

	"github.com/erasured/erasured/adapters/adaptertest"
	"github.com/erasured/erasured/adapters/sandbox"
)

// TestLearnsPlivoLimit: Plivo's fixed window of 300 per 5 s, 429 without
// Retry-After, learned through the real adapter under its default limit.
func TestLearnsPlivoLimit(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testAuthID, testToken, sandbox.Knobs{})
	adaptertest.LearnsLimit(t, adaptertest.LearnCase{Harness: conformanceHarness(), Handler: sb, Chaos: sb.Chaos,
		Limit: SandboxLimit, Config: DefaultLimit(), For: time.Minute, Latency: 5 * time.Millisecond, Workers: 32})
}

// TestLearnsPlivoLimitUnconfigured: the same without the documented
// ceiling: the learner finds the window itself.
func TestLearnsPlivoLimitUnconfigured(t *testing.T) {
	t.Parallel()
	sb := NewSandbox(testAuthID, testToken, sandbox.Knobs{})
	cfg := DefaultLimit()
	cfg.MaxRate = 0
	adaptertest.LearnsLimit(t, adaptertest.LearnCase{Harness: conformanceHarness(), Handler: sb, Chaos: sb.Chaos,
		Limit: SandboxLimit, Config: cfg, For: time.Minute, Latency: 5 * time.Millisecond, Workers: 32})
}
