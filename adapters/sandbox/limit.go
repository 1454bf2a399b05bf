package sandbox

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Shape names how a sandbox counts requests against its limit. Vendors do
// not all enforce a token bucket (issue 13): Plivo documents a fixed
// window, CleverTap a cap on concurrent requests.
type Shape int

const (
	// ShapeNone applies no Limit (Knobs.ThrottleRPS may still apply).
	ShapeNone Shape = iota
	// TokenBucket holds N tokens, refilled at N per Window; a request
	// takes one. It is golang.org/x/time/rate's limiter.
	TokenBucket
	// FixedWindow admits N requests in each Window, the windows aligned on
	// the clock (a 60 s window starts on the minute), the count starting
	// again at each.
	FixedWindow
	// SlidingWindow admits a request when fewer than N were counted in the
	// Window that ends now: a log of the last N counted requests.
	SlidingWindow
	// Concurrency admits a request while fewer than N are in flight; a
	// request is in flight from its arrival until its handler returns.
	Concurrency
)

// ResetStyle says whether, and how, a sandbox sends X-RateLimit-Reset.
type ResetStyle int

const (
	// XRateLimitOff sends no X-RateLimit-* header.
	XRateLimitOff ResetStyle = iota
	// XRateLimitSeconds sends X-RateLimit-Limit and -Remaining, and
	// -Reset as the seconds until the quota is whole again.
	XRateLimitSeconds
	// XRateLimitEpoch sends X-RateLimit-Reset as the Unix time in seconds
	// at which the quota is whole again, as Exotel's rate-limiting page
	// shows ("Epoch timestamp when the window resets").
	XRateLimitEpoch
)

// Limit is a vendor's enforced limit, one of the shapes. Every request
// that reaches the limit is counted; one over it gets the vendor's 429.
// A Limit with N < 1, or a time-based one without a Window, limits nothing.
type Limit struct {
	Shape Shape
	// N is the requests admitted per Window (TokenBucket: the bucket's
	// size, refilled at N per Window; Concurrency: the requests in flight
	// at once).
	N int
	// Window is the span N is counted over; unused by Concurrency.
	Window time.Duration
	// CountRejected counts a rejected request against the limit as if it
	// were admitted. In a SlidingWindow a rejected request then holds a
	// place for Window; in a TokenBucket it takes a token it does not
	// have, so the bucket goes into debt. In a clock-aligned FixedWindow
	// it changes nothing: a request is rejected only once the window is
	// full, and the count starts again at the window's end whatever it
	// reached (TestFixedWindowCountRejected pins this).
	CountRejected bool
	// NoRetryAfter leaves Retry-After off the 429, as Plivo's API does.
	// Otherwise Retry-After says when a request would next be admitted
	// (a Concurrency 429 says 1 s: no one knows when a slot frees).
	NoRetryAfter bool
	// XRateLimit sends X-RateLimit-Limit/Remaining/Reset with every
	// answer the limit saw, admitted or not.
	XRateLimit ResetStyle
	// IETF sends the RateLimit-Policy and RateLimit fields of
	// draft-ietf-httpapi-ratelimit-headers-10 (September 2025), in their
	// Structured Field form: `RateLimit-Policy: "default";q=300;w=5` (a
	// quota of q units per w seconds) and `RateLimit: "default";r=12;t=3`
	// (r units remain; the quota resets in t seconds).
	IETF bool
}

// PolicyName is the name the sandbox gives its one IETF quota policy.
const PolicyName = "default"

// usage is what a limit reports after counting one request.
type usage struct {
	admitted   bool
	retryAfter time.Duration // when a rejected request would be admitted
	remaining  int
	reset      time.Duration // until the whole quota is back, if nothing more comes
}

// counter is a time-based shape. admit counts one request at now.
type counter interface {
	admit(now time.Time) usage
}

// newCounter returns the counter for l, or nil for Concurrency and
// ShapeNone, which are not counted over time.
func newCounter(l Limit) counter {
	if l.N < 1 || (l.Window <= 0 && l.Shape != Concurrency) {
		return nil
	}
	switch l.Shape {
	case TokenBucket:
		return newBucket(float64(l.N)/l.Window.Seconds(), l.N, l.CountRejected)
	case FixedWindow:
		return &fixedWindow{n: l.N, w: l.Window}
	case SlidingWindow:
		return &slidingWindow{n: l.N, w: l.Window, countRejected: l.CountRejected}
	}
	return nil
}

