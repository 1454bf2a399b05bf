package adapters

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/erasured/erasured/adapters/sandbox"
)

// simResult counts what a simulated run against a sandbox limit saw.
type simResult struct {
	ok, throttled int
	// late counts 429s after the first window (after warm-up).
	lateOK, late429 int
	stats           LimiterStats
	// okAt is when each accepted request was sent.
	okAt []time.Time
}

// simulate drives workers requests at a time through a Limiter against a
// sandbox.Chaos enforcing lim, for d of fake time (synctest), each answer
// taking latency. The requests and the limiter share the bubble's clock.
func simulate(t *testing.T, lim sandbox.Limit, cfg LimitConfig, workers int, latency, d, warmup time.Duration) simResult {
	return simulateAt(t, 0, lim, cfg, workers, latency, d, warmup)
}

// simulateAt is simulate starting phase after a whole minute of the
// bubble's clock, which clock-aligned fixed windows start on.
func simulateAt(t *testing.T, phase time.Duration, lim sandbox.Limit, cfg LimitConfig, workers int, latency, d, warmup time.Duration) simResult {
	var res simResult
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(phase)
		c := sandbox.NewChaos(sandbox.Knobs{Limit: lim})
		l := NewLimiter(cfg, workers)
		start := time.Now()
		ctx, cancel := context.WithDeadline(context.Background(), start.Add(d))
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					p, err := l.Acquire(ctx)
					if err != nil {
						return
					}
					h := http.Header{}
					sent := time.Now()
					f := c.Decide(context.Background(), h)
					time.Sleep(latency)
					f.Release()
					l.Observe(h)
					var rerr error
					if f.Kind == sandbox.FaultThrottle {
						ra, _ := ParseRetryAfter(h.Get("Retry-After"), time.Now())
						rerr = &Error{Vendor: "v", Class: ClassRetryable, Status: 429, RetryAfter: ra}
					}
					l.Release(p, rerr)
					late := time.Since(start) >= warmup
					mu.Lock()
					if rerr != nil {
						res.throttled++
						if late {
							res.late429++
						}
					} else {
						res.ok++
						res.okAt = append(res.okAt, sent)
						if late {
							res.lateOK++
						}
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		res.stats = l.Stats()
	})
	return res
}

