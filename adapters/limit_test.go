package adapters

import (
	"context"
	"errors"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/erasured/erasured/config"
	"github.com/erasured/erasured/event"
)

func TestLimitConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(*LimitConfig)
		wantField string
	}{
		{"zero value learns", func(*LimitConfig) {}, ""},
		{"configured rate", func(c *LimitConfig) {
			c.Rate = 10
			c.MaxRate = 20
			c.Burst = 5
			c.MaxConcurrency = 4
			c.IncreaseStep = 1
			c.DecreaseFactor = 0.5
		}, ""},
		{"slow vendor gets a matching floor", func(c *LimitConfig) { c.Rate = 0.2 }, ""},
		{"negative rate", func(c *LimitConfig) { c.Rate = -1 }, "rate"},
		{"infinite rate", func(c *LimitConfig) { c.Rate = math.Inf(1) }, "rate"},
		{"max below rate", func(c *LimitConfig) { c.Rate = 10; c.MaxRate = 5 }, "max_rate"},
		{"negative max", func(c *LimitConfig) { c.MaxRate = -1 }, "max_rate"},
		{"min above rate", func(c *LimitConfig) { c.Rate = 10; c.MinRate = 20 }, "min_rate"},
		{"min above max", func(c *LimitConfig) { c.MaxRate = 10; c.MinRate = 20 }, "min_rate"},
		{"negative min", func(c *LimitConfig) { c.MinRate = -1 }, "min_rate"},
		{"negative burst", func(c *LimitConfig) { c.Burst = -1 }, "burst"},
		{"negative concurrency", func(c *LimitConfig) { c.MaxConcurrency = -1 }, "max_concurrency"},
		{"negative step", func(c *LimitConfig) { c.IncreaseStep = -1 }, "increase_step"},
		{"factor above one", func(c *LimitConfig) { c.DecreaseFactor = 1.5 }, "decrease_factor"},
		{"negative factor", func(c *LimitConfig) { c.DecreaseFactor = -0.5 }, "decrease_factor"},
		{"negative pause", func(c *LimitConfig) { c.MaxPause = -time.Second }, "max_pause"},
		// Zeros the operator wrote are kept: valid where zero means
		// automatic, errors where it means nothing.
		{"zero min_rate is automatic", func(c *LimitConfig) { c.MinRate = 0 }, ""},
		{"automatic floor under a slow max_rate", func(c *LimitConfig) { c.MaxRate = 0.5 }, ""},
		{"zero decrease_factor", func(c *LimitConfig) { c.DecreaseFactor = 0 }, "decrease_factor"},
		{"zero max_pause", func(c *LimitConfig) { c.MaxPause = 0 }, "max_pause"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultLimitConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if f := c.floor(); f <= 0 || (c.Rate > 0 && f > c.Rate) || (c.MaxRate > 0 && f > c.MaxRate) {
					t.Errorf("floor %g not sensible for %+v", f, c)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.wantField || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("Validate = %v, want an invalid %q", err, tt.wantField)
			}
		})
	}
}