// bucket is a token bucket: x/time/rate does the arithmetic.
type bucket struct {
	lim           *rate.Limiter
	countRejected bool
}

func newBucket(perSecond float64, burst int, countRejected bool) *bucket {
	return &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), burst), countRejected: countRejected}
}

func (b *bucket) admit(now time.Time) usage {
	r := b.lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d > 0 && !b.countRejected {
		r.CancelAt(now)
	}
	tokens := b.lim.TokensAt(now)
	full := time.Duration((float64(b.lim.Burst()) - tokens) / float64(b.lim.Limit()) * float64(time.Second))
	return usage{admitted: d <= 0, retryAfter: d, remaining: max(0, int(math.Floor(tokens))), reset: full}
}

// fixedWindow counts requests in clock-aligned windows. A rejected request
// changes nothing (see Limit.CountRejected), so it is never counted.
type fixedWindow struct {
	n     int
	w     time.Duration
	start time.Time
	count int
}

func (f *fixedWindow) admit(now time.Time) usage {
	if start := now.Truncate(f.w); !start.Equal(f.start) {
		f.start, f.count = start, 0
	}
	end := f.start.Add(f.w).Sub(now)
	if f.count >= f.n {
		return usage{retryAfter: end, reset: end}
	}
	f.count++
	return usage{admitted: true, remaining: f.n - f.count, reset: end}
}

// slidingWindow keeps the times of the last n counted requests, oldest
// first: a request is admitted when the oldest left the window.
type slidingWindow struct {
	n             int
	w             time.Duration
	countRejected bool
	hits          []time.Time
}

func (s *slidingWindow) admit(now time.Time) usage {
	for len(s.hits) > 0 && !now.Before(s.hits[0].Add(s.w)) {
		s.hits = s.hits[1:]
	}
	admitted := len(s.hits) < s.n
	if admitted || s.countRejected {
		s.hits = append(s.hits, now)
		if len(s.hits) > s.n {
			s.hits = s.hits[1:]
		}
	}
	u := usage{admitted: admitted, remaining: s.n - len(s.hits)}
	if len(s.hits) > 0 {
		u.reset = s.hits[len(s.hits)-1].Add(s.w).Sub(now)
		if !admitted {
			u.retryAfter = s.hits[0].Add(s.w).Sub(now)
		}
	}
	return u
}

// inFlight caps concurrent requests.
type inFlight struct {
	mu  sync.Mutex
	n   int
	cur int
}

// acquire takes a slot and returns its release, or nil when none is free.
func (c *inFlight) acquire() func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur >= c.n {
		return nil
	}
	c.cur++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.cur--
			c.mu.Unlock()
		})
	}
}

// writeHeaders adds l's rate-limit fields for u to h, and Retry-After when
// u was rejected. Seconds are rounded up, so a client that waits them is
// past the reset.
func (l Limit) writeHeaders(h http.Header, u usage, now time.Time) {
	if h == nil {
		return
	}
	if !u.admitted && !l.NoRetryAfter {
		h.Set("Retry-After", RetryAfterSeconds(u.retryAfter))
	}
	if l.Shape == Concurrency {
		// The fields describe a quota over a window, which a concurrency
		// cap has not; CleverTap sends none.
		return
	}
	reset := ceilSeconds(u.reset)
	switch l.XRateLimit {
	case XRateLimitSeconds:
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	case XRateLimitEpoch:
		h.Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(u.reset).Add(time.Second-1).Unix(), 10))
	}
	if l.XRateLimit != XRateLimitOff {
		h.Set("X-RateLimit-Limit", strconv.Itoa(l.N))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(u.remaining))
	}
	if l.IETF {
		h.Set("RateLimit-Policy", strconv.Quote(PolicyName)+";q="+strconv.Itoa(l.N)+";w="+strconv.FormatInt(ceilSeconds(l.Window), 10))
		h.Set("RateLimit", strconv.Quote(PolicyName)+";r="+strconv.Itoa(u.remaining)+";t="+strconv.FormatInt(reset, 10))
	}
}

// ceilSeconds is d in whole seconds, rounded up, at least 0.
func ceilSeconds(d time.Duration) int64 {
	return max(0, int64(math.Ceil(d.Seconds())))
}
