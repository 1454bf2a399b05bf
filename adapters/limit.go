package adapters

import (
	"context"
	"errors"
	"math"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/erasured/erasured/config"
)

// LimitConfig shapes how hard erasured presses one vendor. Every event in
// flight shares the vendor's limits: a rate that starts at Rate (or
// ramping up) and is learned from the vendor's answers, a pause whenever the
// vendor sends Retry-After, and a cap on concurrent requests.
//
// The rate follows AIMD, as TCP's congestion window does: each 429 cuts it
// to DecreaseFactor times what the vendor was actually accepting, and while
// requests queue for it and nothing is throttled it grows by IncreaseStep
// each second, up to MaxRate.
type LimitConfig struct {
	// Rate is the starting limit in requests per second. 0 ramps up from
	// slowStartRate until the first 429 sets one from the rate the vendor
	// was accepting, or until slowStartTop lifts it (learn.go).
	Rate float64 `yaml:"rate"`
	// MaxRate caps the learned rate. 0 means Rate when Rate is set (a
	// configured rate is the vendor's published limit: no use probing
	// past it), else no cap.
	MaxRate float64 `yaml:"max_rate"`
	// MinRate is the floor decreases stop at, so a burst of 429s cannot
	// starve the vendor's queue. 0 means 1 request per second, or Rate or
	// MaxRate when either is set below that.
	MinRate float64 `yaml:"min_rate"`
	// Burst is how many requests may go at once after a quiet spell. 0
	// means a hundredth of a second's worth of the current rate, at least
	// 1: a sliding window of N per second refuses a pace of r whenever r
	// plus a burst passes N, so the burst must stay within the few
	// percent the learner keeps under the ceiling (learn.go).
	Burst int `yaml:"burst"`
	// MaxConcurrency caps requests in flight to the vendor. 0 means
	// vendors.max_conns_per_vendor.
	MaxConcurrency int `yaml:"max_concurrency"`
	// IncreaseStep is the requests per second added for each second in
	// which requests waited for the limit and none was throttled. 0 means
	// a fiftieth of the rate set by the last decrease, so recovery takes
	// the same time whatever the vendor's scale.
	IncreaseStep float64 `yaml:"increase_step"`
	// DecreaseFactor multiplies the rate on a 429, in (0, 1]; 1 learns
	// nothing and only honours Retry-After.
	DecreaseFactor float64 `yaml:"decrease_factor"`
	// MaxPause caps how long one Retry-After holds every request to the
	// vendor. A longer wait is left to each event's retry policy, so a
	// garbled or hostile header cannot stall the vendor for a day.
	MaxPause time.Duration `yaml:"max_pause"`
	// Throttle says what the vendor's 429 limits: ThrottleRate (requests
	// per time, the default) or ThrottleConcurrency (requests in flight,
	// as CleverTap's "too many concurrent requests"): then a 429 lowers
	// the cap on requests in flight, not the rate (learn.go).
	Throttle string `yaml:"throttle"`
}

// What a vendor's 429 limits (LimitConfig.Throttle).
const (
	ThrottleRate        = "rate"
	ThrottleConcurrency = "concurrency"
)

// DefaultMaxPause is LimitConfig.MaxPause's default.
const DefaultMaxPause = time.Minute

// DefaultDecreaseFactor is LimitConfig.DecreaseFactor's default: gentle,
// because the rate it multiplies is measured, not guessed.
const DefaultDecreaseFactor = 0.9

// DefaultLimitConfig is the limit used where configuration is silent:
// a ramp until the vendor throttles, then learned. Fields whose zero
// means "automatic" (Rate, MaxRate, MinRate, Burst, MaxConcurrency,
// IncreaseStep) are zero here; a new field's default goes here too.
func DefaultLimitConfig() LimitConfig {
	return LimitConfig{
		DecreaseFactor: DefaultDecreaseFactor,
		MaxPause:       DefaultMaxPause,
	}
}

// floor is the rate decreases stop at: MinRate, or when it is 0, 1 per
// second, lowered to Rate or MaxRate when either is set below that.
func (c *LimitConfig) floor() float64 {
	if c.MinRate > 0 {
		return c.MinRate
	}
	f := 1.0
	if c.Rate > 0 && c.Rate < f {
		f = c.Rate
	}
	if c.MaxRate > 0 && c.MaxRate < f {
		f = c.MaxRate
	}
	return f
}