func TestIsThrottled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{&Error{Class: ClassRetryable, Status: 429}, true},
		{&Error{Class: ClassRetryable, Status: 200, Code: "429"}, true},
		{&Error{Class: ClassPermanent, Status: 400, Code: "429"}, false},
		{&Error{Class: ClassRetryable, Status: 503}, false},
	}
	for _, tt := range tests {
		if got := IsThrottled(tt.err); got != tt.want {
			t.Errorf("IsThrottled(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// fakeClock drives a Limiter's notion of now in tests that only call
// Release, which never sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestLimiter(edit func(*LimitConfig)) (*Limiter, *fakeClock) {
	cfg := DefaultLimitConfig()
	edit(&cfg)
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := NewLimiter(cfg, 0)
	l.now = clk.now
	return l, clk
}

var throttle = &Error{Vendor: "v", Class: ClassRetryable, Status: 429}

// accept feeds n accepted answers spread evenly over d.
func accept(l *Limiter, clk *fakeClock, n int, d time.Duration) {
	for i := 0; i < n; i++ {
		clk.add(d / time.Duration(n))
		l.Release(Permit{at: clk.now(), held: true}, nil)
	}
}

func TestLimiterAIMD(t *testing.T) {
	t.Parallel()

	t.Run("a 429 cuts the rate to a fraction of what the vendor accepted", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 1000 })
		accept(l, clk, 200, 2*time.Second) // 100 per second accepted
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		got := l.Stats()
		if got.Limit < 85 || got.Limit > 95 || got.Decreases != 1 || got.Throttled != 1 {
			t.Fatalf("after a 429: %+v, want limit near 0.9 × 100", got)
		}
	})

	t.Run("one decrease per episode of 429s", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 100 })
		clk.add(time.Second)
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		first := l.Stats().Limit
		if first != 90 {
			t.Fatalf("limit after the first 429 = %g, want 90", first)
		}
		// More 429s with no success between are the same shut window.
		for i := 0; i < 5; i++ {
			clk.add(time.Millisecond)
			l.Release(Permit{at: clk.now(), held: true}, throttle)
		}
		if got := l.Stats(); got.Limit != first || got.Throttled != 6 || got.Decreases != 1 {
			t.Errorf("429s of one episode changed the limit: %+v", got)
		}
		// A success ends the episode; the next 429 is a new onset.
		clk.add(time.Millisecond)
		l.Release(Permit{at: clk.now(), held: true}, nil)
		clk.add(time.Millisecond)
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		if got := l.Stats().Decreases; got != 2 {
			t.Errorf("decreases after a new onset = %d, want 2", got)
		}
	})

	t.Run("decreases stop at min_rate", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 10; c.MinRate = 5; c.DecreaseFactor = 0.5 })
		for i := 0; i < 5; i++ {
			clk.add(time.Second)
			l.Release(Permit{at: clk.now(), held: true}, throttle)
		}
		if got := l.Stats().Limit; got != 5 {
			t.Errorf("limit = %g, want the floor 5", got)
		}
	})

	t.Run("a ramp until the vendor throttles, then a learned limit", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(*LimitConfig) {})
		if got := l.Stats().Limit; got != slowStartRate {
			t.Fatalf("initial limit %g, want the slow start's %d", got, slowStartRate)
		}
		// A 429 with nothing accepted yet gives nothing to learn from.
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		if got := l.Stats(); got.Limit != slowStartRate || got.Ceiling != 0 {
			t.Fatalf("after a 429 with no measure: %+v, want the slow start's rate and no ceiling", got)
		}
		accept(l, clk, 400, 2*time.Second)
		clk.add(time.Millisecond)
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		if got := l.Stats().Limit; got < 170 || got > 190 {
			t.Errorf("learned limit %g, want near 0.9 × 200", got)
		}
	})

	t.Run("recovers multiplicatively to just under the ceiling, only while requests wait for tokens", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 100; c.MaxRate = 200; c.IncreaseStep = 10 })
		clk.add(time.Second)
		l.Release(Permit{at: clk.now(), held: true}, throttle) // ceiling 100, limit 90
		// Not saturated: no growth.
		clk.add(time.Second)
		l.Release(Permit{at: clk.now(), held: true}, nil)
		if got := l.Stats().Limit; got != 90 {
			t.Fatalf("limit grew to %g without demand", got)
		}
		// One saturated second halves the gap to 100 × recoverTo twice.
		l.saturated.Store(true)
		clk.add(time.Second)
		l.Release(Permit{at: clk.now(), held: true}, nil)
		if got, want := l.Stats().Limit, 100*recoverTo-(100*recoverTo-90)/4; math.Abs(got-want) > 1e-9 {
			t.Fatalf("limit after a saturated second = %g, want %g (not 90 + one step)", got, want)
		}
		l.saturated.Store(true)
		clk.add(time.Second)
		l.Release(Permit{at: clk.now(), held: true}, nil)
		if got := l.Stats().Limit; got < 0.99*100*recoverTo || got > 100 {
			t.Fatalf("limit after 2 saturated seconds = %g, want just under the ceiling 100", got)
		}
		for i := 0; i < 200; i++ {
			l.saturated.Store(true)
			clk.add(time.Second)
			l.Release(Permit{at: clk.now(), held: true}, nil)
		}
		if got := l.Stats().Limit; got != 200 {
			t.Errorf("limit %g, want the probe capped at max_rate 200", got)
		}
	})

	t.Run("a configured rate below max_rate grows from its first answer, not from long ago", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 50; c.MaxRate = 1000; c.IncreaseStep = 10 })
		l.saturated.Store(true)
		l.Release(Permit{at: clk.now(), held: true}, nil)
		for i := 0; i < 2; i++ {
			l.saturated.Store(true)
			clk.add(time.Second)
			l.Release(Permit{at: clk.now(), held: true}, nil)
		}
		if got := l.Stats().Limit; math.Abs(got-70) > 1e-9 {
			t.Errorf("limit %g after two saturated seconds, want 50 + 2 × 10", got)
		}
	})

	t.Run("a configured rate is the ceiling unless max_rate says otherwise", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 50; c.IncreaseStep = 100 })
		l.saturated.Store(true)
		clk.add(time.Second)
		l.Release(Permit{at: clk.now(), held: true}, nil)
		if got := l.Stats().Limit; got != 50 {
			t.Errorf("limit %g, want 50", got)
		}
	})

	t.Run("decrease_factor 1 learns nothing", func(t *testing.T) {
		t.Parallel()
		l, clk := newTestLimiter(func(c *LimitConfig) { c.DecreaseFactor = 1 })
		accept(l, clk, 100, time.Second)
		l.Release(Permit{at: clk.now(), held: true}, throttle)
		if got := l.Stats(); !math.IsInf(got.Limit, 1) || got.Decreases != 0 {
			t.Errorf("stats %+v, want no limit and no decrease", got)
		}
	})
}