// TestLearnShapes runs the learner against each limit shape the sandboxes
// enforce, on fake time, and checks what it learned: a ceiling near the
// vendor's rate, few 429s once learned, and never more than a configured
// ceiling. The figures (goodput as a share of the limit) are the bench's;
// this logs them.
func TestLearnShapes(t *testing.T) {
	t.Parallel()
	type tc struct {
		name string
		lim  sandbox.Limit
		cfg  func(*LimitConfig)
		// rate is the vendor's sustained rate, for the learned ceiling.
		rate float64
		d    time.Duration
		// maxLate429 bounds the share of 429s after the first windows.
		maxLate429 float64
	}
	cases := []tc{
		{name: "token bucket 300/s", lim: sandbox.Limit{Shape: sandbox.TokenBucket, N: 300, Window: time.Second}, rate: 300, d: 30 * time.Second, maxLate429: 0.03},
		{name: "fixed window 300/1s", lim: sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: time.Second}, rate: 300, d: 30 * time.Second, maxLate429: 0.03},
		{name: "fixed window 300/1s, rejected count", lim: sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: time.Second, CountRejected: true}, rate: 300, d: 30 * time.Second, maxLate429: 0.03},
		{name: "fixed window 300/5s, no Retry-After (Plivo)", lim: sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, NoRetryAfter: true}, rate: 60, d: 60 * time.Second, maxLate429: 0.03},
		{name: "fixed window 200/60s", lim: sandbox.Limit{Shape: sandbox.FixedWindow, N: 200, Window: time.Minute}, rate: 200.0 / 60, d: 10 * time.Minute, maxLate429: 0.03},
		{name: "sliding window 300/1s", lim: sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second}, rate: 300, d: 30 * time.Second, maxLate429: 0.03},
		{name: "sliding window 300/1s, rejected count", lim: sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, CountRejected: true}, rate: 300, d: 30 * time.Second, maxLate429: 0.03},
		{name: "fixed window 300/5s with X-RateLimit", lim: sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, XRateLimit: sandbox.XRateLimitSeconds}, rate: 60, d: 30 * time.Second},
		// Seconds, not Exotel's Unix time: synctest's clock starts in 2000,
		// below ParseXRateLimit's epoch threshold (TestParseXRateLimit
		// covers the Unix form).
		{name: "fixed window 200/60s with X-RateLimit", lim: sandbox.Limit{Shape: sandbox.FixedWindow, N: 200, Window: time.Minute, XRateLimit: sandbox.XRateLimitSeconds}, rate: 200.0 / 60, d: 5 * time.Minute},
		{name: "sliding window 300/1s with IETF RateLimit", lim: sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, IETF: true}, rate: 300, d: 20 * time.Second},
		{name: "configured ceiling under the vendor's", lim: sandbox.Limit{Shape: sandbox.TokenBucket, N: 300, Window: time.Second}, cfg: func(c *LimitConfig) { c.MaxRate = 100 }, rate: 100, d: 20 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultLimitConfig()
			if c.cfg != nil {
				c.cfg(&cfg)
			}
			headers := c.lim.XRateLimit != sandbox.XRateLimitOff || c.lim.IETF
			warmup := 2*c.lim.Window + 10*time.Second
			if headers {
				warmup = c.lim.Window
			}
			r := simulate(t, c.lim, cfg, 32, 5*time.Millisecond, c.d, warmup)
			late := r.lateOK + r.late429
			goodput := float64(r.lateOK) / (c.d - warmup).Seconds()
			t.Logf("%d ok, %d 429; after warm-up %.1f/s (%.0f%% of %.1f/s), %d 429s (%.2f%%); learned ceiling %.1f, limit %.1f",
				r.ok, r.throttled, goodput, 100*goodput/c.rate, c.rate, r.late429, 100*float64(r.late429)/float64(max(1, late)), r.stats.Ceiling, r.stats.Limit)
			if headers && c.lim.Shape == sandbox.FixedWindow {
				if r.late429 != 0 {
					t.Errorf("%d 429s after the first window, with the budget in the header fields", r.late429)
				}
			} else if headers {
				// A sliding window's reset moves with every request: pacing
				// by it leaves a rare 429.
				if share := float64(r.late429) / float64(max(1, late)); share > 0.005 {
					t.Errorf("429s after the first window: %.2f%%, want under 0.1%%", 100*share)
				}
			} else if share := float64(r.late429) / float64(max(1, late)); share > c.maxLate429 {
				t.Errorf("429s after warm-up: %.2f%%, want under %.0f%%", 100*share, 100*c.maxLate429)
			}
			if cfg.MaxRate > 0 && r.stats.Limit > cfg.MaxRate {
				t.Errorf("limit %g above the configured ceiling %g", r.stats.Limit, cfg.MaxRate)
			}
			if r.lateOK == 0 || r.stats.Ceiling == 0 && cfg.MaxRate == 0 && !headers {
				t.Errorf("nothing learned: %+v", r.stats)
			}
		})
	}
}