// Validate reports the first invalid field, named as in YAML.
func (c *LimitConfig) Validate() error {
	var errs config.Errors
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		errs.Invalid("rate", "must be 0 (learned) or a positive number, got %g", c.Rate)
	}
	if c.MaxRate < 0 || math.IsNaN(c.MaxRate) || math.IsInf(c.MaxRate, 0) {
		errs.Invalid("max_rate", "must be 0 (none) or a positive number, got %g", c.MaxRate)
	}
	if c.MaxRate > 0 && c.MaxRate < c.Rate {
		errs.Invalid("max_rate", "must be at least rate (%g), got %g", c.Rate, c.MaxRate)
	}
	if c.MinRate < 0 || math.IsNaN(c.MinRate) || math.IsInf(c.MinRate, 0) {
		errs.Invalid("min_rate", "must be 0 (automatic) or a positive number, got %g", c.MinRate)
	}
	if c.Rate > 0 && c.floor() > c.Rate {
		errs.Invalid("min_rate", "must be at most rate (%g), got %g", c.Rate, c.MinRate)
	}
	if c.MaxRate > 0 && c.floor() > c.MaxRate {
		errs.Invalid("min_rate", "must be at most max_rate (%g), got %g", c.MaxRate, c.MinRate)
	}
	if c.Burst < 0 {
		errs.Invalid("burst", "must be 0 (automatic) or positive, got %d", c.Burst)
	}
	if c.MaxConcurrency < 0 {
		errs.Invalid("max_concurrency", "must be 0 (vendors.max_conns_per_vendor) or positive, got %d", c.MaxConcurrency)
	}
	if c.IncreaseStep < 0 || math.IsNaN(c.IncreaseStep) || math.IsInf(c.IncreaseStep, 0) {
		errs.Invalid("increase_step", "must be 0 (automatic) or positive, got %g", c.IncreaseStep)
	}
	if !(c.DecreaseFactor > 0 && c.DecreaseFactor <= 1) {
		errs.Invalid("decrease_factor", "must be in (0, 1], got %g", c.DecreaseFactor)
	}
	if c.MaxPause <= 0 {
		errs.Invalid("max_pause", "must be positive, got %s", c.MaxPause)
	}
	if c.Throttle != "" && c.Throttle != ThrottleRate && c.Throttle != ThrottleConcurrency {
		errs.Invalid("throttle", "must be %q or %q, got %q", ThrottleRate, ThrottleConcurrency, c.Throttle)
	}
	return errs.Err()
}

// IsThrottled reports whether err is the vendor saying "too many
// requests": HTTP 429, or a retryable error whose vendor code is 429 (as
// CleverTap and Webex put it in a body).
func IsThrottled(err error) bool {
	var ae *Error
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusTooManyRequests || (ae.Class == ClassRetryable && ae.Code == "429")
}

// Limiter is one vendor's shared limit: a concurrency cap, a pause while a
// Retry-After runs, and a token bucket (golang.org/x/time/rate) whose rate
// it learns from 429s and from rate-limit header fields (learn.go,
// pace.go). It is safe for concurrent use.
//
// Callers take a Permit before each request and give it back with the
// request's error, which is how the limiter learns; a client wrapped by
// Wrap also shows it every answer's headers.
type Limiter struct {
	cfg      LimitConfig
	adaptive bool
	gate     *gate // nil: no cap on requests in flight
	now      func() time.Time
	// saturated is set when a request had to wait for a token: only then
	// is raising the rate worth anything.
	saturated atomic.Bool
	inFlight  atomic.Int64
	waitedNs  atomic.Int64

	mu sync.Mutex
	// bucket is replaced, and renewed closed, when a 429 cuts the rate
	// (renewBucketLocked).
	bucket       *rate.Limiter
	renewed      chan struct{}
	limit        float64 // +Inf: none
	stepPerSec   float64
	maxRate      float64 // +Inf: none; the configured ceiling times share
	pausedUntil  time.Time
	pausedNs     int64
	lastDecrease time.Time
	lastAdjust   time.Time
	// probing says an episode's probe is in flight; probeDone is closed
	// when it ends (Acquire).
	probing   bool
	probeDone chan struct{}
	accepted  acceptedRing
	throttled uint64
	decreases uint64
	learn     learnState
}