func TestLimiterConcurrency(t *testing.T) {
	t.Parallel()
	l := NewLimiter(LimitConfig{MaxConcurrency: 2, DecreaseFactor: 0.9, MinRate: 1}, 64)
	p1, err1 := l.Acquire(context.Background())
	p2, err2 := l.Acquire(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if got := l.Stats().InFlight; got != 2 {
		t.Errorf("in flight %d, want 2", got)
	}
	// A third waits; its context ending gives up the wait.
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx)
		got <- err
	}()
	cancel()
	if err := <-got; !errors.Is(err, context.Canceled) {
		t.Fatalf("blocked Acquire = %v, want context.Canceled", err)
	}
	// Once one is given back, a third goes.
	third := make(chan Permit, 1)
	go func() {
		p, err := l.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		third <- p
	}()
	l.Release(p1, nil)
	p3 := <-third
	l.Release(p2, nil)
	l.Release(p3, nil)
	l.Release(Permit{}, nil) // a zero Permit is ignored
	if got := l.Stats().InFlight; got != 0 {
		t.Errorf("in flight %d after releases, want 0", got)
	}
}

func TestLimiterRetryAfterPausesEveryone(t *testing.T) {
	t.Parallel()
	l := NewLimiter(LimitConfig{DecreaseFactor: 0.9, MinRate: 1}, 0)
	p, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const ra = 150 * time.Millisecond
	t0 := time.Now()
	l.Release(p, &Error{Vendor: "v", Class: ClassRetryable, Status: 503, RetryAfter: ra})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := l.Acquire(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			// Causality, not timing: no permit is granted before the
			// pause the vendor asked for has run out.
			if waited := time.Since(t0); waited < ra {
				t.Errorf("permit after %s, inside a %s Retry-After", waited, ra)
			}
			l.Release(p, nil)
		}()
	}
	wg.Wait()
	if got := l.Stats(); got.Paused != ra || got.Decreases != 0 {
		t.Errorf("stats %+v: want paused %s and no decrease for a 503", got, ra)
	}

	// A caller who gives up mid-pause gets its context's error.
	l.Release(Permit{at: time.Now(), held: true}, &Error{Vendor: "v", Class: ClassRetryable, Status: 429, RetryAfter: 30 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire during an hour's pause = %v, want the context's deadline", err)
	}
}