// TestLearnConcurrencyCap: a 429 that means "too many requests in flight"
// (CleverTap) lowers the cap on requests in flight, not the rate.
func TestLearnConcurrencyCap(t *testing.T) {
	t.Parallel()
	cfg := DefaultLimitConfig()
	cfg.Throttle = ThrottleConcurrency
	lim := sandbox.Limit{Shape: sandbox.Concurrency, N: 15}
	r := simulate(t, lim, cfg, 64, 50*time.Millisecond, 60*time.Second, 10*time.Second)
	t.Logf("%d ok, %d 429; after warm-up %d ok, %d 429; cap %d, rate limit %g", r.ok, r.throttled, r.lateOK, r.late429, r.stats.MaxConcurrency, r.stats.Limit)
	if !math.IsInf(r.stats.Limit, 1) {
		t.Errorf("rate limit %g: a concurrency 429 must not lower the rate", r.stats.Limit)
	}
	// Between a cut (0.9 × 16 in flight = 14, or once more 12) and the
	// probe one above the vendor's cap.
	if r.stats.MaxConcurrency < 10 || r.stats.MaxConcurrency > 16 {
		t.Errorf("cap on requests in flight %d, want just under the vendor's 15", r.stats.MaxConcurrency)
	}
	if share := float64(r.late429) / float64(max(1, r.lateOK+r.late429)); share > 0.03 {
		t.Errorf("429s after warm-up: %.2f%%, want under 3%%", 100*share)
	}
}

// TestSetShare: a configured ceiling is the deployment's; a replica with
// a third of the partitions gets a third of it, and all of it back alone.
func TestSetShare(t *testing.T) {
	t.Parallel()
	cfg := DefaultLimitConfig()
	cfg.Rate, cfg.MaxRate, cfg.MaxConcurrency = 300, 300, 30
	l := NewLimiter(cfg, 64)
	l.SetShare(1.0 / 3)
	if s := l.Stats(); math.Abs(s.Limit-100) > 1e-9 || s.MaxConcurrency != 10 || s.Share != 1.0/3 {
		t.Fatalf("a third of 300/s and 30 in flight: %+v", s)
	}
	l.SetShare(1)
	if s := l.Stats(); s.Limit != 300 || s.MaxConcurrency != 30 {
		t.Fatalf("whole share: %+v", s)
	}
	l.SetShare(0) // no partitions: ignored
	if s := l.Stats(); s.Share != 1 {
		t.Fatalf("share 0 taken: %+v", s)
	}
	// A cap that was not configured is this process's connections: not shared.
	l2 := NewLimiter(DefaultLimitConfig(), 64)
	l2.SetShare(0.25)
	if s := l2.Stats(); s.MaxConcurrency != 64 || s.Limit != slowStartRate {
		t.Fatalf("unconfigured limits shared: %+v", s)
	}
}