// NewLimiter returns a Limiter for cfg, which must be valid (start from
// DefaultLimitConfig). maxConcurrency replaces a zero cfg.MaxConcurrency; 0 in
// both means no cap.
func NewLimiter(cfg LimitConfig, maxConcurrency int) *Limiter {
	configuredCap := cfg.MaxConcurrency > 0
	if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = maxConcurrency
	}
	l := newLimiter(cfg, true)
	l.learn.capShared = configuredCap
	return l
}

func newLimiter(cfg LimitConfig, adaptive bool) *Limiter {
	if cfg.DecreaseFactor == 0 {
		cfg.DecreaseFactor = 1
	}
	if cfg.MaxPause == 0 {
		cfg.MaxPause = DefaultMaxPause
	}
	cfg.MinRate = cfg.floor()
	l := &Limiter{cfg: cfg, adaptive: adaptive, now: time.Now, limit: math.Inf(1), maxRate: math.Inf(1), probeDone: make(chan struct{})}
	if cfg.MaxConcurrency > 0 {
		l.gate = newGate(cfg.MaxConcurrency)
	}
	switch {
	case cfg.MaxRate > 0:
		l.maxRate = cfg.MaxRate
	case cfg.Rate > 0:
		l.maxRate = cfg.Rate
	}
	l.learn.share = 1
	l.learn.configuredMax = l.maxRate
	if cfg.Rate > 0 {
		l.limit = cfg.Rate
	} else if cfg.MaxRate > 0 {
		// A ceiling holds from the first request, not from the first 429.
		l.limit = cfg.MaxRate
	} else if adaptive && cfg.DecreaseFactor < 1 {
		// Nothing known: ramp up (learn.go). decrease_factor 1 learns
		// nothing, so it has no use for a ramp either.
		l.limit, l.learn.slowStart = slowStartRate, true
	}
	l.bucket, l.renewed = rate.NewLimiter(rate.Inf, 1), make(chan struct{})
	l.setLimitLocked(l.limit, l.now())
	return l
}

// Permit is one request's hold on a Limiter, returned by Acquire.
type Permit struct {
	at   time.Time
	held bool
	// inFlight counts this vendor's requests in flight when this one was
	// sent, itself included.
	inFlight int64
	// probe says this request alone was let go during an episode of 429s
	// to see whether the vendor takes requests again.
	probe bool
}

// Acquire waits for a concurrency slot, for any pause the vendor asked
// for, and for a token, in that order: a request holding a slot is the next
// to go, so tokens are not spent long before their request is sent. It
// fails only when ctx ends.
func (l *Limiter) Acquire(ctx context.Context) (Permit, error) {
	t0 := l.now()
	if l.gate != nil {
		if err := l.gate.acquire(ctx); err != nil {
			return Permit{}, err
		}
	}
	var release func()
	fail := func(err error) (Permit, error) {
		release()
		if l.gate != nil {
			l.gate.release()
		}
		l.waitedNs.Add(int64(l.now().Sub(t0)))
		return Permit{}, err
	}
	probe := false
	release = func() {
		if probe {
			l.mu.Lock()
			l.endProbeLocked()
			l.mu.Unlock()
			probe = false
		}
	}
	for {
		l.mu.Lock()
		until := l.pausedUntil
		bucket, renewed := l.bucket, l.renewed
		var wait chan struct{}
		if d := until.Sub(l.now()); d <= 0 && l.learn.episode && !probe {
			// While the vendor refuses, one request at a time finds out
			// whether it takes requests again; the others wait for its
			// answer, rather than all be refused (and, where refusals
			// count, keep the window shut).
			if l.probing {
				wait = l.probeDone
			} else {
				l.probing, probe = true, true
			}
		}
		l.mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
				return fail(ctx.Err())
			}
			continue
		}
		if d := until.Sub(l.now()); d > 0 {
			release()
			if err := sleep(ctx, d); err != nil {
				return fail(err)
			}
			continue
		}
		r := bucket.Reserve()
		if d := r.Delay(); d > 0 {
			l.saturated.Store(true)
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-renewed:
				// A 429 cut the rate: queue again at the new one
				// (renewBucketLocked).
				t.Stop()
				continue
			case <-ctx.Done():
				t.Stop()
				r.Cancel()
				return fail(ctx.Err())
			}
		}
		now := l.now()
		l.mu.Lock()
		paused := now.Before(l.pausedUntil)
		l.mu.Unlock()
		// A pause that began while this request waited for its token
		// holds it too; the token is spent, which errs on the slow side.
		if paused {
			continue
		}
		n := l.inFlight.Add(1)
		l.waitedNs.Add(int64(now.Sub(t0)))
		return Permit{at: now, held: true, inFlight: n, probe: probe}, nil
	}
}