// TestRetrierWithLimiter checks what the Retrier owes the limiter: a
// permit wait is not part of RequestTimeout, every outcome is reported,
// and a self-limited adapter is left alone.
func TestRetrierWithLimiter(t *testing.T) {
	t.Parallel()
	cfg := testRetryConfig()
	cfg.RequestTimeout = 20 * time.Millisecond

	t.Run("waiting for a slot is not part of the attempt", func(t *testing.T) {
		t.Parallel()
		l := NewLimiter(LimitConfig{MaxConcurrency: 1, DecreaseFactor: 0.9, MinRate: 1}, 0)
		held, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		a := &fakeAdapter{steps: []step{{out: Deleted}}}
		done := make(chan Result, 1)
		go func() {
			done <- NewRetrier(cfg, WithLimiter(l), WithTimer(newFakeTimer(false))).Do(context.Background(), a, testEvent)
		}()
		// Hold the only slot for many request timeouts.
		time.Sleep(5 * cfg.RequestTimeout)
		if a.Calls() != 0 {
			t.Fatal("adapter called while the only slot was held")
		}
		l.Release(held, nil)
		res := <-done
		if res.Outcome != Deleted || res.Attempts != 1 {
			t.Errorf("result %+v, want deleted in one attempt", res)
		}
	})

	t.Run("a 429 with Retry-After pauses the vendor, not only the event", func(t *testing.T) {
		t.Parallel()
		l := NewLimiter(LimitConfig{DecreaseFactor: 0.9, MinRate: 1}, 0)
		const ra = 100 * time.Millisecond
		var throttledAt time.Time
		a := &fakeAdapter{steps: []step{
			{out: Failed, err: &Error{Vendor: "fake", Class: ClassRetryable, Status: 429, RetryAfter: ra}, before: func() { throttledAt = time.Now() }},
			{out: Deleted},
		}}
		// The Retrier's own wait fires at once: only the limiter's
		// pause holds back the other event.
		res := NewRetrier(cfg, WithLimiter(l), WithTimer(newFakeTimer(false))).Do(context.Background(), a, testEvent)
		if res.Outcome != Deleted || res.Attempts != 2 {
			t.Fatalf("result %+v", res)
		}
		var otherAt time.Time
		other := &fakeAdapter{steps: []step{{out: Deleted, before: func() { otherAt = time.Now() }}}}
		if res := NewRetrier(cfg, WithLimiter(l)).Do(context.Background(), other, testEvent); res.Outcome != Deleted {
			t.Fatalf("other event: %+v", res)
		}
		if otherAt.Sub(throttledAt) < ra {
			t.Errorf("another event's request went %s after the 429, inside its %s Retry-After", otherAt.Sub(throttledAt), ra)
		}
		if st := l.Stats(); st.Throttled != 1 {
			t.Errorf("stats %+v, want the 429 reported", st)
		}
	})

	t.Run("a self-limited adapter takes no permit and no request timeout", func(t *testing.T) {
		t.Parallel()
		l := NewLimiter(LimitConfig{MaxConcurrency: 1, DecreaseFactor: 0.9, MinRate: 1}, 0)
		held, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(held, nil)
		a := &selfLimitedAdapter{}
		res := NewRetrier(cfg, WithLimiter(l)).Do(context.Background(), a, testEvent)
		if res.Outcome != Deleted {
			t.Fatalf("result %+v", res)
		}
		if a.hadDeadline {
			t.Error("the Retrier bounded a self-limited adapter's attempt")
		}
	})
}

type selfLimitedAdapter struct{ hadDeadline bool }

func (*selfLimitedAdapter) Name() string      { return "fake" }
func (*selfLimitedAdapter) SelfLimited() bool { return true }
func (a *selfLimitedAdapter) Delete(ctx context.Context, _ *event.UserDeleted) (Outcome, error) {
	_, a.hadDeadline = ctx.Deadline()
	return Deleted, nil
}

func TestLimiterMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewLimiterMetrics(reg)
	learned, clk := newTestLimiter(func(c *LimitConfig) { c.Rate = 100 })
	clk.add(time.Second)
	learned.Release(Permit{at: clk.now(), held: true}, &Error{Vendor: "v", Class: ClassRetryable, Status: 429, RetryAfter: 2 * time.Second})
	m.Add("plivo", learned)
	m.Add("webex", NewLimiter(LimitConfig{DecreaseFactor: 0.9, MinRate: 1}, 8))

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			got[mf.GetName()+"/"+m.GetLabel()[0].GetValue()] = v
		}
	}
	want := map[string]float64{
		"erasured_vendor_rate_limit/plivo":                 90,
		"erasured_vendor_rate_limit/webex":                 slowStartRate, // no 429 yet: ramping up
		"erasured_vendor_rate_limit_decreases_total/plivo": 1,
		"erasured_vendor_rate_limit_decreases_total/webex": 0,
		"erasured_vendor_limiter_throttled_total/plivo":    1,
		"erasured_vendor_paused_seconds_total/plivo":       2,
		"erasured_vendor_paused_seconds_total/webex":       0,
		"erasured_vendor_requests_in_flight/webex":         0,
		// The ceiling the 429 was learned at (the configured 100/s: no
		// answer accepted yet to measure), the cap on requests in flight
		// (none for plivo, the 8 connections for webex), the share.
		"erasured_vendor_rate_limit_learned/plivo": 100,
		"erasured_vendor_rate_limit_learned/webex": 0,
		"erasured_vendor_concurrency_limit/plivo":  0,
		"erasured_vendor_concurrency_limit/webex":  8,
		"erasured_vendor_limit_share/plivo":        1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}

func TestLimiterCapsPause(t *testing.T) {
	t.Parallel()
	l, clk := newTestLimiter(func(c *LimitConfig) { c.MaxPause = 2 * time.Second })
	l.Release(Permit{at: clk.now(), held: true}, &Error{Vendor: "v", Class: ClassRetryable, Status: 503, RetryAfter: 24 * time.Hour})
	if got := l.Stats().Paused; got != 2*time.Second {
		t.Errorf("paused %s for a day's Retry-After, want max_pause 2s", got)
	}
}