// TestOnsetNearTheCeiling: an onset whose measure lies near the learned
// ceiling, as a sliding window's refusals do while the rate sits just
// under its limit, confirms the ceiling: it neither raises the rate nor
// cuts it by decrease_factor, nor walks the ceiling down episode after
// episode; and a refused probe goes back to the ceiling it began from
// whatever the band says. On fake time, the limiter's state set by hand.
// Before, a sliding window of 300/s saw its rate go up at every other
// refusal (270 to 288), a measure 1% over the ceiling cut the rate to 0.9
// (five refusals at 300/s under a ceiling of 310 stepped it down 1% each
// until one measured over it and cut the rate to 270), and a refused
// probe kept 1% under the probe's ceiling.
func TestOnsetNearTheCeiling(t *testing.T) {
	t.Parallel()
	type state struct{ ceiling, limit, probeFrom float64 }
	cases := []struct {
		name     string
		from     state
		accepted int // answers accepted per second before each 429
		episodes int
		check    func(t *testing.T, s LimiterStats)
	}{
		{"a refusal after a cut keeps the cut", state{300, 270, 0}, 295, 1, func(t *testing.T, s LimiterStats) {
			if s.Limit > 270 {
				t.Errorf("limit %g, want at most the 270 it was: a 429 never raises the rate", s.Limit)
			}
		}},
		{"a measure just over the ceiling confirms it", state{300, 291, 0}, 310, 1, func(t *testing.T, s LimiterStats) {
			if s.Limit < 291 || s.Ceiling < 300 || s.Ceiling > 311 {
				t.Errorf("%+v, want the rate kept at 291 and the ceiling between 300 and the 310 measured", s)
			}
		}},
		{"refusals at the measured rate keep the ceiling there", state{310, 300, 0}, 300, 5, func(t *testing.T, s LimiterStats) {
			if s.Ceiling < 297 || s.Ceiling > 310 || s.Limit < 285 {
				t.Errorf("%+v after five refusals at 300/s, want the ceiling near 300 and the rate just under it", s)
			}
		}},
		{"a refused probe goes back to where it began", state{315, 305.5, 300}, 300, 1, func(t *testing.T, s LimiterStats) {
			if math.Abs(s.Ceiling-300) > 6 {
				t.Errorf("ceiling %g after a probe from 300 to 315 was refused at 300/s, want about 300", s.Ceiling)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clk := newTestLimiter(func(cfg *LimitConfig) { cfg.Rate = 1000 })
			l.mu.Lock()
			l.learn.ceiling, l.learn.probeFrom, l.learn.onsets = c.from.ceiling, c.from.probeFrom, 1
			l.learn.onsetAt = clk.now()
			l.setLimitLocked(c.from.limit, clk.now())
			l.mu.Unlock()
			for range c.episodes {
				accept(l, clk, 2*c.accepted, 2*time.Second)
				l.Release(Permit{at: clk.now(), held: true}, throttle)
			}
			c.check(t, l.Stats())
		})
	}
}

// TestProbePauses: while the vendor keeps refusing, each refused probe
// pauses every request for a delay that doubles: from probeBase up to
// probeMax without Retry-After (a window may be Plivo's 5 s), from
// probeBaseShort up to probeMaxShort after Retry-After: 1 (up to a
// second). The first 429 of an episode pauses nothing. Before, a refused
// probe after Retry-After: 1 paused 100 ms, a tenth of a sliding window's
// second, where the window frees a place within milliseconds.
func TestProbePauses(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	cases := []struct {
		name       string
		retryAfter time.Duration
		want       []time.Duration
	}{
		{"no Retry-After", 0, []time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{"Retry-After: 1", time.Second, []time.Duration{0, 25 * ms, 50 * ms, 100 * ms, 200 * ms, 200 * ms}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, clk := newTestLimiter(func(cfg *LimitConfig) { cfg.Rate = 1000 })
			accept(l, clk, 100, time.Second)
			refused := &Error{Vendor: "v", Class: ClassRetryable, Status: 429, RetryAfter: c.retryAfter}
			var got []time.Duration
			for range c.want {
				before := l.Stats().Paused
				l.Release(Permit{at: clk.now(), held: true}, refused)
				d := l.Stats().Paused - before
				got = append(got, d)
				clk.add(d + time.Millisecond) // the next probe goes once the pause is over
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("pauses %v, want %v", got, c.want)
			}
		})
	}
}

// TestCeilingHoldsFromTheStart: a max_rate with no starting rate (Plivo's
// default) bounds the first requests too, not only what is learned after
// the first 429.
func TestCeilingHoldsFromTheStart(t *testing.T) {
	t.Parallel()
	cfg := DefaultLimitConfig()
	cfg.MaxRate = 60
	if got := NewLimiter(cfg, 0).Stats().Limit; got != 60 {
		t.Errorf("limit before any answer = %g, want the ceiling 60", got)
	}
}

// TestLearnWholeRun holds the learner to the bench's targets over a whole
// run from a cold start, on fake time: 64 requests in flight, as the
// daemon's connections, against windows of 300 a second: under 3% of
// answers 429 and goodput at least 90% of the limit (the bench's target is
// 95%, which these runs reach or miss by a point or two as the bubble's
// goroutines happen to interleave; the bar is the margin). Before the learner
// probed with one request at a time and kept a refused probe's ceiling,
// a sliding window settled at 70% with 5% 429s: the queued requests all
// went at each probe pause's end, and a ceiling measured across the
// learner's own pauses fell to 120/s.
func TestLearnWholeRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		lim  sandbox.Limit
	}{
		{"sliding window 300/1s", sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second}},
		{"sliding window 300/1s, rejected count", sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, CountRejected: true}},
		{"fixed window 300/1s", sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: time.Second}},
		{"token bucket 300/s", sandbox.Limit{Shape: sandbox.TokenBucket, N: 300, Window: time.Second}},
	}
	for _, c := range cases {
		for _, latency := range []time.Duration{time.Millisecond, 5 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s, %s", c.name, latency), func(t *testing.T) {
				t.Parallel()
				const d = 20 * time.Second
				r := simulate(t, c.lim, DefaultLimitConfig(), 64, latency, d, d)
				limit := float64(c.lim.N) / c.lim.Window.Seconds()
				good := float64(r.ok) / d.Seconds() / limit
				share := float64(r.throttled) / float64(max(1, r.ok+r.throttled))
				t.Logf("%s, %s: %d ok (%.1f%% of the limit), %d 429 (%.2f%%); ceiling %.1f, limit %.1f", c.name, latency, r.ok, 100*good, r.throttled, 100*share, r.stats.Ceiling, r.stats.Limit)
				if good < 0.90 {
					t.Errorf("goodput %.1f%% of the limit, want at least 90%%", 100*good)
				}
				if share >= 0.03 {
					t.Errorf("%.2f%% of answers 429, want under 3%%", 100*share)
				}
				// A sliding window admits its N over any second: measured
				// over less than a second (as it was, 0.9-1 s), its ceiling
				// read 3-4% high (308.5-312 for 300).
				if c.lim.Shape == sandbox.SlidingWindow && math.Abs(r.stats.Ceiling-limit) > 0.02*limit {
					t.Errorf("learned ceiling %.1f, want within 2%% of the window's %.0f/s", r.stats.Ceiling, limit)
				}
			})
		}
	}
}

