package adapters

import (
	"testing"
	"time"
)

func TestProbeBudget(t *testing.T) {
	t.Parallel()
	def := DefaultBreakerConfig()
	off := def
	off.Enabled = false
	ratioOnly := def
	ratioOnly.ConsecutiveFailures = 0
	for _, tc := range []struct {
		name     string
		cfg      BreakerConfig
		inFlight int
		d        time.Duration
		want     int
	}{
		{"defaults, one minute", def, 64, time.Minute, 20 + 63 + 3*2},
		{"before the first cooldown ends", def, 64, 29 * time.Second, 20 + 63},
		{"one request at a time", def, 1, 90 * time.Second, 20 + 3*3},
		{"no cap given counts one", def, 0, 0, 20},
		{"breaker off", off, 64, time.Minute, -1},
		{"failure ratio only", ratioOnly, 64, time.Minute, -1},
	} {
		if got := tc.cfg.ProbeBudget(tc.inFlight, tc.d); got != tc.want {
			t.Errorf("%s: ProbeBudget(%d, %s) = %d, want %d", tc.name, tc.inFlight, tc.d, got, tc.want)
		}
	}
}