// BenchmarkLimiterHandoff measures how long the request granted the slot
// a Release frees waits to run while the releasing goroutine goes on with
// its event (spin stands for that bookkeeping) and every other processor
// is busy, as on the bench's shared machine: the time a capped vendor's
// slot stays idle between two requests. Reported as handoff-µs.
func BenchmarkLimiterHandoff(b *testing.B) {
	l := NewLimiter(LimitConfig{MaxConcurrency: 1, DecreaseFactor: 0.9, MinRate: 1}, 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) - 1 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					spin(10 * time.Microsecond)
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	type grant struct {
		p  Permit
		at time.Time
	}
	p, err := l.Acquire(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for b.Loop() {
		got := make(chan grant, 1)
		go func() {
			q, err := l.Acquire(context.Background())
			if err != nil {
				b.Error(err)
			}
			got <- grant{q, time.Now()}
		}()
		waitQueued(b, l.gate, 1)
		t0 := time.Now()
		l.Release(p, nil)
		spin(200 * time.Microsecond)
		g := <-got
		total += g.at.Sub(t0)
		p = g.p
	}
	l.Release(p, nil)
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "handoff-µs")
}

// spin keeps its processor busy for d without blocking.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// TestLimiterCutHoldsTheQueue: requests already waiting for a token when
// a 429 cuts the rate wait for the episode's probe, at the new rate.
// x/time/rate keeps a reservation's time whatever the limit becomes, so
// before, they all went at the old pace into the vendor that had just
// refused it: at the ramp's first 429, 39 of them to a sliding window
// counting refusals, which kept it shut another quarter second.
func TestLimiterCutHoldsTheQueue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		l := NewLimiter(LimitConfig{Rate: 100, DecreaseFactor: 0.9}, 0)
		ctx := context.Background()
		first, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Nine more queue for tokens, at 10 ms intervals.
		var granted atomic.Int32
		permits := make(chan Permit, 9)
		for range 9 {
			go func() {
				p, err := l.Acquire(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				granted.Add(1)
				permits <- p
			}()
		}
		synctest.Wait()
		time.Sleep(5 * time.Millisecond)
		l.Release(first, &Error{Vendor: "v", Class: ClassRetryable, Status: 429})
		// The probe goes; the probe's answer has not come back yet, so
		// none of the others may.
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if got := granted.Load(); got != 1 {
			t.Fatalf("%d permits while the episode's probe was out, want the probe alone", got)
		}
		probe := <-permits
		l.Release(probe, nil)
		// After the probe's success the rest go, spaced at the cut rate.
		at := make([]time.Time, 0, 8)
		for range 8 {
			p := <-permits
			at = append(at, p.at)
			l.Release(p, nil)
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i].Sub(at[i-1]); gap < 10*time.Millisecond {
				t.Errorf("permits %d and %d %s apart, want the cut rate's %s or more", i-1, i, gap, time.Second/90)
			}
		}
	})
}

// TestAcceptedRingStartPhase: a first ramp that took the vendor's quota
// within its first second measures that quota per second whatever the
// phase of the clock against the ring's 100 ms buckets. Before, the
// span ran from a bucket's edge, up to 100 ms before the first answer,
// and the same 300 read 278-300 a second, the learned ceiling with it.
func TestAcceptedRingStartPhase(t *testing.T) {
	t.Parallel()
	for _, phase := range []time.Duration{0, 30 * time.Millisecond, 60 * time.Millisecond, 90 * time.Millisecond} {
		t.Run(phase.String(), func(t *testing.T) {
			t.Parallel()
			var r acceptedRing
			start := time.Unix(1000, 0).Add(phase)
			// 300 answers over 400 ms.
			for i := range 300 {
				r.add(start.Add(time.Duration(i) * 400 * time.Millisecond / 300))
			}
			now := start.Add(410 * time.Millisecond)
			got, ok := r.rateOver(now, acceptBuckets/2+1, true)
			if !ok || math.Abs(got-300) > 1 {
				t.Errorf("rateOver = %.1f, %v; want 300 a second (the quota over a full second)", got, ok)
			}
			// Without full, the span is from the first answer.
			if got, ok := r.rateOver(now, acceptBuckets/2+1, false); !ok || math.Abs(got-300/0.41) > 1 {
				t.Errorf("rateOver (not full) = %.1f, %v; want %.1f", got, ok, 300/0.41)
			}
		})
	}
}