// TestLearnCapColdStart: a cold start sends as many requests as there are
// connections; the vendor refuses those beyond its cap. The fewest in
// flight among the refused bound the cap in that one round, whatever
// order the answers come back in.
func TestLearnCapColdStart(t *testing.T) {
	t.Parallel()
	l, clk := newTestLimiter(func(c *LimitConfig) { c.Throttle = ThrottleConcurrency; c.MaxConcurrency = 64 })
	var ps []Permit
	for range 64 {
		p, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	clk.add(50 * time.Millisecond)
	// The vendor took 15; the 49 beyond were refused, the last sent
	// answered first.
	for i := 63; i >= 15; i-- {
		l.Release(ps[i], throttle)
	}
	for i := range 15 {
		l.Release(ps[i], nil)
	}
	s := l.Stats()
	t.Logf("after one round: cap %d, %d decreases", s.MaxConcurrency, s.Decreases)
	if s.MaxConcurrency > 15 || s.MaxConcurrency < 10 || s.Decreases != 1 {
		t.Errorf("cap %d after %d decreases, want one cut to under the vendor's 15", s.MaxConcurrency, s.Decreases)
	}
}

// TestLearnCapProbesLessOften: once the cap is known, a probe of one more
// in flight that the vendor refuses is not repeated every capProbeEvery:
// the hold doubles, so a long run sees few 429s.
func TestLearnCapProbesLessOften(t *testing.T) {
	t.Parallel()
	cfg := DefaultLimitConfig()
	cfg.Throttle = ThrottleConcurrency
	r := simulate(t, sandbox.Limit{Shape: sandbox.Concurrency, N: 15}, cfg, 64, 50*time.Millisecond, 10*time.Minute, 30*time.Second)
	t.Logf("%d ok, %d 429; after 30 s %d ok, %d 429; cap %d", r.ok, r.throttled, r.lateOK, r.late429, r.stats.MaxConcurrency)
	if r.late429 > 20 {
		t.Errorf("%d 429s after the first 30 s of 10 minutes, want at most 20 (a probe every 10 s would draw about 60)", r.late429)
	}
}

// TestSlowStart: with nothing configured the rate starts at slowStartRate
// and doubles every slowStartDoubling while requests wait for it (not
// while they do not), until slowStartTop lifts it; the first 429, a
// concurrency 429, a failed answer or the header fields end the ramp.
func TestSlowStart(t *testing.T) {
	t.Parallel()
	// ramp feeds a success every step for n steps, with requests waiting
	// for the rate (saturated) or not.
	ramp := func(l *Limiter, clk *fakeClock, n int, saturated bool) {
		for range n {
			l.saturated.Store(saturated)
			clk.add(slowStartDoubling)
			l.Release(Permit{at: clk.now(), held: true}, nil)
		}
	}
	t.Run("doubles only while requests wait, then lifts", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(*LimitConfig) {})
		ramp(l, clk, 1, true) // the first answer starts the clock
		ramp(l, clk, 3, false)
		if got := l.Stats().Limit; got != slowStartRate {
			t.Fatalf("limit %g after answers nobody waited for, want %d", got, slowStartRate)
		}
		ramp(l, clk, 3, true)
		if got := l.Stats().Limit; got != 8*slowStartRate {
			t.Fatalf("limit %g after three doublings, want %d", got, 8*slowStartRate)
		}
		ramp(l, clk, 10, true)
		if got := l.Stats(); !math.IsInf(got.Limit, 1) || got.Ceiling != 0 {
			t.Fatalf("after the ramp: %+v, want no limit and nothing learned", got)
		}
	})
	t.Run("a 429 ends it with a learned ceiling", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(*LimitConfig) {})
		ramp(l, clk, 4, true)
		accept(l, clk, 300, time.Second)
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		s := l.Stats()
		if s.Ceiling < 250 || s.Ceiling > 310 || math.Abs(s.Limit-0.9*s.Ceiling) > 1 {
			t.Fatalf("after a 429: %+v, want a ceiling near the 300/s accepted and the rate 0.9 × it", s)
		}
		ramp(l, clk, 20, true)
		if got := l.Stats().Limit; got > s.Ceiling {
			t.Fatalf("limit %g climbed past the ceiling %g: the ramp did not end", got, s.Ceiling)
		}
	})
	t.Run("a concurrency 429 lifts the rate", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Throttle = ThrottleConcurrency; c.MaxConcurrency = 64 })
		ramp(l, clk, 2, true)
		l.Release(Permit{at: clk.now(), held: true, inFlight: 20}, throttle)
		if got := l.Stats(); !math.IsInf(got.Limit, 1) || got.MaxConcurrency > 20 {
			t.Fatalf("after a concurrency 429: %+v, want no rate and a cap under 20", got)
		}
	})
	t.Run("a failed answer lifts the rate", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(*LimitConfig) {})
		ramp(l, clk, 2, true)
		clk.add(time.Millisecond)
		l.Release(Permit{at: clk.now(), held: true}, &Error{Vendor: "v", Class: ClassRetryable, Status: 503})
		if got := l.Stats(); !math.IsInf(got.Limit, 1) || l.learn.slowStart {
			t.Fatalf("after a 503: %+v, want no rate: a failing vendor is its breaker's to pace", got)
		}
	})
	t.Run("header fields end it", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(*LimitConfig) {})
		l.Observe(http.Header{"X-Ratelimit-Limit": {"300"}, "X-Ratelimit-Remaining": {"299"}, "X-Ratelimit-Reset": {"1"}})
		ramp(l, clk, 1, true)
		if l.learn.slowStart {
			t.Fatal("still ramping up with the budget in the header fields")
		}
	})
	t.Run("configured rates and decrease_factor 1 do not ramp", func(t *testing.T) {
		t.Parallel()
		for _, edit := range []func(*LimitConfig){
			func(c *LimitConfig) { c.Rate = 50 },
			func(c *LimitConfig) { c.MaxRate = 500 },
			func(c *LimitConfig) { c.DecreaseFactor = 1 },
		} {
			l, _ := newTestLimiter(edit)
			if l.learn.slowStart {
				t.Errorf("%+v ramps up", l.cfg)
			}
		}
	})
}