// Release gives back p with the error of the request it allowed (nil for
// a final answer). A Retry-After pauses the vendor for every event; a 429
// lowers the rate, or the cap on requests in flight when the vendor's 429
// limits concurrency; a success may raise them (learn.go).
func (l *Limiter) Release(p Permit, err error) {
	if !p.held {
		return
	}
	waiters := false
	if l.gate != nil {
		var woke bool
		waiters, woke = l.gate.release()
		if woke {
			// Yield to the request just granted the slot, once what
			// follows is learned. Woken, it waits in this processor's
			// run queue until this goroutine blocks or is preempted,
			// which after an answer is the rest of the event's work:
			// in the bench's cap-15 run the slot sat idle 0.27–0.8 ms
			// per request that way (0.5–1.5% of a 50 ms vendor's
			// capacity), 8–21 µs with the yield (docs/performance.md,
			// BenchmarkLimiterHandoff).
			defer runtime.Gosched()
		}
	}
	l.inFlight.Add(-1)
	if p.probe {
		// Whatever the answer, the next request may go: into a new
		// pause after a 429, at the learned rate after a success.
		defer func() {
			l.mu.Lock()
			l.endProbeLocked()
			l.mu.Unlock()
		}()
	}
	if !l.adaptive {
		return
	}
	now := l.now()
	throttled := IsThrottled(err)
	var retryAfter time.Duration
	var ae *Error
	if errors.As(err, &ae) && ae.Class == ClassRetryable {
		retryAfter = ae.RetryAfter
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Throttle == ThrottleConcurrency {
		// A concurrency 429 frees as soon as one of the requests in
		// flight finishes: a pause for every event would idle the
		// vendor; a lower cap is the answer (learn.go).
		retryAfter = 0
	}
	// A whole second is the header's rounding; a shorter wait was said
	// precisely and is honoured as said.
	shortRA := throttled && retryAfter > 0 && retryAfter <= probeMax && retryAfter%time.Second == 0
	if shortRA {
		// Retry-After: 1, the least whole second the field can say, means
		// "up to a second": a fixed window of a second may reopen at once.
		// Pausing every request the full second skips most of the next
		// window, so the probe pauses (learn.go) stand in for it; the
		// event itself still waits its Retry-After (Retrier).
		retryAfter = 0
	}
	// A long wait said in whole seconds, rounded up from up to a second
	// less (onsetLocked).
	rounded := throttled && retryAfter > probeMax && retryAfter%time.Second == 0
	pause := retryAfter
	if rounded && l.learn.earlyReset && l.learn.episode {
		pause -= time.Second
	}
	l.pauseLocked(now, min(pause, l.cfg.MaxPause))
	if throttled {
		l.throttled++
		l.throttledLocked(p, now, retryAfter > 0, shortRA, rounded)
		return
	}
	if !isAnswer(err) {
		return
	}
	l.accepted.add(now)
	l.acceptedLocked(p, now, err == nil, waiters)
}

// endProbeLocked lets the requests waiting for an episode's probe go on.
func (l *Limiter) endProbeLocked() {
	if !l.probing {
		return
	}
	l.probing = false
	close(l.probeDone)
	l.probeDone = make(chan struct{})
}

func (l *Limiter) pauseLocked(now time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	until := now.Add(d)
	if until.After(l.pausedUntil) {
		from := now
		if l.pausedUntil.After(from) {
			from = l.pausedUntil
		}
		l.pausedNs += int64(until.Sub(from))
		l.pausedUntil = until
	}
}

// isAnswer reports whether err means the vendor answered (and so took
// the request past its rate limit).
func isAnswer(err error) bool {
	if err == nil {
		return true
	}
	var ae *Error
	return errors.As(err, &ae) && ae.Status != 0
}

func (l *Limiter) setLimitLocked(limit float64, now time.Time) {
	l.limit = limit
	if math.IsInf(limit, 1) {
		l.bucket.SetLimitAt(now, rate.Inf)
		return
	}
	burst := l.cfg.Burst
	if burst == 0 {
		burst = max(1, int(limit/100))
	}
	l.bucket.SetBurstAt(now, burst)
	l.bucket.SetLimitAt(now, rate.Limit(limit))
}

// renewBucketLocked re-spaces the requests waiting for a token at the rate
// in force, from now: x/time/rate keeps a reservation's time whatever the
// limit becomes, so those queued at the rate a 429 just cut would go at
// it, into the vendor that refused it (at the ramp's first 429, 64
// requests held tokens at up to 3200/s). The new bucket starts empty (the
// vendor just refused), and Acquire's waiters queue again in it, behind
// the episode's probe.
func (l *Limiter) renewBucketLocked(now time.Time) {
	l.bucket = rate.NewLimiter(rate.Inf, 1)
	l.setLimitLocked(l.limit, now)
	if !math.IsInf(l.limit, 1) {
		l.bucket.AllowN(now, l.bucket.Burst())
	}
	close(l.renewed)
	l.renewed = make(chan struct{})
}

// LimiterStats is a Limiter's state, for metrics.
type LimiterStats struct {
	// Limit is the rate in force in requests per second; +Inf for none.
	Limit     float64
	InFlight  int64
	Throttled uint64
	Decreases uint64
	// Paused is the total time the vendor was paused by Retry-After.
	Paused time.Duration
	// Waited is the total time requests waited for permits.
	Waited time.Duration
	// Ceiling is the learned rate at which 429s began (or the one the
	// header fields state); 0 when unknown.
	Ceiling float64
	// MaxConcurrency is the cap on requests in flight now, learned or
	// configured; 0 for none.
	MaxConcurrency int
	// Share is this replica's part of the configured budget (SetShare).
	Share float64
}

// Stats returns the limiter's state.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LimiterStats{
		Limit:     l.limit,
		InFlight:  l.inFlight.Load(),
		Throttled: l.throttled,
		Decreases: l.decreases,
		Paused:    time.Duration(l.pausedNs),
		Waited:    time.Duration(l.waitedNs.Load()),
		Ceiling:   l.learn.ceiling,
		Share:     l.learn.share,
		MaxConcurrency: func() int {
			if l.gate == nil {
				return 0
			}
			return l.gate.cap()
		}(),
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acceptedRing counts the answers the vendor accepted lately, in
// 100ms buckets over the last acceptWindow, to measure the rate it takes.
type acceptedRing struct {
	start   time.Time // first answer counted
	buckets [acceptBuckets]struct {
		slot  int64 // bucket's index since the epoch
		count int
	}
}

const (
	acceptBucket  = 100 * time.Millisecond
	acceptBuckets = 20
	acceptWindow  = acceptBuckets * acceptBucket
)

func (r *acceptedRing) add(t time.Time) {
	if r.start.IsZero() {
		r.start = t
	}
	slot := t.UnixNano() / int64(acceptBucket)
	b := &r.buckets[slot%acceptBuckets]
	if b.slot != slot {
		b.slot, b.count = slot, 0
	}
	b.count++
}

// rate returns the answers per wall-clock second accepted over the last
// acceptWindow (or since the first answer, if later). Time the vendor was
// paused counts: the rate a vendor allows with its Retry-After pauses is
// the rate it allows. It reports false when the span is too short to mean
// anything.
func (r *acceptedRing) rate(now time.Time) (float64, bool) {
	return r.rateOver(now, acceptBuckets, false)
}

// rateOver is rate over the last n buckets; full divides by all of them
// even when the first answer came later.
func (r *acceptedRing) rateOver(now time.Time, n int64, full bool) (float64, bool) {
	if r.start.IsZero() {
		return 0, false
	}
	nowSlot := now.UnixNano() / int64(acceptBucket)
	count := 0
	for _, b := range r.buckets {
		if b.slot > nowSlot-n && b.slot <= nowSlot {
			count += b.count
		}
	}
	from := time.Unix(0, (nowSlot-n+1)*int64(acceptBucket))
	span := now.Sub(from)
	if r.start.After(from) {
		span = now.Sub(r.start)
		if full {
			span = max(span, time.Duration(n-1)*acceptBucket)
		}
	}
	if count == 0 || span < 10*time.Millisecond {
		return 0, false
	}
	return float64(count) / span.Seconds(), true
}