// TestSlowStartSparesTheFirstWindow is the cold start against a fixed
// window of 300 per 5 s, on fake time: 64 workers, answers in 1 ms.
// Starting without a rate, every request in flight when the quota ran out
// was refused (20 here); ramping up, only the few sent while the first 429
// comes back are (3), and the window's quota is still all taken.
func TestSlowStartSparesTheFirstWindow(t *testing.T) {
	t.Parallel()
	lim := sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, CountRejected: true}
	r := simulate(t, lim, DefaultLimitConfig(), 64, time.Millisecond, lim.Window-time.Millisecond, lim.Window)
	t.Logf("first window: %d accepted, %d refused; limit %g", r.ok, r.throttled, r.stats.Limit)
	if r.ok != lim.N {
		t.Errorf("%d accepted in the first window, want its quota %d", r.ok, lim.N)
	}
	if r.throttled > 8 {
		t.Errorf("%d refused in the first window, want a handful (20 without the ramp)", r.throttled)
	}
}

// TestRampEchoIsNotAnOnset is the cold start against a sliding window of
// 300/s that counts rejected requests, on fake time: 64 workers, answers
// in 1 ms. Once the window the ramp's burst shut reopens, it frees places
// as slowly as the ramp began; the 429s of that echo pause, but do not
// cut the rate again. Before, they were five more onsets within 0.2 s,
// which cut the rate to 245/s and the ceiling to 278.
func TestRampEchoIsNotAnOnset(t *testing.T) {
	t.Parallel()
	lim := sandbox.Limit{Shape: sandbox.SlidingWindow, N: 300, Window: time.Second, CountRejected: true}
	r := simulate(t, lim, DefaultLimitConfig(), 64, time.Millisecond, 3*time.Second, 3*time.Second)
	t.Logf("3 s: %d accepted, %d refused; %+v", r.ok, r.throttled, r.stats)
	if r.stats.Decreases > 2 {
		t.Errorf("%d decreases in the first 3 s, want the ramp's first 429 and at most one more", r.stats.Decreases)
	}
	if r.stats.Ceiling < 0.95*300 {
		t.Errorf("ceiling %.1f, want near the window's 300/s", r.stats.Ceiling)
	}
}

// TestFixedWindowEarlyReset is a fixed window of 300 per 5 s that answers
// Retry-After in whole seconds, on fake time, at start phases across the
// window: 64 workers, answers in 1 ms. The first onset measured between
// two onsets paces the rate at the window's average; the pause for its
// Retry-After, rounded up, overshot the reset by up to a second, and the
// window after it lost that much: 93-98% of windows 1 to 3 by phase
// (82% of the third). Ending those pauses a second early takes them all.
func TestFixedWindowEarlyReset(t *testing.T) {
	t.Parallel()
	lim := sandbox.Limit{Shape: sandbox.FixedWindow, N: 300, Window: 5 * time.Second, CountRejected: true}
	for _, phase := range []time.Duration{0, 700 * time.Millisecond, 2100 * time.Millisecond, 3500 * time.Millisecond} {
		t.Run(phase.String(), func(t *testing.T) {
			t.Parallel()
			r := simulateAt(t, phase, lim, DefaultLimitConfig(), 64, time.Millisecond, 20*time.Second, 20*time.Second)
			// The bubble starts at midnight: window k is [5k s, 5k+5 s)
			// after it, and the run starts phase into window 0.
			perWindow := map[int64]int{}
			for _, at := range r.okAt {
				perWindow[at.Unix()%60/5]++
			}
			whole := perWindow[1] + perWindow[2] + perWindow[3]
			share := float64(r.throttled) / float64(r.ok+r.throttled)
			t.Logf("windows 1-3: %d, %d, %d accepted (%.1f%% of their quota); %d 429s (%.2f%%)", perWindow[1], perWindow[2], perWindow[3], 100*float64(whole)/900, r.throttled, 100*share)
			if whole < 0.98*900 {
				t.Errorf("%d accepted in windows 1 to 3, want at least 98%% of their 900", whole)
			}
			if share >= 0.03 {
				t.Errorf("%.2f%% of answers 429, want under 3%%", 100*share)
			}
		})
	}
}
